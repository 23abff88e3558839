//! `migrate verify`: record counts per table and a canonical MD5 per workflow definition,
//! source against target, with every difference listed.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor, Row};

use crate::canonical::{
    DefinitionHeader, NameBook, TargetDefinition, canonical_md5, from_source, from_target,
};
use crate::decode::Fields;
use crate::engine::Engine;
use crate::error::{MigrateError, db};
use crate::event::{Change, SourceRow, SourceTable};
use crate::rows;
use crate::snapshot::read_tables;
use crate::split::TaskContent;
use crate::target::Target;
use crate::workflow13::parse_workflow;

/// One table's expected (from the source) and actual (in the target) row count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub source: usize,
    pub target: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub counts: Vec<TableCount>,
    /// (`project/definition`, MD5) of every definition compared.
    pub definitions: usize,
    pub differences: Vec<String>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

async fn select(
    conn: impl Executor<'_, Database = sqlx::Any>,
    engine: Engine,
    table: &str,
    columns: &[&str],
) -> Result<Vec<Fields>, MigrateError> {
    let list: Vec<String> = columns.iter().map(|c| engine.text(c)).collect();
    let sql = format!("SELECT {} FROM {table}", list.join(", "));
    let rows = sqlx::query(AssertSqlSafe(sql))
        .fetch_all(conn)
        .await
        .map_err(db(format!("reading {table}")))?;
    rows.iter()
        .map(|row| {
            let mut fields = Fields::new();
            for (i, c) in columns.iter().enumerate() {
                let v: Option<String> =
                    row.try_get(i).map_err(db(format!("reading {table}.{c}")))?;
                fields.insert((*c).to_owned(), v);
            }
            Ok(fields)
        })
        .collect()
}

fn int(f: &Fields, c: &str) -> Option<i64> {
    f.get(c)
        .cloned()
        .flatten()
        .and_then(|v| v.trim().parse().ok())
}

fn text(f: &Fields, c: &str) -> Option<String> {
    f.get(c).cloned().flatten()
}

/// Compares the source database with the target.
pub async fn verify(source_url: &str, target: &Target) -> Result<VerifyReport, MigrateError> {
    sqlx::any::install_default_drivers();
    let (source_engine, url) = Engine::of_url(source_url)?;
    let mut conn = AnyConnection::connect(&url)
        .await
        .map_err(db("connecting to the source"))?;
    let changes = read_tables(&mut conn, source_engine).await?;
    let state = target.load_state().await?;
    let scope: Option<BTreeSet<String>> = state
        .and_then(|s| s.projects)
        .map(|p| p.into_iter().collect());
    let dead: BTreeSet<(SourceTable, i64)> = target
        .dead_letters()
        .await?
        .into_iter()
        .map(|d| (d.table, d.id))
        .collect();

    // Copied tables (users, data sources, resources): every row by id.
    let mut copied: BTreeMap<SourceTable, BTreeSet<i64>> = BTreeMap::new();
    for change in &changes {
        let table = change.table();
        if table.is_copied() && !dead.contains(&(table, change.id())) {
            copied.entry(table).or_default().insert(change.id());
        }
    }

    let mut names = NameBook::default();
    let mut definitions = Vec::new();
    let mut schedules = Vec::new();
    for change in &changes {
        match change {
            Change::Upsert(SourceRow::Project(p)) => {
                names.projects.insert(p.id, p.name.clone());
            }
            Change::Upsert(SourceRow::Definition(d)) => definitions.push(d),
            Change::Upsert(SourceRow::Schedule(s)) => schedules.push(s),
            _ => {}
        }
    }
    for d in &definitions {
        let project = names
            .projects
            .get(&d.project_id)
            .cloned()
            .unwrap_or_default();
        names
            .definitions
            .insert(d.id, format!("{project}/{}", d.name));
    }
    let in_scope = |project: &str| scope.as_ref().is_none_or(|s| s.contains(project));
    let mut report = VerifyReport::default();
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    let (mut tasks, mut relations) = (0, 0);
    let mut migrated = BTreeSet::new();
    for d in &definitions {
        let Some(project) = names.projects.get(&d.project_id).filter(|p| in_scope(p)) else {
            continue;
        };
        if dead.contains(&(SourceTable::Definition, d.id)) {
            continue;
        }
        let key = names.definitions[&d.id].clone();
        match parse_workflow(d.process_definition_json.as_deref()).and_then(|w| {
            tasks += w.tasks.len();
            relations += w
                .tasks
                .iter()
                .map(|t| t.pre_tasks.len().max(1))
                .sum::<usize>();
            from_source(d, project, &w, &names)
        }) {
            Ok(form) => {
                expected.insert(key, canonical_md5(&form));
                migrated.insert(d.id);
            }
            Err(reason) => report.differences.push(format!(
                "definition {key}: not convertible and not in the dead letters: {reason}"
            )),
        }
    }
    let projects = names.projects.values().filter(|p| in_scope(p)).count();
    let schedule_count = schedules
        .iter()
        .filter(|s| migrated.contains(&s.process_definition_id))
        .count();

    let engine = target.engine();
    let pool = target.pool();
    let t_projects = select(pool, engine, rows::PROJECT, &["code", "name"]).await?;
    let t_defs = select(
        pool,
        engine,
        rows::DEFINITION,
        &[
            "code",
            "name",
            "project_code",
            "description",
            "release_state",
            "flag",
            "timeout",
            "global_params",
            "locations",
        ],
    )
    .await?;
    let task_columns = [
        "code",
        "name",
        "task_type",
        "description",
        "flag",
        "fail_retry_times",
        "fail_retry_interval",
        "task_priority",
        "worker_group",
        "timeout_flag",
        "timeout_notify_strategy",
        "timeout",
        "delay_time",
        "resource_ids",
        "task_params",
    ];
    let t_tasks = select(pool, engine, rows::TASK, &task_columns).await?;
    let t_relations = select(
        pool,
        engine,
        rows::RELATION,
        &["process_definition_code", "pre_task_code", "post_task_code"],
    )
    .await?;
    let t_schedules = select(pool, engine, rows::SCHEDULE, &["id"]).await?;

    let mut target_names = NameBook::default();
    for p in &t_projects {
        target_names.projects.insert(
            int(p, "code").unwrap_or_default(),
            text(p, "name").unwrap_or_default(),
        );
    }
    for d in &t_defs {
        let project = target_names
            .projects
            .get(&int(d, "project_code").unwrap_or_default())
            .cloned()
            .unwrap_or_default();
        target_names.definitions.insert(
            int(d, "code").unwrap_or_default(),
            format!("{project}/{}", text(d, "name").unwrap_or_default()),
        );
    }
    let mut task_by_code = BTreeMap::new();
    for t in &t_tasks {
        let code = int(t, "code").unwrap_or_default();
        target_names
            .tasks
            .insert(code, text(t, "name").unwrap_or_default());
        task_by_code.insert(code, task_content(t));
    }
    let mut relations_by_def: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
    for r in &t_relations {
        relations_by_def
            .entry(int(r, "process_definition_code").unwrap_or_default())
            .or_default()
            .push((
                int(r, "pre_task_code").unwrap_or(0),
                int(r, "post_task_code").unwrap_or(0),
            ));
    }
    let mut actual: BTreeMap<String, String> = BTreeMap::new();
    for d in &t_defs {
        let code = int(d, "code").unwrap_or_default();
        let relations = relations_by_def.remove(&code).unwrap_or_default();
        let mut codes: Vec<i64> = relations
            .iter()
            .flat_map(|(a, b)| [*a, *b])
            .filter(|c| *c != 0)
            .collect();
        codes.sort_unstable();
        codes.dedup();
        let def = TargetDefinition {
            header: DefinitionHeader {
                project: target_names
                    .projects
                    .get(&int(d, "project_code").unwrap_or_default())
                    .cloned()
                    .unwrap_or_default(),
                name: text(d, "name").unwrap_or_default(),
                description: text(d, "description"),
                release_state: int(d, "release_state"),
                flag: int(d, "flag"),
            },
            timeout: int(d, "timeout").unwrap_or(0),
            global_params: text(d, "global_params"),
            locations: text(d, "locations"),
            tasks: codes
                .iter()
                .filter_map(|c| task_by_code.get(c).map(|t| (*c, t.clone())))
                .collect(),
            relations,
        };
        actual.insert(
            target_names.definitions[&code].clone(),
            canonical_md5(&from_target(&def, &target_names)),
        );
    }
    for (key, md5) in &expected {
        match actual.get(key) {
            None => report
                .differences
                .push(format!("definition {key}: missing in the target")),
            Some(other) if other != md5 => report.differences.push(format!(
                "definition {key}: canonical MD5 differs (source {md5}, target {other})"
            )),
            Some(_) => {}
        }
    }
    for key in actual.keys().filter(|k| !expected.contains_key(*k)) {
        report.differences.push(format!(
            "definition {key}: in the target but not in the source"
        ));
    }
    report.definitions = expected.len();
    report.counts = vec![
        TableCount {
            table: rows::PROJECT,
            source: projects,
            target: t_projects.len(),
        },
        TableCount {
            table: rows::DEFINITION,
            source: expected.len(),
            target: t_defs.len(),
        },
        TableCount {
            table: rows::TASK,
            source: tasks,
            target: t_tasks.len(),
        },
        TableCount {
            table: rows::RELATION,
            source: relations,
            target: t_relations.len(),
        },
        TableCount {
            table: rows::SCHEDULE,
            source: schedule_count,
            target: t_schedules.len(),
        },
    ];
    for table in SourceTable::ALL.into_iter().filter(|t| t.is_copied()) {
        let expected = copied.remove(&table).unwrap_or_default();
        let actual: BTreeSet<i64> = select(pool, engine, table.name(), &["id"])
            .await?
            .iter()
            .filter_map(|r| int(r, "id"))
            .collect();
        let listed = |ids: Vec<&i64>| {
            let shown: Vec<String> = ids.iter().take(10).map(ToString::to_string).collect();
            let more = ids.len().saturating_sub(10);
            if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            }
        };
        let missing: Vec<&i64> = expected.difference(&actual).collect();
        if !missing.is_empty() {
            report.differences.push(format!(
                "{}: ids missing in the target: {}",
                table.name(),
                listed(missing)
            ));
        }
        let extra: Vec<&i64> = actual.difference(&expected).collect();
        if !extra.is_empty() {
            report.differences.push(format!(
                "{}: ids in the target but not in the source: {}",
                table.name(),
                listed(extra)
            ));
        }
        report.counts.push(TableCount {
            table: table.name(),
            source: expected.len(),
            target: actual.len(),
        });
    }
    for c in &report.counts {
        if c.source != c.target {
            report.differences.push(format!(
                "{}: {} rows expected from the source, {} in the target",
                c.table, c.source, c.target
            ));
        }
    }
    conn.close()
        .await
        .map_err(db("closing the source connection"))?;
    Ok(report)
}

fn task_content(t: &Fields) -> TaskContent {
    TaskContent {
        name: text(t, "name").unwrap_or_default(),
        task_type: text(t, "task_type").unwrap_or_default(),
        description: text(t, "description").unwrap_or_default(),
        flag: int(t, "flag").unwrap_or(0),
        fail_retry_times: int(t, "fail_retry_times").unwrap_or(0),
        fail_retry_interval: int(t, "fail_retry_interval").unwrap_or(0),
        task_priority: int(t, "task_priority").unwrap_or(2),
        worker_group: text(t, "worker_group").unwrap_or_default(),
        timeout_flag: int(t, "timeout_flag").unwrap_or(0),
        timeout_notify_strategy: int(t, "timeout_notify_strategy"),
        timeout: int(t, "timeout").unwrap_or(0),
        delay_time: int(t, "delay_time").unwrap_or(0),
        resource_ids: text(t, "resource_ids").unwrap_or_default(),
        task_params: text(t, "task_params").unwrap_or_default(),
    }
}
