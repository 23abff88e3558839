//! The running migrator's control and figures, kept in the target
//! (`changeover_migration_runtime`, one row): its pid, a stop flag that `migrate stop` sets and
//! the migrator polls between batches, and the progress it records about once a second
//! (snapshot rows per table, stream lag, events/s) for `migrate status`.
//!
//! # Guarantees
//! - A stop request is honoured between batches: the migrator commits the batch it is
//!   applying (and any position-only advance), records phase `stopped` and returns.
//!
//! # Assumptions
//! - One migrator per target at a time (as for the state tables).

use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use crate::error::{MigrateError, db};
use crate::target::Target;

/// The row name of this migration in `changeover_migration_runtime`.
const RUNTIME_NAME: &str = "default";

/// What the migrator is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading and writing the initial snapshot (one transaction).
    Snapshot,
    /// Following the source's change stream.
    Streaming,
    /// Returned after a stop request or an interrupt (not after a crash).
    Stopped,
    /// Returned with an error.
    Failed,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Snapshot => "snapshot",
            Phase::Streaming => "streaming",
            Phase::Stopped => "stopped",
            Phase::Failed => "failed",
        }
    }
}

/// Snapshot rows of one source table: read from the source (`total`) and written to the
/// target (`done`). The snapshot is written in chunks inside one transaction: `done` moves
/// per chunk (`migration::SNAPSHOT_CHUNK` rows; recorded after the first, then at most twice
/// a second), and the rows become visible at the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableProgress {
    pub table: String,
    pub done: u64,
    pub total: u64,
}

/// The figures the running migrator records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub phase: Phase,
    pub snapshot: Vec<TableProgress>,
    /// How long ago the source was at the committed position, at the last record (1 s
    /// resolution: the source position is sampled once a second). `None` before streaming.
    pub lag_seconds: Option<f64>,
    /// Source transactions read from the stream and not yet committed to the target.
    pub events_behind: u64,
    /// Changes applied per second over the last interval (about 1 s).
    pub events_per_second: f64,
    /// Changes applied by this run of the migrator.
    pub events_applied: u64,
}

impl Progress {
    pub fn new(phase: Phase) -> Progress {
        Progress {
            phase,
            snapshot: Vec::new(),
            lag_seconds: None,
            events_behind: 0,
            events_per_second: 0.0,
            events_applied: 0,
        }
    }
}

/// The runtime row as read by `migrate status` and `migrate stop`.
#[derive(Debug, Clone, PartialEq)]
pub struct Runtime {
    pub pid: u32,
    pub stop_requested: bool,
    pub progress: Progress,
    /// Unix milliseconds of the last record (a heartbeat).
    pub updated_ms: i64,
}

impl Target {
    pub(crate) async fn install_runtime(&self) -> Result<(), MigrateError> {
        self.create_if_missing(
            "CREATE TABLE IF NOT EXISTS changeover_migration_runtime (name VARCHAR(64) PRIMARY KEY, pid BIGINT NOT NULL, stop_requested BIGINT NOT NULL, progress TEXT NOT NULL, updated_ms BIGINT NOT NULL)",
            "creating the migration runtime table",
        )
        .await
    }

    /// Registers a starting migrator: its pid, a cleared stop flag, and `progress`.
    pub async fn register_run(
        &self,
        pid: u32,
        progress: &Progress,
        now_ms: i64,
    ) -> Result<(), MigrateError> {
        let p = |n| self.engine().placeholder(n);
        // One statement (an upsert): a killed predecessor's registration may commit at any
        // moment, so a delete followed by an insert could meet its row.
        let conflict = match self.engine() {
            crate::engine::Engine::Postgres => {
                "ON CONFLICT (name) DO UPDATE SET pid = EXCLUDED.pid, stop_requested = 0, progress = EXCLUDED.progress, updated_ms = EXCLUDED.updated_ms"
            }
            crate::engine::Engine::MySql => {
                "ON DUPLICATE KEY UPDATE pid = VALUES(pid), stop_requested = 0, progress = VALUES(progress), updated_ms = VALUES(updated_ms)"
            }
        };
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO changeover_migration_runtime (name, pid, stop_requested, progress, updated_ms) VALUES ({}, {}, 0, {}, {}) {conflict}",
            p(1),
            p(2),
            p(3),
            p(4)
        )))
        .bind(RUNTIME_NAME)
        .bind(i64::from(pid))
        .bind(progress_json(progress))
        .bind(now_ms)
        .execute(self.pool())
        .await
        .map_err(db("registering the migrator"))?;
        Ok(())
    }

    /// Records the migrator's figures (and its heartbeat).
    pub async fn record_progress(
        &self,
        progress: &Progress,
        now_ms: i64,
    ) -> Result<(), MigrateError> {
        let p = |n| self.engine().placeholder(n);
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE changeover_migration_runtime SET progress = {}, updated_ms = {} WHERE name = {}",
            p(1),
            p(2),
            p(3)
        )))
        .bind(progress_json(progress))
        .bind(now_ms)
        .bind(RUNTIME_NAME)
        .execute(self.pool())
        .await
        .map_err(db("recording the migration progress"))?;
        Ok(())
    }

    /// Asks the running migrator to stop after its current batch. `false` when no migrator
    /// ever registered in this target.
    pub async fn request_stop(&self) -> Result<bool, MigrateError> {
        self.install_runtime().await?;
        let sql = format!(
            "UPDATE changeover_migration_runtime SET stop_requested = 1 WHERE name = {}",
            self.engine().placeholder(1)
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(RUNTIME_NAME)
            .execute(self.pool())
            .await
            .map_err(db("requesting a stop"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Whether `migrate stop` asked the migrator to stop.
    pub async fn stop_requested(&self) -> Result<bool, MigrateError> {
        Ok(self.runtime().await?.is_some_and(|r| r.stop_requested))
    }

    /// The runtime row, if a migrator ever registered.
    pub async fn runtime(&self) -> Result<Option<Runtime>, MigrateError> {
        self.install_runtime().await?;
        let e = self.engine();
        let sql = format!(
            "SELECT {}, {}, progress, {} FROM changeover_migration_runtime WHERE name = {}",
            e.int("pid"),
            e.int("stop_requested"),
            e.int("updated_ms"),
            e.placeholder(1)
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(RUNTIME_NAME)
            .fetch_optional(self.pool())
            .await
            .map_err(db("reading the migration runtime"))?;
        let Some(row) = row else { return Ok(None) };
        let read = |e| db("reading the migration runtime")(e);
        let pid: i64 = row.try_get(0).map_err(read)?;
        let stop: i64 = row.try_get(1).map_err(read)?;
        let text: String = row.try_get(2).map_err(read)?;
        let updated_ms: i64 = row.try_get(3).map_err(read)?;
        let progress = serde_json::from_str(&text).map_err(|e| MigrateError::State {
            reason: format!("runtime progress column: {e}"),
        })?;
        Ok(Some(Runtime {
            pid: u32::try_from(pid).unwrap_or(0),
            stop_requested: stop != 0,
            progress,
            updated_ms,
        }))
    }
}

fn progress_json(progress: &Progress) -> String {
    serde_json::to_string(progress).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trips_through_json() {
        let mut progress = Progress::new(Phase::Streaming);
        progress.snapshot.push(TableProgress {
            table: "t_ds_project".to_owned(),
            done: 3,
            total: 3,
        });
        progress.lag_seconds = Some(1.5);
        progress.events_per_second = 12.0;
        let text = progress_json(&progress);
        assert!(text.contains("\"phase\":\"streaming\""), "{text}");
        let back: Progress = serde_json::from_str(&text).unwrap();
        assert_eq!(back, progress);
    }
}
