//! What the engine needs from the platform and the store: one trait per role. Adapters over
//! `changeover-drivers`, `changeover-metadb` and `changeover-store` implement them.
//!
//! # Assumptions (every port)
//! - Each call may be repeated after a crash of changeover with the same arguments; the
//!   implementation makes the repeat harmless (idempotent) or the engine guards it with a
//!   recorded id, as each method says.

use async_trait::async_trait;

use crate::upgrade::verify::{FailedInstance, StatusCount};
use crate::upgrade::{Date, ToggleState, UpgradeRecord};

/// A boxed error from an adapter, shown to the operator as its sentence.
pub type PortError = Box<dyn std::error::Error + Send + Sync>;

/// A running task instance as the scheduler lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    pub workflow: String,
    pub task: String,
}

/// The scheduler's answer to a terminate request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terminated {
    pub terminated: Vec<String>,
    pub already_finished: Vec<String>,
    pub not_found: Vec<String>,
}

/// The scheduler's answer to a re-run request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rerun {
    /// (old id, new id)
    pub rerun: Vec<(String, String)>,
    /// (id, reason)
    pub skipped: Vec<(String, String)>,
}

/// The scheduler (design.md §8).
#[async_trait]
pub trait Scheduler: Send + Sync {
    async fn toggles(&self) -> Result<Vec<ToggleState>, PortError>;
    /// Sets one environment's toggles; idempotent.
    async fn set_toggles(
        &self,
        environment: &str,
        scheduling: Option<bool>,
        execution: Option<bool>,
    ) -> Result<(), PortError>;
    async fn running(&self) -> Result<Vec<Instance>, PortError>;
    /// Idempotent: terminating again reports `already_finished`.
    async fn terminate(&self, ids: &[String]) -> Result<Terminated, PortError>;
    /// Guarded: the same `request_id` returns the same answer and starts nothing new.
    async fn rerun(&self, request_id: &str, ids: &[String]) -> Result<Rerun, PortError>;
    /// Production statistics of business dates `from..=to`.
    async fn statistics(&self, from: Date, to: Date) -> Result<Vec<StatusCount>, PortError>;
    async fn failed_today_succeeded_yesterday(
        &self,
        today: Date,
    ) -> Result<Vec<FailedInstance>, PortError>;
}

/// The platform's applications.
#[async_trait]
pub trait Applications: Send + Sync {
    /// Fetches artifacts and checks configuration of `version`; idempotent, starts nothing.
    async fn prepare(&self, app: &str, version: &str) -> Result<(), PortError>;
    /// The version the application runs and answers health checks with, if any.
    async fn running_version(&self, app: &str) -> Result<Option<String>, PortError>;
    /// Stops the application; stopping a stopped one succeeds.
    async fn stop(&self, app: &str) -> Result<(), PortError>;
    /// Starts `version` (rolling: the new one serves before the old one retires) and waits
    /// until it is healthy.
    async fn start(&self, app: &str, version: &str, rolling: bool) -> Result<(), PortError>;
}

/// A finished backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub file: String,
    pub size: u64,
}

/// How a data-update task run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRun {
    Succeeded,
    Failed(String),
    Stopped,
}

/// The platform's metadata databases.
#[async_trait]
pub trait Databases: Send + Sync {
    /// Backs `database` up as part of upgrade `upgrade_id`; a complete, checked backup
    /// already taken by that upgrade is returned as it is, not taken again.
    async fn backup(&self, database: &str, upgrade_id: &str) -> Result<Backup, PortError>;
    /// Checks the target version's migrations without applying them.
    async fn dry_run(&self, database: &str) -> Result<(), PortError>;
    /// Applies the target version's migrations; applied ones are skipped (history).
    async fn migrate(&self, database: &str) -> Result<(), PortError>;
    /// Restores `database` from the backup upgrade `upgrade_id` took (checked first).
    async fn restore(&self, database: &str, upgrade_id: &str) -> Result<(), PortError>;
    /// Runs a data-update task under `run_id`; a run id already finished returns its recorded
    /// outcome and runs nothing again.
    async fn run_data_update(&self, task: &str, run_id: &str) -> Result<TaskRun, PortError>;
    /// The recorded outcome of run `run_id` if it finished; runs nothing.
    async fn finished_data_update(&self, run_id: &str) -> Result<Option<TaskRun>, PortError>;
    /// Stops data-update task `task` while [`Databases::run_data_update`] runs it (that call
    /// then returns [`TaskRun::Stopped`]); a task not running is left as it is.
    async fn stop_data_update(&self, task: &str) -> Result<(), PortError>;
}

/// The bundle's hooks (an HTTP call or a command each).
///
/// # Assumptions
/// - Hooks are idempotent (turn HA off, turn it on): a crash between a hook and its saved
///   outcome runs it again on resume.
#[async_trait]
pub trait Hooks: Send + Sync {
    async fn run(&self, hook: &str) -> Result<(), PortError>;
    /// Undoes a before-hook; a hook without undo succeeds doing nothing.
    async fn undo(&self, hook: &str) -> Result<(), PortError>;
}

/// Where records are kept.
#[async_trait]
pub trait Records: Send + Sync {
    /// Saves the whole record (one JSON document) atomically.
    async fn save(&self, record: &UpgradeRecord) -> Result<(), PortError>;
}

/// Operator requests made from another process to the changeover driving an upgrade:
/// `changeover upgrade data-update stop NAME` saves one, the driver polls while a task runs,
/// stops it and clears the request.
///
/// # Guarantees
/// - Requests are kept apart from the record, so the driver's saves of the whole record
///   never lose one; saving the same request twice keeps one.
#[async_trait]
pub trait Requests: Send + Sync {
    /// Asks the driver of upgrade `upgrade` to stop data-update task `task`.
    async fn request_stop(&self, upgrade: &str, task: &str, by: &str) -> Result<(), PortError>;
    /// The tasks of `upgrade` with a stop pending, and who asked: (task, by).
    async fn stop_requests(&self, upgrade: &str) -> Result<Vec<(String, String)>, PortError>;
    /// Removes a stop request once acted on (or no longer meant); absent is fine.
    async fn clear_stop(&self, upgrade: &str, task: &str) -> Result<(), PortError>;
}

/// No requests reach this engine (tests without a store): none is ever pending.
pub struct NoRequests;

#[async_trait]
impl Requests for NoRequests {
    async fn request_stop(&self, _: &str, task: &str, _: &str) -> Result<(), PortError> {
        Err(format!(
            "cannot ask to stop data-update task `{task}`: this changeover has no store for requests"
        )
        .into())
    }
    async fn stop_requests(&self, _: &str) -> Result<Vec<(String, String)>, PortError> {
        Ok(Vec::new())
    }
    async fn clear_stop(&self, _: &str, _: &str) -> Result<(), PortError> {
        Ok(())
    }
}

/// The store of upgrade records, as the console needs it.
#[async_trait]
pub trait RecordStore: Records {
    /// Adds a new record; refused (naming the active record) while another is active.
    async fn insert(&self, record: &UpgradeRecord) -> Result<(), PortError>;
    async fn get(&self, id: &str) -> Result<UpgradeRecord, PortError>;
    /// The record holding the one-upgrade-at-a-time slot, if any.
    async fn active(&self) -> Result<Option<UpgradeRecord>, PortError>;
    /// Every record, newest first.
    async fn list(&self) -> Result<Vec<UpgradeRecord>, PortError>;
}
