//! The live state of one database's backup, shared between the task doing it and the
//! readers showing it (status, bytes written, log, prune items).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;
use crate::tool::ToolObserver;

/// Lines of log kept per backup item.
const LOG_LINES: usize = 500;

/// The statuses of seed 000, plus `Stopped` for a force-stopped backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    NotBackedUp,
    Starting,
    BackingUp,
    Complete,
    Failed,
    Stopped,
}

impl BackupStatus {
    /// The console's words.
    pub fn label(self) -> &'static str {
        match self {
            BackupStatus::NotBackedUp => "Not backed up",
            BackupStatus::Starting => "Starting",
            BackupStatus::BackingUp => "Backing up",
            BackupStatus::Complete => "Backup complete",
            BackupStatus::Failed => "Backup failed",
            BackupStatus::Stopped => "Stopped",
        }
    }

    pub fn is_running(self) -> bool {
        matches!(self, BackupStatus::Starting | BackupStatus::BackingUp)
    }
}

/// Status of one prune statement, shown as its own item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneStatus {
    Pending,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneItemView {
    pub name: String,
    pub status: PruneStatus,
    pub rows_deleted: Option<u64>,
    pub error: Option<String>,
}

/// A snapshot of one backup item, serialisable into an upgrade record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupItemView {
    pub database: String,
    pub status: BackupStatus,
    /// Bytes written to the dump so far.
    pub bytes: u64,
    pub log: Vec<String>,
    pub error: Option<String>,
    pub manifest: Option<Manifest>,
    pub prune: Vec<PruneItemView>,
}

/// Shared, thread-safe state of one backup item.
#[derive(Debug)]
pub struct BackupItem {
    state: Mutex<BackupItemView>,
}

impl BackupItem {
    pub fn new(database: &str, prune_names: &[String]) -> Self {
        Self {
            state: Mutex::new(BackupItemView {
                database: database.to_owned(),
                status: BackupStatus::NotBackedUp,
                bytes: 0,
                log: Vec::new(),
                error: None,
                manifest: None,
                prune: prune_names
                    .iter()
                    .map(|n| PruneItemView {
                        name: n.clone(),
                        status: PruneStatus::Pending,
                        rows_deleted: None,
                        error: None,
                    })
                    .collect(),
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut BackupItemView) -> R) -> R {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    pub fn view(&self) -> BackupItemView {
        self.with(|s| s.clone())
    }

    pub fn status(&self) -> BackupStatus {
        self.with(|s| s.status)
    }

    pub(crate) fn set_status(&self, status: BackupStatus) {
        self.with(|s| s.status = status);
    }

    /// Resets for a (re-)backup: status Starting, counters and prune items cleared.
    pub(crate) fn reset(&self) {
        self.with(|s| {
            s.status = BackupStatus::Starting;
            s.bytes = 0;
            s.error = None;
            s.manifest = None;
            for p in &mut s.prune {
                p.status = PruneStatus::Pending;
                p.rows_deleted = None;
                p.error = None;
            }
        });
    }

    pub(crate) fn finish(&self, result: Result<Manifest, crate::error::Error>) {
        let msg = result.as_ref().err().map(|e| e.to_string());
        if let Some(m) = &msg {
            self.log(m);
        }
        self.with(|s| match result {
            Ok(m) => {
                s.status = BackupStatus::Complete;
                s.bytes = m.size_bytes;
                s.manifest = Some(m);
            }
            Err(crate::error::Error::Stopped { .. }) => {
                s.status = BackupStatus::Stopped;
                s.error = msg;
            }
            Err(_) => {
                s.status = BackupStatus::Failed;
                s.error = msg;
            }
        });
    }

    pub(crate) fn prune_status(
        &self,
        name: &str,
        status: PruneStatus,
        rows: Option<u64>,
        error: Option<String>,
    ) {
        self.with(|s| {
            if let Some(p) = s.prune.iter_mut().find(|p| p.name == name) {
                p.status = status;
                p.rows_deleted = rows;
                p.error = error;
            }
        });
    }

    pub(crate) fn log(&self, line: &str) {
        let stamped = format!("{} {line}", chrono::Utc::now().format("%H:%M:%S%.3f"));
        self.with(|s| {
            s.log.push(stamped);
            if s.log.len() > LOG_LINES {
                s.log.remove(0);
            }
        });
    }
}

impl ToolObserver for BackupItem {
    fn bytes(&self, n: u64) {
        self.with(|s| s.bytes = n);
    }

    fn line(&self, line: &str) {
        let db = self.with(|s| s.database.clone());
        tracing::debug!(database = %db, line, "dump output");
        self.log(line);
    }
}
