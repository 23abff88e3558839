//! Cutover of one project: offline its schedules in the source, wait until the migration
//! has applied everything, verify, online them in the target. Reversible with `revert`
//! until the source is retired: the schedules that were online are remembered in the
//! target (`changeover_cutover`).
//!
//! Schedules of running schedulers are switched through their APIs ([`Switch::Api`], see
//! [`crate::dsapi`] for why rows are not enough); [`Switch::Rows`] updates the rows alone,
//! for rehearsals on copies where neither scheduler runs. A switch that fails part-way
//! undoes what it did, so the project is never left scheduled in neither system or in both.

use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};

use crate::dsapi::DsApi;
use crate::engine::Engine;
use crate::error::{MigrateError, db};
use crate::migration::source_position;
use crate::position::Position;
use crate::target::Target;
use crate::verify::verify;

/// How a cutover switches schedules.
#[derive(Debug, Clone)]
pub enum Switch {
    /// Through the 1.3 source's and the 3.2 target's APIs: what running schedulers need.
    Api {
        source: Box<DsApi>,
        target: Box<DsApi>,
    },
    /// By updating `t_ds_schedules` rows only: for when neither scheduler runs (a running
    /// 1.3 keeps firing an offlined schedule, a running 3.2 makes no trigger for it).
    Rows,
}

/// What a cutover did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutoverReport {
    pub project: String,
    /// Source schedule ids that were online and are now offline in the source.
    pub source_schedules: Vec<i64>,
    /// Target definition codes whose schedules are now online in the target.
    pub target_definitions: Vec<i64>,
}

/// A target schedule: its id, its definition's code and its project's code.
#[derive(Debug, Clone, Copy)]
struct TargetSchedule {
    id: i64,
    definition_code: i64,
    project_code: i64,
}

/// The source side of a switch.
async fn switch_source(
    switch: &Switch,
    conn: &mut AnyConnection,
    engine: Engine,
    project: &str,
    id: i64,
    online: bool,
) -> Result<(), MigrateError> {
    match switch {
        Switch::Api { source, .. } => source.switch_13(project, id, online).await,
        Switch::Rows => {
            let sql = format!(
                "UPDATE t_ds_schedules SET release_state = {} WHERE id = {}",
                i32::from(online),
                engine.placeholder(1)
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind(id)
                .execute(conn)
                .await
                .map_err(db("switching a source schedule"))?;
            Ok(())
        }
    }
}

/// The target side of a switch.
async fn switch_target(
    switch: &Switch,
    target: &Target,
    s: TargetSchedule,
    online: bool,
) -> Result<(), MigrateError> {
    match switch {
        Switch::Api { target: api, .. } => api.switch_32(s.project_code, s.id, online).await,
        Switch::Rows => {
            let sql = format!(
                "UPDATE t_ds_schedules SET release_state = {} WHERE id = {}",
                i32::from(online),
                target.engine().placeholder(1)
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind(s.id)
                .execute(target.pool())
                .await
                .map_err(db("switching a target schedule"))?;
            Ok(())
        }
    }
}

/// Switches the source schedules `ids` of `project`; if one fails, those already switched
/// are switched back and the error says so.
async fn switch_sources(
    switch: &Switch,
    source_url: &str,
    project: &str,
    ids: &[i64],
    online: bool,
) -> Result<(), MigrateError> {
    let (mut conn, engine) = source_conn(source_url).await?;
    for (n, id) in ids.iter().enumerate() {
        if let Err(e) = switch_source(switch, &mut conn, engine, project, *id, online).await {
            let mut undo_failed = Vec::new();
            for done in &ids[..n] {
                if switch_source(switch, &mut conn, engine, project, *done, !online)
                    .await
                    .is_err()
                {
                    undo_failed.push(*done);
                }
            }
            return Err(undone(e, "source", &undo_failed));
        }
    }
    conn.close()
        .await
        .map_err(db("closing the source connection"))?;
    Ok(())
}

/// Switches the target schedules; if one fails, those already switched go back.
async fn switch_targets(
    switch: &Switch,
    target: &Target,
    schedules: &[TargetSchedule],
    online: bool,
) -> Result<(), MigrateError> {
    for (n, s) in schedules.iter().enumerate() {
        if let Err(e) = switch_target(switch, target, *s, online).await {
            let mut undo_failed = Vec::new();
            for done in &schedules[..n] {
                if switch_target(switch, target, *done, !online).await.is_err() {
                    undo_failed.push(done.id);
                }
            }
            return Err(undone(e, "target", &undo_failed));
        }
    }
    Ok(())
}

/// An error's sentence without the `cutover:` lead, to be part of another cutover error.
fn reason(e: &MigrateError) -> String {
    match e {
        MigrateError::Cutover { reason } => reason.clone(),
        other => other.to_string(),
    }
}

/// The error of a failed switch, with what could not be switched back.
fn undone(e: MigrateError, side: &str, undo_failed: &[i64]) -> MigrateError {
    let back = if undo_failed.is_empty() {
        format!("the {side} schedules switched before it were switched back")
    } else {
        format!("switching back {side} schedules {undo_failed:?} failed too: check them by hand")
    };
    MigrateError::Cutover {
        reason: format!("{}; {back}", reason(&e)),
    }
}

async fn source_conn(url: &str) -> Result<(AnyConnection, Engine), MigrateError> {
    sqlx::any::install_default_drivers();
    let (engine, url) = Engine::of_url(url)?;
    let conn = AnyConnection::connect(&url)
        .await
        .map_err(db("connecting to the source"))?;
    Ok((conn, engine))
}

/// Waits until the committed position reaches the source's current position.
pub async fn wait_for_zero_lag(
    source_url: &str,
    target: &Target,
    timeout: Duration,
) -> Result<(), MigrateError> {
    let wanted = source_position(source_url).await?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(state) = target.load_state().await?
            && let Some(at) = Position::parse(&state.position)
            && at.reached(&wanted)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(MigrateError::State {
                reason: format!(
                    "the migration did not reach source position {wanted} in time; is `migrate start` running?"
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Cuts `project` over from the source to the target. If the target's schedules cannot
/// all be brought online, the source's go online again and the error says why.
pub async fn cutover(
    source_url: &str,
    target: &Target,
    project: &str,
    timeout: Duration,
    switch: &Switch,
) -> Result<CutoverReport, MigrateError> {
    let (mut conn, engine) = source_conn(source_url).await?;
    let p = |n| engine.placeholder(n);
    let select = format!(
        "SELECT {} FROM t_ds_schedules s JOIN t_ds_process_definition d ON d.id = s.process_definition_id JOIN t_ds_project p ON p.id = d.project_id WHERE p.name = {} AND s.release_state = 1",
        engine.int("s.id"),
        p(1)
    );
    let rows = sqlx::query(AssertSqlSafe(select))
        .bind(project)
        .fetch_all(&mut conn)
        .await
        .map_err(db("reading the project's schedules"))?;
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(db("reading the project's schedules"))?;
    conn.close()
        .await
        .map_err(db("closing the source connection"))?;
    let install = "CREATE TABLE IF NOT EXISTS changeover_cutover (project VARCHAR(255) PRIMARY KEY, source_schedules TEXT NOT NULL)";
    sqlx::query(install)
        .execute(target.pool())
        .await
        .map_err(db("creating changeover_cutover"))?;
    let te = target.engine();
    let sql = format!(
        "DELETE FROM changeover_cutover WHERE project = {}",
        te.placeholder(1)
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(project)
        .execute(target.pool())
        .await
        .map_err(db("recording the cutover"))?;
    let sql = format!(
        "INSERT INTO changeover_cutover (project, source_schedules) VALUES ({}, {})",
        te.placeholder(1),
        te.placeholder(2)
    );
    let list = serde_json::to_string(&ids).unwrap_or_default();
    sqlx::query(AssertSqlSafe(sql))
        .bind(project)
        .bind(list)
        .execute(target.pool())
        .await
        .map_err(db("recording the cutover"))?;
    switch_sources(switch, source_url, project, &ids, false).await?;
    wait_for_zero_lag(source_url, target, timeout).await?;
    let report = verify(source_url, target).await?;
    let prefix = format!("definition {project}/");
    let own: Vec<&String> = report
        .differences
        .iter()
        .filter(|d| d.starts_with(&prefix))
        .collect();
    if !own.is_empty() {
        return Err(MigrateError::Cutover {
            reason: format!(
                "project {project} does not verify ({} differences, first: {}); its source schedules stay offline, run `migrate cutover --revert`",
                own.len(),
                own[0]
            ),
        });
    }
    let schedules = target_schedules(target, &ids).await?;
    if let Err(e) = switch_targets(switch, target, &schedules, true).await {
        return Err(
            match switch_sources(switch, source_url, project, &ids, true).await {
                Ok(()) => MigrateError::Cutover {
                    reason: format!(
                        "{}; the project's source schedules are online again",
                        reason(&e)
                    ),
                },
                Err(back) => MigrateError::Cutover {
                    reason: format!(
                        "{}; bringing the source schedules online again failed too ({back}): the project is scheduled nowhere, run `migrate cutover --revert`",
                        reason(&e)
                    ),
                },
            },
        );
    }
    Ok(CutoverReport {
        project: project.to_owned(),
        source_schedules: ids,
        target_definitions: schedules.iter().map(|s| s.definition_code).collect(),
    })
}

/// The target schedules of the given source schedule ids: through the id map to the
/// definition's and project's codes, then the schedule row of that definition.
async fn target_schedules(
    target: &Target,
    schedule_ids: &[i64],
) -> Result<Vec<TargetSchedule>, MigrateError> {
    let map = target.load_map(0, 0).await?;
    let te = target.engine();
    let sql = format!(
        "SELECT {} FROM t_ds_schedules WHERE process_definition_code = {}",
        te.int("id"),
        te.placeholder(1)
    );
    let mut found = Vec::new();
    for id in schedule_ids {
        let Some(definition) = map
            .schedules
            .get(id)
            .and_then(|s| map.definitions.get(&s.definition_id))
        else {
            continue;
        };
        let Some(project) = map.projects.get(&definition.project_id) else {
            continue;
        };
        let row = sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(definition.code)
            .fetch_optional(target.pool())
            .await
            .map_err(db("reading a target schedule"))?;
        let Some(row) = row else {
            return Err(MigrateError::Cutover {
                reason: format!(
                    "source schedule {id} has no schedule in the target (definition code {})",
                    definition.code
                ),
            });
        };
        found.push(TargetSchedule {
            id: row.try_get(0).map_err(db("reading a target schedule"))?,
            definition_code: definition.code,
            project_code: project.code,
        });
    }
    Ok(found)
}

/// Undoes a cutover: the target's schedules of the project go offline, the source's
/// schedules that were online go online again.
pub async fn revert(
    source_url: &str,
    target: &Target,
    project: &str,
    switch: &Switch,
) -> Result<Vec<i64>, MigrateError> {
    let te = target.engine();
    let sql = format!(
        "SELECT source_schedules FROM changeover_cutover WHERE project = {}",
        te.placeholder(1)
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(project)
        .fetch_optional(target.pool())
        .await
        .map_err(db("reading the cutover record"))?;
    let Some(row) = row else {
        return Err(MigrateError::Cutover {
            reason: format!("project {project} was not cut over"),
        });
    };
    let list: String = row.try_get(0).map_err(db("reading the cutover record"))?;
    let ids: Vec<i64> = serde_json::from_str(&list).map_err(|e| MigrateError::State {
        reason: format!("cutover record of {project}: {e}"),
    })?;
    let schedules = target_schedules(target, &ids).await?;
    switch_targets(switch, target, &schedules, false).await?;
    if let Err(e) = switch_sources(switch, source_url, project, &ids, true).await {
        let back = switch_targets(switch, target, &schedules, true).await;
        return Err(MigrateError::Cutover {
            reason: format!(
                "{}; {}",
                reason(&e),
                if back.is_ok() {
                    "the target schedules are online again: the cutover stands"
                } else {
                    "bringing the target schedules online again failed too: the project is scheduled nowhere, run `migrate cutover --revert` again"
                }
            ),
        });
    }
    let sql = format!(
        "DELETE FROM changeover_cutover WHERE project = {}",
        te.placeholder(1)
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(project)
        .execute(target.pool())
        .await
        .map_err(db("removing the cutover record"))?;
    Ok(ids)
}
