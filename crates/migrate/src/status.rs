//! `migrate status`: where the migration is, how far behind the source, dead letters, and
//! the figures the running migrator records (snapshot rows per table, lag in seconds and
//! events, events/s).

use crate::error::MigrateError;
use crate::migration::source_position;
use crate::position::Position;
use crate::runtime::Runtime;
use crate::target::Target;

#[derive(Debug, Clone, PartialEq)]
pub struct MigrationStatus {
    /// `None` before the snapshot is committed.
    pub position: Option<String>,
    pub source_position: String,
    /// Bytes of binary log or WAL not yet applied (`None` when binlog files differ).
    /// WAL of other databases counts too, so an idle PostgreSQL source may show some.
    pub lag_bytes: Option<u64>,
    pub projects: Option<Vec<String>>,
    pub definitions: usize,
    pub tasks: usize,
    pub dead_letters: usize,
    /// What the migrator last recorded; `None` if none ever ran on this target.
    pub runtime: Option<Runtime>,
}

pub async fn status(source_url: &str, target: &Target) -> Result<MigrationStatus, MigrateError> {
    target.install_state().await?;
    let state = target.load_state().await?;
    let source = source_position(source_url).await?;
    let map = target.load_map(0, 0).await?;
    let at = state.as_ref().and_then(|s| Position::parse(&s.position));
    let lag_bytes = match (&at, &source) {
        (Some(Position::Binlog(a)), Position::Binlog(b)) if a.file == b.file => {
            Some(b.pos.saturating_sub(a.pos))
        }
        (Some(Position::Lsn(a)), Position::Lsn(b)) => Some(b.saturating_sub(*a)),
        _ => None,
    };
    Ok(MigrationStatus {
        position: state.as_ref().map(|s| s.position.clone()),
        source_position: source.to_string(),
        lag_bytes,
        projects: state.and_then(|s| s.projects),
        definitions: map.definitions.values().filter(|d| d.version > 0).count(),
        tasks: map
            .definitions
            .values()
            .filter(|d| d.version > 0)
            .map(|d| d.tasks.len())
            .sum(),
        dead_letters: target.dead_letters().await?.len(),
        runtime: target.runtime().await?,
    })
}
