//! The migration loop: snapshot once, then follow the change stream; every batch is
//! transformed by the pure transform and committed with the id map and the position.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tracing::info;

use crate::engine::Engine;
use crate::error::MigrateError;
use crate::source_mysql::{self, BinlogPosition};
use crate::target::Target;
use crate::transform::{Scope, transform};

/// What `migrate start` needs.
#[derive(Clone)]
pub struct MigrationConfig {
    pub source_url: String,
    pub target_url: String,
    /// Project names; empty for all projects.
    pub projects: Vec<String>,
    /// 5-bit machine id put into new codes.
    pub machine: u8,
    /// Replica server id for the binlog connection (unique among the source's replicas).
    pub server_id: u32,
}

impl std::fmt::Debug for MigrationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationConfig")
            .field("projects", &self.projects)
            .field("machine", &self.machine)
            .finish_non_exhaustive()
    }
}

impl MigrationConfig {
    fn scope(&self) -> Scope {
        if self.projects.is_empty() {
            Scope::all()
        } else {
            Scope::projects(self.projects.iter().cloned())
        }
    }

    fn projects(&self) -> Option<&[String]> {
        (!self.projects.is_empty()).then_some(self.projects.as_slice())
    }
}

/// How often a position-only commit may happen.
const EMPTY_COMMIT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs the migration until `stop` resolves or the source fails. Safe to run again after a
/// crash at any point: it resumes from the position committed in the target.
pub async fn run(
    config: &MigrationConfig,
    stop: impl Future<Output = ()>,
) -> Result<(), MigrateError> {
    let (engine, _) = Engine::of_url(&config.source_url)?;
    if engine != Engine::MySql {
        return Err(MigrateError::Unsupported {
            what: "a PostgreSQL source",
            reason: "only MySQL/MariaDB binlog sources are implemented",
        });
    }
    let target = Target::connect(&config.target_url).await?;
    target.install_state().await?;
    let scope = config.scope();
    let position = match target.load_state().await? {
        Some(state) => {
            BinlogPosition::parse(&state.position).ok_or_else(|| MigrateError::State {
                reason: format!("position {:?} is not file:pos", state.position),
            })?
        }
        None => {
            let (changes, position) = source_mysql::snapshot(&config.source_url).await?;
            let mut map = target.load_map(config.machine, 0).await?;
            let batch = transform(&mut map, &scope, &changes, now_ms());
            info!(rows = changes.len(), writes = batch.writes.len(), dead_letters = batch.dead_letters.len(), position = %position, "snapshot applied");
            crate::target::fail_point("snapshot-commit");
            target
                .commit(&batch, &mut map, &position.to_string(), config.projects())
                .await?;
            position
        }
    };
    let state = target
        .load_state()
        .await?
        .ok_or_else(|| MigrateError::State {
            reason: "no state after the snapshot".to_owned(),
        })?;
    let mut map = target.load_map(config.machine, state.last_code).await?;
    let database = source_mysql::database_of(&config.source_url)?;
    let (tx, mut rx) = mpsc::channel(64);
    let source_url = config.source_url.clone();
    let server_id = config.server_id;
    let reader = tokio::spawn(async move {
        source_mysql::stream(&source_url, &database, position, server_id, tx).await
    });
    tokio::pin!(stop);
    let mut uncommitted: Option<BinlogPosition> = None;
    let mut tick = tokio::time::interval(EMPTY_COMMIT_INTERVAL);
    let result = loop {
        tokio::select! {
            () = &mut stop => break Ok(()),
            _ = tick.tick() => {
                if let Some(position) = uncommitted.take() {
                    let batch = crate::write::Batch::default();
                    if let Err(e) = target.commit(&batch, &mut map, &position.to_string(), config.projects()).await {
                        break Err(e);
                    }
                }
            }
            next = rx.recv() => {
                let Some((changes, position)) = next else { break Ok(()) };
                // Transactions of other tables only move the position: commit that at most
                // twice a second, or a target on the same server would feed its own stream.
                if changes.is_empty() {
                    uncommitted = Some(position);
                    continue;
                }
                uncommitted = None;
                let batch = transform(&mut map, &scope, &changes, now_ms());
                if let Err(e) = target.commit(&batch, &mut map, &position.to_string(), config.projects()).await {
                    break Err(e);
                }
                if !changes.is_empty() {
                    info!(changes = changes.len(), writes = batch.writes.len(), position = %position, "batch applied");
                }
            }
        }
    };
    drop(rx);
    reader.abort();
    if let Ok(Ok(Err(e))) = tokio::time::timeout(std::time::Duration::from_millis(10), reader)
        .await
        .map(|r| r.map_err(|_| ()))
    {
        return Err(e);
    }
    result
}

/// The position of the source right now (for lag): MariaDB `SHOW MASTER STATUS`.
pub async fn source_position(url: &str) -> Result<BinlogPosition, MigrateError> {
    use sqlx::{AnyConnection, Connection, Row};
    sqlx::any::install_default_drivers();
    let (_, url) = Engine::of_url(url)?;
    let mut conn = AnyConnection::connect(&url)
        .await
        .map_err(crate::error::db("connecting to the source"))?;
    let row = sqlx::raw_sql("SHOW MASTER STATUS")
        .fetch_one(&mut conn)
        .await
        .map_err(crate::error::db("reading the source position"))?;
    let file: String = row
        .try_get(0)
        .map_err(crate::error::db("reading the source position"))?;
    let pos: i64 = row
        .try_get(1)
        .map_err(crate::error::db("reading the source position"))?;
    Ok(BinlogPosition {
        file,
        pos: u64::try_from(pos).unwrap_or(0),
    })
}
