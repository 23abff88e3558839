//! Data-update tasks (design §4, seed 000 "Data update"): SQL on a database of the bundle
//! (in one transaction) or a command (a stoppable process). Each task's [`TaskRecord`]
//! is serde data the engine persists in its upgrade record; [`DataUpdates`] runs them.
//!
//! # Guarantees
//! - only tasks that never ran, failed or were stopped run again; running, succeeded and
//!   skipped ones are never started by [`DataUpdates::run_pending`];
//! - a task that reports failed items holds the step until the operator confirms;
//! - a record restored as `Running` (changeover died mid-task) becomes `Failed`, so it
//!   runs again.

mod record;
mod run;
mod runner;

pub use record::{Progress, TaskRecord, TaskState};
pub use runner::DataUpdates;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::target::DbTarget;

/// One data-update task of the bundle, resolved (placeholders expanded by the engine).
#[derive(Debug, Clone)]
pub struct DataUpdateTask {
    pub name: String,
    /// Maintenance mode ends only when every blocking task is done.
    pub blocking: bool,
    /// May the operator skip it?
    pub skippable: bool,
    /// Started only by the operator, never by `run_pending`.
    pub manual_start: bool,
    pub kind: TaskKind,
}

/// What a task does.
#[derive(Debug, Clone)]
pub enum TaskKind {
    /// SQL for the database's engine, run in one transaction.
    Sql { target: DbTarget, sql: String },
    /// A process. Lines `PROGRESS total=N remaining=N succeeded=N failed=N` on its stdout
    /// or stderr update the task's progress counters.
    Command {
        argv: Vec<String>,
        env: BTreeMap<String, String>,
        workdir: Option<PathBuf>,
    },
}
