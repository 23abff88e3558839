//! `migrate status`: where the migration is, how far behind the source, dead letters.

use crate::error::MigrateError;
use crate::migration::source_position;
use crate::source_mysql::BinlogPosition;
use crate::target::Target;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// `None` before the snapshot is committed.
    pub position: Option<String>,
    pub source_position: String,
    /// Bytes of binary log not yet applied (`None` when the files differ).
    pub lag_bytes: Option<u64>,
    pub projects: Option<Vec<String>>,
    pub definitions: usize,
    pub tasks: usize,
    pub dead_letters: usize,
}

pub async fn status(source_url: &str, target: &Target) -> Result<MigrationStatus, MigrateError> {
    target.install_state().await?;
    let state = target.load_state().await?;
    let source = source_position(source_url).await?;
    let map = target.load_map(0, 0).await?;
    let lag_bytes = state
        .as_ref()
        .and_then(|s| BinlogPosition::parse(&s.position))
        .and_then(|at| (at.file == source.file).then(|| source.pos.saturating_sub(at.pos)));
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
    })
}
