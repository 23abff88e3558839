//! What the driver remembers per application, as JSON files written atomically.
//!
//! Layout of the state dir: `apps/<app>.json` (one [`AppState`] each), `routes.json`
//! (the [`RoutingTable`](super::RoutingTable)), `logs/<app>-<version>-<n>.log`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{ExitStatus, HealthCheck, ProcessError, RolloutPhase, Strategy};

/// One started process of one application version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InstanceRecord {
    pub instance_id: String,
    pub version: String,
    /// Also the process group id: every instance leads its own group.
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot (`/proc/<pid>/stat`), so a reused
    /// pid is never mistaken for this instance.
    pub start_ticks: Option<u64>,
    pub port: u16,
    pub log_path: PathBuf,
    pub started_at: DateTime<Utc>,
    /// From the spec it was started with, so status, stop and stack dump need only the
    /// application name (the command line and environment are not kept: they may hold
    /// secrets).
    pub health: HealthCheck,
    pub stop_grace_ms: u64,
    /// SIGTERM goes to the main process only (it drains its children), see
    /// [`AppSpec::stop_main_first`](super::AppSpec::stop_main_first).
    #[serde(default)]
    pub stop_main_first: bool,
    pub stack_dump_signal: String,
    /// Set when the driver saw the process end.
    #[serde(default)]
    pub exit: Option<ExitStatus>,
    /// Set when the driver stopped it on purpose.
    #[serde(default)]
    pub stopped: bool,
}

impl InstanceRecord {
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A version change in progress; `phase` is the last step recorded done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rollout {
    pub strategy: Strategy,
    pub target_version: String,
    pub phase: RolloutPhase,
    pub old: Option<InstanceRecord>,
    pub new: Option<InstanceRecord>,
    /// Whether the old instance was serving when the rollout began.
    pub old_was_serving: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AppState {
    pub app: String,
    /// Next instance number, so instance ids and log files are never reused.
    pub next_instance: u64,
    pub current: Option<InstanceRecord>,
    #[serde(default)]
    pub rollout: Option<Rollout>,
}

impl AppState {
    pub fn new(app: &str) -> Self {
        Self {
            app: app.to_owned(),
            next_instance: 1,
            current: None,
            rollout: None,
        }
    }

    /// The instance an operator looks at: the one being rolled out, else the current one.
    pub fn newest(&self) -> Option<&InstanceRecord> {
        self.rollout
            .as_ref()
            .and_then(|r| r.new.as_ref())
            .or(self.current.as_ref())
    }
}

pub(crate) fn app_state_path(state_dir: &Path, app: &str) -> PathBuf {
    state_dir.join("apps").join(format!("{app}.json"))
}

pub(crate) fn load_app(state_dir: &Path, app: &str) -> Result<Option<AppState>, ProcessError> {
    read_json(&app_state_path(state_dir, app))
}

pub(crate) fn save_app(state_dir: &Path, state: &AppState) -> Result<(), ProcessError> {
    write_json_atomic(&app_state_path(state_dir, &state.app), state)
}

/// Names of every application with a state file.
pub(crate) fn known_apps(state_dir: &Path) -> Result<Vec<String>, ProcessError> {
    let dir = state_dir.join("apps");
    let entries = fs::read_dir(&dir).map_err(|e| ProcessError::io("list", &dir, e))?;
    let mut apps = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ProcessError::io("list", &dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(app) = name.strip_suffix(".json") {
            apps.push(app.to_owned());
        }
    }
    apps.sort();
    Ok(apps)
}

/// Makes temporary file names unique between threads of one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Reads a JSON file; `None` when it does not exist.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ProcessError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ProcessError::io("read", path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ProcessError::StateDamaged {
            path: path.to_owned(),
            detail: e.to_string(),
        })
}

/// Writes JSON so that a reader sees the old file or the new one, never a mix: write a
/// temporary file beside it, flush it to disk, rename it over the old one.
pub(crate) fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), ProcessError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| ProcessError::StateDamaged {
        path: path.to_owned(),
        detail: format!("cannot encode: {e}"),
    })?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = path.with_file_name(format!(".{file_name}.{}.{unique}.tmp", std::process::id()));
    let mut file = fs::File::create(&temp).map_err(|e| ProcessError::io("create", &temp, e))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| ProcessError::io("write", &temp, e))?;
    drop(file);
    fs::rename(&temp, path).map_err(|e| ProcessError::io("replace", path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        write_json_atomic(&path, &vec![1, 2, 3]).unwrap();
        write_json_atomic(&path, &vec![4]).unwrap();
        let back: Option<Vec<i32>> = read_json(&path).unwrap();
        assert_eq!(back, Some(vec![4]));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn damaged_state_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        fs::write(&path, b"{not json").unwrap();
        let err = read_json::<AppState>(&path).unwrap_err().to_string();
        assert!(err.contains("bad.json") && err.contains("damaged"), "{err}");
        assert_eq!(
            read_json::<AppState>(&dir.path().join("none.json")).unwrap(),
            None
        );
    }
}
