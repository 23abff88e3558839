//! What the adapter must remember across a crash of changeover: which DAGs it paused, the
//! `default_pool` slots it replaced with 0, and the answers of re-run requests already
//! sent. Kept in one JSON file, replaced atomically (write a temporary file, fsync, rename,
//! fsync the directory), and always written **before** the change it describes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use changeover_drivers::scheduler::{RerunOutcome, SchedulerError};
use serde::{Deserialize, Serialize};

/// The largest state file read (a few thousand DAG ids at most).
const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

/// The remembered state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterState {
    /// The DAGs this adapter paused (they were unpaused before), while scheduling is off.
    /// `None`: scheduling was not turned off by this adapter.
    #[serde(default)]
    pub paused_by_us: Option<Vec<String>>,
    /// `default_pool`'s slots before execution was turned off. `None`: execution is on.
    #[serde(default)]
    pub pool_slots_before: Option<i64>,
    /// Re-run requests: request id → the runs cleared so far and the answer.
    #[serde(default)]
    pub reruns: BTreeMap<String, RerunOutcome>,
}

/// The state file of one adapter.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

fn invalid(path: &Path, detail: String) -> SchedulerError {
    SchedulerError::InvalidConfig(format!(
        "Airflow adapter state {}: {detail}",
        path.display()
    ))
}

impl StateFile {
    pub fn new(path: PathBuf) -> StateFile {
        StateFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state on disk; a missing file is the empty state.
    pub fn load(&self) -> Result<AdapterState, SchedulerError> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AdapterState::default());
            }
            Err(e) => return Err(invalid(&self.path, format!("cannot read: {e}"))),
        };
        if meta.len() > MAX_STATE_BYTES {
            return Err(invalid(
                &self.path,
                format!("{} bytes is larger than {MAX_STATE_BYTES}", meta.len()),
            ));
        }
        let bytes = std::fs::read(&self.path)
            .map_err(|e| invalid(&self.path, format!("cannot read: {e}")))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            invalid(
                &self.path,
                format!("not a state file written by changeover: {e}"),
            )
        })
    }

    /// Replaces the state on disk atomically and durably.
    pub fn save(&self, state: &AdapterState) -> Result<(), SchedulerError> {
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| invalid(&self.path, format!("cannot create {}: {e}", dir.display())))?;
        let tmp = self.path.with_extension("tmp");
        let bytes = serde_json::to_vec_pretty(state)
            .map_err(|e| invalid(&self.path, format!("cannot encode: {e}")))?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| invalid(&self.path, format!("cannot write: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use changeover_drivers::scheduler::Rerun;

    #[test]
    fn round_trips_and_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("sub/airflow.json"));
        assert_eq!(file.load().unwrap(), AdapterState::default());
        let mut state = AdapterState {
            paused_by_us: Some(vec!["etl".into(), "report".into()]),
            pool_slots_before: Some(128),
            ..AdapterState::default()
        };
        state.reruns.insert(
            "req-1".into(),
            RerunOutcome {
                rerun: vec![Rerun {
                    id: "etl/scheduled__x".into(),
                    new_id: "etl/scheduled__x".into(),
                }],
                skipped: vec![],
            },
        );
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), state);
        assert!(!dir.path().join("sub/airflow.tmp").exists());
    }

    #[test]
    fn a_foreign_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airflow.json");
        std::fs::write(&path, "{\"paused\": 1}").unwrap();
        let err = StateFile::new(path).load().unwrap_err().to_string();
        assert!(
            err.contains("not a state file written by changeover"),
            "{err}"
        );
        assert!(err.contains("airflow.json"), "{err}");
    }
}
