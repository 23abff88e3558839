//! The persisted state of a data-update task.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Lines of log kept per task.
pub(crate) const LOG_LINES: usize = 500;

/// The states of seed 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    NotRun,
    Running,
    Succeeded,
    Failed,
    Stopped,
    Skipped,
}

impl TaskState {
    /// Should "run the data updates" start this task again?
    pub fn runs_again(self) -> bool {
        matches!(
            self,
            TaskState::NotRun | TaskState::Failed | TaskState::Stopped
        )
    }
}

/// Item counters a task reports (the seeds' asset-refresh details).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub total: u64,
    pub remaining: u64,
    pub succeeded: u64,
    pub failed: u64,
}

impl Progress {
    /// Parses `PROGRESS total=10 remaining=2 succeeded=7 failed=1` (any order, any subset).
    pub fn parse_line(line: &str) -> Option<Self> {
        let rest = line.trim().strip_prefix("PROGRESS ")?;
        let mut p = Progress::default();
        for kv in rest.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "total" => p.total = v,
                "remaining" => p.remaining = v,
                "succeeded" => p.succeeded = v,
                "failed" => p.failed = v,
                _ => return None,
            }
        }
        Some(p)
    }
}

/// One task's record: what the engine stores and the console shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRecord {
    pub name: String,
    pub state: TaskState,
    pub attempts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub progress: Option<Progress>,
    /// The operator confirmed the failed items may be ignored.
    pub failed_items_confirmed: bool,
    pub log: Vec<String>,
}

impl TaskRecord {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            state: TaskState::NotRun,
            attempts: 0,
            started_at: None,
            finished_at: None,
            error: None,
            progress: None,
            failed_items_confirmed: false,
            log: Vec::new(),
        }
    }

    /// Failed items not yet confirmed by the operator hold the step.
    pub fn holds_step(&self) -> bool {
        self.progress.is_some_and(|p| p.failed > 0) && !self.failed_items_confirmed
    }

    /// Done for the purpose of ending maintenance mode.
    pub fn is_done(&self) -> bool {
        match self.state {
            TaskState::Skipped => true,
            TaskState::Succeeded => !self.holds_step(),
            _ => false,
        }
    }

    pub(crate) fn push_log(&mut self, line: &str) {
        self.log.push(line.to_owned());
        if self.log.len() > LOG_LINES {
            self.log.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_progress_lines() {
        assert_eq!(
            Progress::parse_line("PROGRESS total=10 remaining=2 succeeded=7 failed=1"),
            Some(Progress {
                total: 10,
                remaining: 2,
                succeeded: 7,
                failed: 1
            })
        );
        assert_eq!(Progress::parse_line("PROGRESS total=x"), None);
        assert_eq!(Progress::parse_line("hello"), None);
    }

    #[test]
    fn failed_items_hold_until_confirmed() {
        let mut r = TaskRecord::new("t");
        r.state = TaskState::Succeeded;
        r.progress = Some(Progress {
            total: 3,
            remaining: 0,
            succeeded: 2,
            failed: 1,
        });
        assert!(r.holds_step() && !r.is_done());
        r.failed_items_confirmed = true;
        assert!(r.is_done());
    }
}
