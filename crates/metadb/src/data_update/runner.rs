//! [`DataUpdates`]: the data-update step's tasks, their records and the operator's verbs
//! (run, run pending, stop, skip, confirm failed items).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

use super::DataUpdateTask;
use super::record::{Progress, TaskRecord, TaskState};
use super::run::{self, Outcome, TaskObserver};
use crate::error::Error;
use crate::tool::StopSignal;

/// How often [`DataUpdates::wait`] looks at running tasks.
const WAIT_POLL: Duration = Duration::from_millis(50);

struct Running {
    stop: StopSignal,
    handle: JoinHandle<()>,
}

/// The data-update tasks of one upgrade.
pub struct DataUpdates {
    tasks: Vec<DataUpdateTask>,
    records: Mutex<Vec<TaskRecord>>,
    running: Mutex<HashMap<String, Running>>,
}

struct Observer<'a> {
    owner: &'a DataUpdates,
    index: usize,
}

impl TaskObserver for Observer<'_> {
    fn line(&self, line: &str) {
        let stamped = format!("{} {line}", Utc::now().format("%H:%M:%S%.3f"));
        self.owner.with_record(self.index, |r| r.push_log(&stamped));
    }

    fn progress(&self, p: Progress) {
        self.owner.with_record(self.index, |r| r.progress = Some(p));
    }
}

impl DataUpdates {
    /// The tasks with their saved records (from the upgrade record; may be empty). A
    /// record saved as `Running` means changeover stopped mid-task: it becomes `Failed`.
    pub fn new(tasks: Vec<DataUpdateTask>, saved: Vec<TaskRecord>) -> Result<Arc<Self>, Error> {
        let mut records = Vec::new();
        for (i, t) in tasks.iter().enumerate() {
            if t.name.trim().is_empty() || tasks[..i].iter().any(|o| o.name == t.name) {
                return Err(Error::DataUpdate {
                    task: t.name.clone(),
                    reason: "task names must be unique and not empty".into(),
                });
            }
            let mut r = saved
                .iter()
                .find(|r| r.name == t.name)
                .cloned()
                .unwrap_or_else(|| TaskRecord::new(&t.name));
            if r.state == TaskState::Running {
                r.state = TaskState::Failed;
                r.error = Some("interrupted: changeover stopped while it ran".into());
            }
            records.push(r);
        }
        Ok(Arc::new(Self {
            tasks,
            records: Mutex::new(records),
            running: Mutex::new(HashMap::new()),
        }))
    }

    fn with_record<R>(&self, i: usize, f: impl FnOnce(&mut TaskRecord) -> R) -> R {
        let mut g = self.records.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g[i])
    }

    fn index(&self, name: &str) -> Result<usize, Error> {
        self.tasks
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| Error::Unknown {
                kind: "data-update task",
                name: name.to_owned(),
                known: self
                    .tasks
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Every task's record, in bundle order: persist this in the upgrade record.
    pub fn records(&self) -> Vec<TaskRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn record(&self, name: &str) -> Result<TaskRecord, Error> {
        let i = self.index(name)?;
        Ok(self.with_record(i, |r| r.clone()))
    }

    /// Starts every task that never ran, failed or was stopped, except manual-start
    /// ones. Returns the names started.
    pub fn run_pending(self: &Arc<Self>) -> Vec<String> {
        let mut started = Vec::new();
        for (i, t) in self.tasks.iter().enumerate() {
            let state = self.with_record(i, |r| r.state);
            if !t.manual_start && state.runs_again() && self.start(i).is_ok() {
                started.push(t.name.clone());
            }
        }
        started
    }

    /// The operator's Run: starts one task unless it runs or has succeeded.
    pub fn run(self: &Arc<Self>, name: &str) -> Result<(), Error> {
        let i = self.index(name)?;
        match self.with_record(i, |r| r.state) {
            TaskState::Running => Err(self.refuse(name, "it is already running")),
            TaskState::Succeeded => Err(self.refuse(name, "it has already succeeded")),
            _ => self.start(i),
        }
    }

    fn refuse(&self, name: &str, reason: &str) -> Error {
        Error::DataUpdate {
            task: name.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn start(self: &Arc<Self>, i: usize) -> Result<(), Error> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let name = self.tasks[i].name.clone();
        if self.with_record(i, |r| r.state) == TaskState::Running {
            return Err(self.refuse(&name, "it is already running"));
        }
        self.with_record(i, |r| {
            r.state = TaskState::Running;
            r.attempts += 1;
            r.started_at = Some(Utc::now());
            r.finished_at = None;
            r.error = None;
            r.progress = None;
            r.failed_items_confirmed = false;
        });
        let stop = StopSignal::default();
        let stop2 = stop.clone();
        let me = Arc::clone(self);
        tracing::info!(task = %name, "data update started");
        let handle = tokio::spawn(async move {
            let observer = Observer {
                owner: &me,
                index: i,
            };
            let outcome = run::run(&me.tasks[i].kind, &observer, &stop2).await;
            me.with_record(i, |r| {
                r.finished_at = Some(Utc::now());
                match outcome {
                    Outcome::Succeeded => r.state = TaskState::Succeeded,
                    Outcome::Stopped => {
                        r.state = TaskState::Stopped;
                        r.push_log("stopped by the operator");
                    }
                    Outcome::Failed(e) => {
                        r.state = TaskState::Failed;
                        r.push_log(&e);
                        r.error = Some(e);
                    }
                }
                tracing::info!(task = %r.name, state = ?r.state, "data update ended");
            });
        });
        running.insert(name, Running { stop, handle });
        Ok(())
    }

    /// Stops a running task (state `Stopped`); a task not running is left as it is.
    pub fn stop(&self, name: &str) -> Result<(), Error> {
        self.index(name)?;
        if let Some(r) = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            r.stop.stop();
        }
        Ok(())
    }

    /// Skips a task that may be skipped and is not running or succeeded.
    pub fn skip(&self, name: &str) -> Result<(), Error> {
        let i = self.index(name)?;
        if !self.tasks[i].skippable {
            return Err(self.refuse(name, "it cannot be skipped; start it by hand"));
        }
        self.with_record(i, |r| match r.state {
            TaskState::Running => Err(self.refuse(name, "it is running; stop it first")),
            TaskState::Succeeded => Err(self.refuse(name, "it has already succeeded")),
            _ => {
                r.state = TaskState::Skipped;
                r.push_log("skipped by the operator");
                Ok(())
            }
        })
    }

    /// The operator accepts the failed items a task reported; the step may continue.
    pub fn confirm_failed_items(&self, name: &str) -> Result<(), Error> {
        let i = self.index(name)?;
        self.with_record(i, |r| {
            r.failed_items_confirmed = true;
            r.push_log("failed items confirmed by the operator");
        });
        Ok(())
    }

    /// True when every blocking task succeeded (failed items confirmed) or was skipped:
    /// dispatching may resume and maintenance mode end.
    pub fn blocking_done(&self) -> bool {
        let records = self.records();
        self.tasks
            .iter()
            .zip(records.iter())
            .filter(|(t, _)| t.blocking)
            .all(|(_, r)| r.is_done())
    }

    /// True when every task is done.
    pub fn all_done(&self) -> bool {
        self.records().iter().all(TaskRecord::is_done)
    }

    /// Waits until no task runs.
    pub async fn wait(&self) {
        loop {
            let busy = self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .any(|r| !r.handle.is_finished());
            if !busy {
                return;
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }
}
