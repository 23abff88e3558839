//! The transform: a plain function from source changes and the id map to target writes.
//! No I/O and no clock: the caller passes the time used for new codes and missing
//! timestamps, so the same input always gives the same output.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime};

use crate::decode::{Kind, copied_columns, parse_time};
use crate::event::{Change, CopiedRow, SourceDefinition, SourceRow, SourceSchedule, SourceTable};
use crate::idmap::{DefinitionEntry, IdMap, ProjectEntry, ScheduleEntry, TaskEntry, TenantEntry};
use crate::rows::{self, DefinitionRow, key};
use crate::split::{SplitWorkflow, content_hash, split};
use crate::workflow13::{Workflow13, parse_workflow};
use crate::write::{Batch, DeadLetter, SqlValue, Write};

/// Which projects to migrate: all, or those named (a canary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub projects: Option<BTreeSet<String>>,
}

impl Scope {
    pub fn all() -> Scope {
        Scope { projects: None }
    }

    pub fn projects<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Scope {
        Scope {
            projects: Some(names.into_iter().map(Into::into).collect()),
        }
    }

    pub fn admits(&self, project_name: &str) -> bool {
        self.projects
            .as_ref()
            .is_none_or(|p| p.contains(project_name))
    }
}

/// The tenant code 3.2 uses for 1.3's tenant -1.
pub const DEFAULT_TENANT: &str = "default";

/// Converts `changes` (in source commit order) into target writes, updating `map`.
pub fn transform(map: &mut IdMap, scope: &Scope, changes: &[Change], now_ms: i64) -> Batch {
    transform_parsed(map, scope, changes, Vec::new(), now_ms)
}

/// The workflow JSON of every definition upsert in `changes`, parsed (by change index;
/// `None` for other changes). Pure and independent of the id map, so a snapshot parses the
/// next chunk on another thread while the transform converts this one.
pub type Parsed = Vec<Option<Result<Workflow13, String>>>;

/// See `Parsed`.
pub fn parse_definitions(changes: &[Change]) -> Parsed {
    changes
        .iter()
        .map(|change| match change {
            Change::Upsert(SourceRow::Definition(row)) => {
                Some(parse_workflow(row.process_definition_json.as_deref()))
            }
            _ => None,
        })
        .collect()
}

/// `transform` with the workflows `parse_definitions(changes)` returned (what is missing
/// from `parsed` is parsed here): the same batch and the same map as `transform`.
pub fn transform_parsed(
    map: &mut IdMap,
    scope: &Scope,
    changes: &[Change],
    mut parsed: Parsed,
    now_ms: i64,
) -> Batch {
    let now = DateTime::from_timestamp_millis(now_ms).map_or(NaiveDateTime::MIN, |t| t.naive_utc());
    let mut batch = Batch::default();
    let mut parsed = reserve_with(map, scope, changes, now_ms, |i, row| {
        parsed
            .get_mut(i)
            .and_then(Option::take)
            .unwrap_or_else(|| parse_workflow(row.process_definition_json.as_deref()))
    });
    for (change, parsed) in changes.iter().zip(&mut parsed) {
        let table = change.table();
        let id = change.id();
        let result = match change {
            Change::Upsert(SourceRow::Tenant(row)) => {
                upsert_tenant(map, row, now, &mut batch);
                Ok(())
            }
            Change::Upsert(SourceRow::Project(row)) => {
                upsert_project(map, scope, row, now_ms, now, &mut batch);
                Ok(())
            }
            Change::Upsert(SourceRow::Definition(row)) => {
                upsert_definition(map, scope, row, parsed.take(), now_ms, now, &mut batch)
            }
            Change::Upsert(SourceRow::Schedule(row)) => {
                upsert_schedule(map, scope, row, &mut batch)
            }
            Change::Upsert(
                SourceRow::User(row) | SourceRow::DataSource(row) | SourceRow::Resource(row),
            ) => copy_row(table, row, &mut batch),
            Change::Delete { .. } => {
                delete(map, table, id, &mut batch);
                Ok(())
            }
        };
        match result {
            Ok(()) => batch.resolved.push((table, id)),
            Err(reason) => batch.dead_letters.push(DeadLetter { table, id, reason }),
        }
    }
    batch
}

/// Gives every project and definition (and its tasks) of the batch a code before any is
/// converted, so references between definitions of one batch resolve in any order. A
/// snapshot calls it for all its rows before transforming them chunk by chunk.
pub fn reserve(map: &mut IdMap, scope: &Scope, changes: &[Change], now_ms: i64) {
    // Parsing is the cost and is pure: each block's workflows are parsed on all cores,
    // keeping only the task ids and names; codes are then given in change order.
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    for block in changes.chunks(RESERVE_BLOCK) {
        let mut names = parse_task_names(map, block, threads.min(RESERVE_THREADS));
        reserve_with(map, scope, block, now_ms, |i, row| {
            names.get_mut(i).and_then(Option::take).unwrap_or_else(|| {
                parse_workflow(row.process_definition_json.as_deref()).map(|w| task_names(&w))
            })
        });
    }
}

/// `reserve` on one thread, parsing every workflow whole as it goes (the reference the
/// parallel `reserve` is tested against).
#[cfg(test)]
pub(crate) fn reserve_sequentially(
    map: &mut IdMap,
    scope: &Scope,
    changes: &[Change],
    now_ms: i64,
) {
    reserve_with(map, scope, changes, now_ms, |_, row| {
        parse_workflow(row.process_definition_json.as_deref())
    });
}

/// Changes whose workflows `reserve` parses together.
const RESERVE_BLOCK: usize = 4_096;
/// Most threads `reserve` parses on.
const RESERVE_THREADS: usize = 4;

/// What a reservation needs of a workflow: (task id, task name) in task order.
type TaskNames = Vec<(String, String)>;

fn task_names(workflow: &Workflow13) -> TaskNames {
    workflow
        .tasks
        .iter()
        .map(|t| (t.id.clone(), t.name.clone()))
        .collect()
}

/// The task names of the definitions in `block` that `reserve_with` may reserve (those of a
/// project known now or upserted in the block), parsed on `threads` threads; `None` for the
/// others (`reserve_with` parses any it still needs).
fn parse_task_names(
    map: &IdMap,
    block: &[Change],
    threads: usize,
) -> Vec<Option<Result<TaskNames, String>>> {
    let upserted: BTreeSet<i64> = block
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(SourceRow::Project(p)) => Some(p.id),
            _ => None,
        })
        .collect();
    let parse = |change: &Change| match change {
        Change::Upsert(SourceRow::Definition(row))
            if map.projects.contains_key(&row.project_id) || upserted.contains(&row.project_id) =>
        {
            Some(parse_workflow(row.process_definition_json.as_deref()).map(|w| task_names(&w)))
        }
        _ => None,
    };
    if threads < 2 || block.len() < 64 {
        return block.iter().map(parse).collect();
    }
    let per_thread = block.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = block
            .chunks(per_thread)
            .map(|part| s.spawn(move || part.iter().map(parse).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(block.len());
        for (part, handle) in block.chunks(per_thread).zip(parts) {
            match handle.join() {
                Ok(names) => out.extend(names),
                // A panicking parse thread: `reserve_with` parses that part itself.
                Err(_) => out.extend(part.iter().map(|_| None)),
            }
        }
        out
    })
}

/// Where a reservation reads a workflow's task ids and names from.
trait TaskIds {
    fn each_task(&self, f: &mut dyn FnMut(&str, &str));
}

impl TaskIds for Workflow13 {
    fn each_task(&self, f: &mut dyn FnMut(&str, &str)) {
        for task in &self.tasks {
            f(&task.id, &task.name);
        }
    }
}

impl TaskIds for TaskNames {
    fn each_task(&self, f: &mut dyn FnMut(&str, &str)) {
        for (id, name) in self {
            f(id, name);
        }
    }
}

/// `reserve`, returning the workflows it used (by change index) for the transform to reuse;
/// `parse(i, row)` gives the workflow of change `i`.
fn reserve_with<W: TaskIds>(
    map: &mut IdMap,
    scope: &Scope,
    changes: &[Change],
    now_ms: i64,
    mut parse: impl FnMut(usize, &SourceDefinition) -> Result<W, String>,
) -> Vec<Option<Result<W, String>>> {
    let mut parsed = Vec::with_capacity(changes.len());
    for (i, change) in changes.iter().enumerate() {
        let mut workflow = None;
        match change {
            Change::Upsert(SourceRow::Project(row))
                if (scope.admits(&row.name) || map.projects.contains_key(&row.id))
                    && !map.projects.contains_key(&row.id) =>
            {
                let code = map.codes.next(now_ms);
                map.projects.insert(
                    row.id,
                    ProjectEntry {
                        code,
                        name: row.name.clone(),
                    },
                );
                map.touch(SourceTable::Project, row.id);
            }
            Change::Upsert(SourceRow::Definition(row))
                if map.projects.contains_key(&row.project_id) =>
            {
                let result = parse(i, row);
                if let Ok(workflow) = &result {
                    reserve_codes(map, row, workflow, now_ms);
                }
                workflow = Some(result);
            }
            _ => {}
        }
        parsed.push(workflow);
    }
    parsed
}

/// Ensures the definition and each of its tasks has a code; names follow the newest JSON.
fn reserve_codes(map: &mut IdMap, row: &SourceDefinition, workflow: &dyn TaskIds, now_ms: i64) {
    if !map.definitions.contains_key(&row.id) {
        let code = map.codes.next(now_ms);
        let entry = DefinitionEntry {
            code,
            project_id: row.project_id,
            name: row.name.clone(),
            version: 0,
            hash: String::new(),
            tenant_code: String::new(),
            tasks: BTreeMap::new(),
        };
        map.definitions.insert(row.id, entry);
    }
    let codes = &mut map.codes;
    let entry = map.definitions.get_mut(&row.id).expect("inserted above");
    workflow.each_task(&mut |id, name| match entry.tasks.get_mut(id) {
        Some(known) => {
            if known.name != name {
                name.clone_into(&mut known.name);
            }
        }
        None => {
            let code = codes.next(now_ms);
            entry.tasks.insert(
                id.to_owned(),
                TaskEntry {
                    code,
                    name: name.to_owned(),
                    version: 0,
                    hash: String::new(),
                },
            );
        }
    });
    map.touch(SourceTable::Definition, row.id);
}

fn upsert_tenant(
    map: &mut IdMap,
    row: &crate::event::SourceTenant,
    now: NaiveDateTime,
    batch: &mut Batch,
) {
    let old = map.tenants.insert(
        row.id,
        TenantEntry {
            tenant_code: row.tenant_code.clone(),
        },
    );
    map.touch(SourceTable::Tenant, row.id);
    if let Some(old) = &old {
        batch.writes.push(Write::Delete {
            table: rows::TENANT,
            key: key("tenant_code", old.tenant_code.as_str()),
        });
        if old.tenant_code != row.tenant_code {
            batch.writes.push(Write::Update {
                table: rows::SCHEDULE,
                set: key("tenant_code", row.tenant_code.as_str()),
                key: key("tenant_code", old.tenant_code.as_str()),
            });
        }
    }
    batch.writes.push(rows::tenant(row, now));
}

fn upsert_project(
    map: &mut IdMap,
    scope: &Scope,
    row: &crate::event::SourceProject,
    now_ms: i64,
    now: NaiveDateTime,
    batch: &mut Batch,
) {
    let code = match map.projects.get(&row.id) {
        Some(entry) => entry.code,
        None if scope.admits(&row.name) => map.codes.next(now_ms),
        None => return,
    };
    map.projects.insert(
        row.id,
        ProjectEntry {
            code,
            name: row.name.clone(),
        },
    );
    map.touch(SourceTable::Project, row.id);
    batch.writes.push(Write::Delete {
        table: rows::PROJECT,
        key: key("code", code),
    });
    batch.writes.push(rows::project(row, code, now));
}

/// `parsed`: the row's workflow if `reserve_with` parsed it already.
fn upsert_definition(
    map: &mut IdMap,
    scope: &Scope,
    row: &SourceDefinition,
    parsed: Option<Result<Workflow13, String>>,
    now_ms: i64,
    now: NaiveDateTime,
    batch: &mut Batch,
) -> Result<(), String> {
    let Some(project_code) = map.projects.get(&row.project_id).map(|p| p.code) else {
        if scope.projects.is_some() {
            return Ok(());
        }
        return Err(format!(
            "refers to project {}, which is missing",
            row.project_id
        ));
    };
    let workflow =
        parsed.unwrap_or_else(|| parse_workflow(row.process_definition_json.as_deref()))?;
    let tenant_code = match row.tenant_id {
        -1 => DEFAULT_TENANT.to_owned(),
        id => map
            .tenants
            .get(&id)
            .map(|t| t.tenant_code.clone())
            .ok_or_else(|| format!("refers to tenant {id}, which is missing"))?,
    };
    reserve_codes(map, row, &workflow, now_ms);
    let entry = map.definitions.get(&row.id).expect("reserved above");
    let split = split(workflow, entry, map, row.locations.as_deref())?;
    let hash = content_hash(&(
        row.name.as_str(),
        &row.description,
        row.release_state,
        row.user_id,
        row.flag,
        project_code,
        &tenant_code,
        &split,
    ));
    if entry.version > 0 && entry.hash == hash {
        return Ok(());
    }
    let old_project_code = map.projects.get(&entry.project_id).map(|p| p.code);
    let next = write_definition(
        row,
        entry,
        project_code,
        old_project_code,
        split,
        now,
        batch,
    );
    if entry.version > 0 && entry.tenant_code != tenant_code {
        batch.writes.push(Write::Update {
            table: rows::SCHEDULE,
            set: key("tenant_code", tenant_code.as_str()),
            key: key("process_definition_code", entry.code),
        });
    }
    let updated = DefinitionEntry {
        project_id: row.project_id,
        name: row.name.clone(),
        version: entry.version + 1,
        hash,
        tenant_code,
        tasks: next,
        code: entry.code,
    };
    map.definitions.insert(row.id, updated);
    map.touch(SourceTable::Definition, row.id);
    Ok(())
}

/// The key of a definition's relation rows: with the project code when it is known, so that
/// 3.2's `(project_code, process_definition_code)` index finds them.
fn relation_key(project_code: Option<i64>, definition_code: i64) -> Vec<(&'static str, SqlValue)> {
    let mut key = Vec::with_capacity(2);
    if let Some(project_code) = project_code {
        key.push(("project_code", SqlValue::Int(project_code)));
    }
    key.push(("process_definition_code", SqlValue::Int(definition_code)));
    key
}

/// The key of a definition's current row: with its project code and name when the project
/// is known, so that 3.2's unique `(name, project_code)` index finds it (MySQL's 3.2 schema
/// has no index that starts with `code`).
fn definition_key(
    project_code: Option<i64>,
    name: &str,
    code: i64,
) -> Vec<(&'static str, SqlValue)> {
    match project_code {
        Some(project_code) => vec![
            ("project_code", SqlValue::Int(project_code)),
            ("name", SqlValue::Text(name.into())),
            ("code", SqlValue::Int(code)),
        ],
        None => key("code", code),
    }
}

/// Writes the next version of a definition; returns the task entries of that version.
/// `old_project_code` is the code of the project the previous version was in.
fn write_definition(
    row: &SourceDefinition,
    entry: &DefinitionEntry,
    project_code: i64,
    old_project_code: Option<i64>,
    split: SplitWorkflow,
    now: NaiveDateTime,
    batch: &mut Batch,
) -> BTreeMap<String, TaskEntry> {
    let version = entry.version + 1;
    let SplitWorkflow {
        global_params,
        timeout,
        locations,
        tasks,
        edges,
    } = split;
    let def = DefinitionRow {
        source: row,
        code: entry.code,
        project_code,
        version,
        global_params: &global_params,
        locations: locations.as_deref(),
        timeout,
        now,
    };
    let mut next = BTreeMap::new();
    // The task contents move into their rows.
    for (task_id, code, content) in tasks {
        let code = &code;
        let previous = entry.tasks.get(&task_id).filter(|t| t.version > 0);
        let hash = content.hash();
        let task_version = match previous {
            Some(p) if p.hash == hash => p.version,
            Some(p) => p.version + 1,
            None => 1,
        };
        let name = content.name.clone();
        if previous.is_none_or(|p| p.hash != hash) {
            // A task never written has no row to replace (skipping the delete keeps a
            // snapshot linear: `code` is not indexed in 3.2's task table).
            if previous.is_some() {
                batch.writes.push(Write::Delete {
                    table: rows::TASK,
                    key: key("code", *code),
                });
            }
            batch
                .writes
                .extend(def.task_writes(*code, task_version, content));
        }
        next.insert(
            task_id,
            TaskEntry {
                code: *code,
                name,
                version: task_version,
                hash,
            },
        );
    }
    for (task_id, task) in &entry.tasks {
        if task.version > 0 && !next.contains_key(task_id) {
            batch.writes.push(Write::Delete {
                table: rows::TASK,
                key: key("code", task.code),
            });
        }
    }
    if entry.version > 0 {
        batch.writes.push(Write::Delete {
            table: rows::DEFINITION,
            key: definition_key(old_project_code, &entry.name, entry.code),
        });
    }
    batch.writes.extend(def.writes());
    if entry.version > 0 {
        batch.writes.push(Write::Delete {
            table: rows::RELATION,
            key: relation_key(old_project_code, entry.code),
        });
    }
    let versioned = |id: &str| next.get(id).map_or((0, 0), |t| (t.code, t.version));
    for (pre, post) in &edges {
        let pre = pre.as_deref().map_or((0, 0), versioned);
        batch
            .writes
            .extend(def.relation_writes(pre, versioned(post)));
    }
    next
}

fn upsert_schedule(
    map: &mut IdMap,
    scope: &Scope,
    row: &SourceSchedule,
    batch: &mut Batch,
) -> Result<(), String> {
    let Some(definition) = map
        .definitions
        .get(&row.process_definition_id)
        .filter(|d| d.version > 0)
    else {
        if scope.projects.is_some() && !map.definitions.contains_key(&row.process_definition_id) {
            return Ok(());
        }
        return Err(format!(
            "refers to definition {}, which is not migrated",
            row.process_definition_id
        ));
    };
    let (code, tenant) = (definition.code, definition.tenant_code.clone());
    if let Some(old) = map.schedules.get(&row.id)
        && let Some(old_def) = map.definitions.get(&old.definition_id)
    {
        batch.writes.push(Write::Delete {
            table: rows::SCHEDULE,
            key: key("process_definition_code", old_def.code),
        });
    }
    batch.writes.push(Write::Delete {
        table: rows::SCHEDULE,
        key: key("process_definition_code", code),
    });
    batch.writes.push(rows::schedule(row, code, &tenant));
    map.schedules.insert(
        row.id,
        ScheduleEntry {
            definition_id: row.process_definition_id,
        },
    );
    map.touch(SourceTable::Schedule, row.id);
    Ok(())
}

/// Replaces the 3.2 row of a copied table (same id, same columns; see `CopiedRow`). A
/// reason never quotes a value (they may be secrets).
fn copy_row(table: SourceTable, row: &CopiedRow, batch: &mut Batch) -> Result<(), String> {
    let mut columns = Vec::with_capacity(row.values.len());
    for ((name, kind), value) in copied_columns(table).iter().zip(&row.values) {
        let value = match (kind, value.as_deref().map(str::trim)) {
            (_, None) => SqlValue::Null,
            (Kind::Int, Some(v)) => SqlValue::Int(
                v.parse()
                    .map_err(|_| format!("{}.{name} is not an integer", table.name()))?,
            ),
            (Kind::Time, Some(v)) => SqlValue::Time(
                parse_time(v)
                    .ok_or_else(|| format!("{}.{name} is not a timestamp", table.name()))?,
            ),
            (Kind::Bool, Some(v)) => SqlValue::Bool(!matches!(v, "" | "0" | "f" | "false")),
            (Kind::Text, Some(_)) => value.as_deref().unwrap_or_default().into(),
        };
        columns.push((*name, value));
    }
    batch.writes.push(Write::Delete {
        table: table.name(),
        key: key("id", row.id),
    });
    batch.writes.push(Write::Insert {
        table: table.name(),
        row: columns,
    });
    Ok(())
}

fn delete(map: &mut IdMap, table: SourceTable, id: i64, batch: &mut Batch) {
    if table.is_copied() {
        batch.writes.push(Write::Delete {
            table: table.name(),
            key: key("id", id),
        });
        return;
    }
    map.touch(table, id);
    match table {
        SourceTable::User | SourceTable::DataSource | SourceTable::Resource => {}
        SourceTable::Tenant => {
            if let Some(old) = map.tenants.remove(&id) {
                batch.writes.push(Write::Delete {
                    table: rows::TENANT,
                    key: key("tenant_code", old.tenant_code.as_str()),
                });
            }
        }
        SourceTable::Project => {
            if let Some(old) = map.projects.remove(&id) {
                batch.writes.push(Write::Delete {
                    table: rows::PROJECT,
                    key: key("code", old.code),
                });
            }
        }
        SourceTable::Definition => {
            if let Some(old) = map.definitions.remove(&id) {
                let code = || SqlValue::Int(old.code);
                // Log rows of earlier versions may be in earlier projects: no project code.
                let project_code = map.projects.get(&old.project_id).map(|p| p.code);
                if old.version > 0 {
                    batch.writes.push(Write::Delete {
                        table: rows::DEFINITION,
                        key: definition_key(project_code, &old.name, old.code),
                    });
                }
                batch.writes.push(Write::Delete {
                    table: rows::DEFINITION_LOG,
                    key: vec![("code", code())],
                });
                batch.writes.push(Write::Delete {
                    table: rows::RELATION,
                    key: relation_key(project_code, old.code),
                });
                for table in [rows::RELATION_LOG, rows::SCHEDULE] {
                    batch.writes.push(Write::Delete {
                        table,
                        key: vec![("process_definition_code", code())],
                    });
                }
                for task in old.tasks.values() {
                    for table in [rows::TASK, rows::TASK_LOG] {
                        batch.writes.push(Write::Delete {
                            table,
                            key: key("code", task.code),
                        });
                    }
                }
                map.schedules.retain(|_, s| s.definition_id != id);
            }
        }
        SourceTable::Schedule => {
            if let Some(old) = map.schedules.remove(&id)
                && let Some(def) = map.definitions.get(&old.definition_id)
            {
                batch.writes.push(Write::Delete {
                    table: rows::SCHEDULE,
                    key: key("process_definition_code", def.code),
                });
            }
        }
    }
}
