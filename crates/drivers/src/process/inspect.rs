//! Looking at applications: status, health, stack dump, log tail.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::instance::{self, Liveness, liveness};
use super::rollout::RolloutStatus;
use super::spec::parse_signal;
use super::state::InstanceRecord;
use super::{InstanceInfo, ProcessDriver, ProcessError, health, log_tail};

/// How often a stack dump looks whether the log grew.
const DUMP_POLL: Duration = Duration::from_millis(100);
/// A dump is complete once the log stopped growing for this long.
const DUMP_SETTLE: Duration = Duration::from_millis(400);

/// The state of an application's serving instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProcessState {
    /// Running and its health check passes.
    Healthy,
    /// Running, but its health check fails.
    Unhealthy { problem: String },
    /// Ended by itself with an exit code (a crash unless the code is 0).
    Exited { code: i32 },
    /// Ended by itself through a signal.
    Killed { signal: i32 },
    /// Ended while changeover was away; the exit status is unknown.
    Vanished,
    /// Stopped by changeover.
    Stopped,
    /// Known but never started.
    NotStarted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppStatus {
    pub app: String,
    pub state: ProcessState,
    /// The serving (or last) instance.
    pub instance: Option<InstanceInfo>,
    pub rollout: Option<RolloutStatus>,
}

impl ProcessDriver {
    /// The state of `app`'s serving instance, probing its health once; `NotStarted` for
    /// an application this state dir has never run.
    pub async fn status(&self, app: &str) -> Result<AppStatus, ProcessError> {
        let _guard = self.lock_app(app).await;
        let mut state = self.load_or_new(app)?;
        let before = state.clone();
        let process_state = match state.current.as_mut() {
            None => ProcessState::NotStarted,
            Some(record) => self.observe(record).await,
        };
        if let Some(rollout) = state.rollout.as_mut() {
            for record in [rollout.new.as_mut(), rollout.old.as_mut()]
                .into_iter()
                .flatten()
            {
                let _ = liveness(&self.children, record);
            }
        }
        if state != before && state.current.is_some() {
            self.save(&state)?;
        }
        Ok(AppStatus {
            app: app.to_owned(),
            state: process_state,
            instance: state.current.as_ref().map(|r| InstanceInfo::of(app, r)),
            rollout: state.rollout.as_ref().map(RolloutStatus::of),
        })
    }

    /// The status of every application in the state dir.
    pub async fn statuses(&self) -> Result<Vec<AppStatus>, ProcessError> {
        let mut all = Vec::new();
        for app in self.apps()? {
            all.push(self.status(&app).await?);
        }
        Ok(all)
    }

    async fn observe(&self, record: &mut InstanceRecord) -> ProcessState {
        if record.stopped {
            return ProcessState::Stopped;
        }
        match liveness(&self.children, record) {
            Liveness::Alive => {
                match health::probe_once(&self.http, &record.health, record.port).await {
                    Ok(()) => ProcessState::Healthy,
                    Err(problem) => ProcessState::Unhealthy { problem },
                }
            }
            Liveness::Ended(exit) => match (exit.code, exit.signal) {
                (Some(code), _) => ProcessState::Exited { code },
                (None, Some(signal)) => ProcessState::Killed { signal },
                (None, None) => ProcessState::Vanished,
            },
        }
    }

    /// The last `lines` lines of the log of `app`'s newest instance (the one being rolled
    /// out, else the serving one).
    pub async fn log_tail(&self, app: &str, lines: usize) -> Result<Vec<String>, ProcessError> {
        let state = self.load(app)?;
        let record = state.newest().ok_or_else(|| ProcessError::NotRunning {
            app: app.to_owned(),
        })?;
        log_tail::last_lines(&record.log_path, lines)
    }

    /// Sends the stack-dump signal to the main process of `app`'s newest instance and
    /// returns what it wrote to its log afterwards (waiting up to `wait`).
    pub async fn stack_dump(&self, app: &str, wait: Duration) -> Result<String, ProcessError> {
        let _guard = self.lock_app(app).await;
        let mut state = self.load(app)?;
        let newest = match state.rollout.as_mut().and_then(|r| r.new.as_mut()) {
            Some(new) => new,
            None => state
                .current
                .as_mut()
                .ok_or_else(|| ProcessError::NotRunning {
                    app: app.to_owned(),
                })?,
        };
        if record_ended(self, newest) {
            return Err(ProcessError::NotRunning {
                app: app.to_owned(),
            });
        }
        let record = newest.clone();
        let signal =
            parse_signal(&record.stack_dump_signal).ok_or_else(|| ProcessError::InvalidSpec {
                app: app.to_owned(),
                problem: format!(
                    "stack_dump_signal {:?} is not a signal",
                    record.stack_dump_signal
                ),
            })?;
        let offset = log_len(&record)?;
        instance::signal_main(app, &record, signal)?;
        tracing::info!(app, instance = %record.instance_id, signal = signal.as_str(), "stack dump requested");
        let deadline = tokio::time::Instant::now() + wait;
        let mut last_len = offset;
        let mut last_growth = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(DUMP_POLL).await;
            let len = log_len(&record)?;
            let now = tokio::time::Instant::now();
            if len != last_len {
                last_len = len;
                last_growth = now;
            }
            let settled = last_len > offset && now.duration_since(last_growth) >= DUMP_SETTLE;
            if settled || now >= deadline {
                break;
            }
        }
        if last_len == offset {
            return Err(ProcessError::StackDumpEmpty {
                app: app.to_owned(),
                signal: signal.as_str().to_owned(),
                waited_ms: wait.as_millis(),
            });
        }
        log_tail::read_from(&record.log_path, offset)
    }
}

fn record_ended(driver: &ProcessDriver, record: &mut InstanceRecord) -> bool {
    record.stopped || matches!(liveness(&driver.children, record), Liveness::Ended(_))
}

fn log_len(record: &InstanceRecord) -> Result<u64, ProcessError> {
    std::fs::metadata(&record.log_path)
        .map(|m| m.len())
        .map_err(|e| ProcessError::io("read log file", &record.log_path, e))
}
