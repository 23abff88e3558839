//! Cutover of one project: offline its schedules in the source, wait until the migration
//! has applied everything, verify, online them in the target. Reversible with `revert`
//! until the source is retired: the schedules that were online are remembered in the
//! target (`changeover_cutover`).
//!
//! Caveat: schedules are switched by updating the rows. DolphinScheduler 3.2 creates its
//! Quartz trigger only through its API, so after a cutover the operator (or the scheduler
//! adapter) must call `POST /projects/{code}/schedules/{id}/online` for each listed schedule.

use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};

use crate::engine::Engine;
use crate::error::{MigrateError, db};
use crate::migration::source_position;
use crate::position::Position;
use crate::target::Target;
use crate::verify::verify;

/// What a cutover did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutoverReport {
    pub project: String,
    /// Source schedule ids that were online and are now offline in the source.
    pub source_schedules: Vec<i64>,
    /// Target definition codes whose schedules are now online in the target.
    pub target_definitions: Vec<i64>,
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

/// Cuts `project` over from the source to the target.
pub async fn cutover(
    source_url: &str,
    target: &Target,
    project: &str,
    timeout: Duration,
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
    for id in &ids {
        let sql = format!(
            "UPDATE t_ds_schedules SET release_state = 0 WHERE id = {}",
            p(1)
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(*id)
            .execute(&mut conn)
            .await
            .map_err(db("taking a source schedule offline"))?;
    }
    conn.close()
        .await
        .map_err(db("closing the source connection"))?;
    wait_for_zero_lag(source_url, target, timeout).await?;
    let report = verify(source_url, target).await?;
    let prefix = format!("definition {project}/");
    let own: Vec<&String> = report
        .differences
        .iter()
        .filter(|d| d.starts_with(&prefix))
        .collect();
    if !own.is_empty() {
        return Err(MigrateError::State {
            reason: format!(
                "project {project} does not verify ({} differences, first: {}); its source schedules stay offline, run `migrate cutover --revert`",
                own.len(),
                own[0]
            ),
        });
    }
    let codes = target_codes(target, &ids).await?;
    for code in &codes {
        let sql = format!(
            "UPDATE t_ds_schedules SET release_state = 1 WHERE process_definition_code = {}",
            te.placeholder(1)
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(*code)
            .execute(target.pool())
            .await
            .map_err(db("bringing a target schedule online"))?;
    }
    Ok(CutoverReport {
        project: project.to_owned(),
        source_schedules: ids,
        target_definitions: codes,
    })
}

/// Target definition codes of the given source schedule ids, through the id map.
async fn target_codes(target: &Target, schedule_ids: &[i64]) -> Result<Vec<i64>, MigrateError> {
    let map = target.load_map(0, 0).await?;
    Ok(schedule_ids
        .iter()
        .filter_map(|id| map.schedules.get(id))
        .filter_map(|s| map.definitions.get(&s.definition_id))
        .map(|d| d.code)
        .collect())
}

/// Undoes a cutover: the target's schedules of the project go offline, the source's
/// schedules that were online go online again.
pub async fn revert(
    source_url: &str,
    target: &Target,
    project: &str,
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
        return Err(MigrateError::State {
            reason: format!("project {project} was not cut over"),
        });
    };
    let list: String = row.try_get(0).map_err(db("reading the cutover record"))?;
    let ids: Vec<i64> = serde_json::from_str(&list).map_err(|e| MigrateError::State {
        reason: format!("cutover record of {project}: {e}"),
    })?;
    for code in target_codes(target, &ids).await? {
        let sql = format!(
            "UPDATE t_ds_schedules SET release_state = 0 WHERE process_definition_code = {}",
            te.placeholder(1)
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(code)
            .execute(target.pool())
            .await
            .map_err(db("taking a target schedule offline"))?;
    }
    let (mut conn, engine) = source_conn(source_url).await?;
    for id in &ids {
        let sql = format!(
            "UPDATE t_ds_schedules SET release_state = 1 WHERE id = {}",
            engine.placeholder(1)
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(*id)
            .execute(&mut conn)
            .await
            .map_err(db("bringing a source schedule online"))?;
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
