//! The upgrade record: one serde-tagged JSON document with an explicit cursor.

use std::collections::BTreeMap;

use super::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::announcement::Announcement;
use super::item::ItemState;
use super::plan::{self, PlanShape};
use super::status::Status;
use super::step::{StepKind, StepOutcome, StepPhase, StepState};
use super::verify::Report;
use crate::compat::Mode;

/// The time of every milestone (seed 000: entered maintenance, all tasks terminated,
/// dispatch resumed / maintenance exited, completed, force-completed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestones {
    pub created_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub entered_maintenance_at: Option<Timestamp>,
    pub dispatch_paused_at: Option<Timestamp>,
    pub all_tasks_terminated_at: Option<Timestamp>,
    pub dispatch_resumed_at: Option<Timestamp>,
    pub maintenance_exited_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub force_completed_at: Option<Timestamp>,
    pub terminated_at: Option<Timestamp>,
    pub rolled_back_at: Option<Timestamp>,
}

/// The toggles of one environment as they were before changeover paused dispatch; resuming
/// restores exactly these (lessons.md: a global pause must not lose the operator's choices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToggleState {
    pub environment: String,
    pub scheduling: bool,
    pub execution: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// One line of the record's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub at: Timestamp,
    pub level: LogLevel,
    pub step: Option<StepKind>,
    pub message: String,
}

/// The steps that end an upgrade early (terminate) or undo it (rollback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitPlan {
    pub steps: Vec<StepState>,
    pub cursor: usize,
}

/// One upgrade, persisted as JSON by the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpgradeRecord {
    pub id: String,
    pub platform: String,
    pub from_version: String,
    pub to_version: String,
    pub mode: Mode,
    #[serde(flatten)]
    pub status: Status,
    pub announcement: Announcement,
    /// The operator accepted the risk statement when starting.
    pub risk_accepted: bool,
    /// Operator decisions are taken automatically (`--yes`); otherwise the record waits for
    /// `changeover upgrade next` after each step.
    pub auto_advance: bool,
    /// The configuration used (secrets already redacted by the caller).
    pub configuration: BTreeMap<String, String>,
    pub milestones: Milestones,
    pub steps: Vec<StepState>,
    /// Index of the current step in `steps`; `steps.len()` once every step is settled.
    pub cursor: usize,
    pub exit: Option<ExitPlan>,
    /// Toggles as they were before dispatch was paused (set once, on pausing).
    pub paused_toggles: Option<Vec<ToggleState>>,
    pub verification: Option<Report>,
    pub log: Vec<LogEntry>,
}

/// What the caller chose for a new upgrade.
#[derive(Debug, Clone)]
pub struct NewUpgrade {
    pub id: String,
    pub platform: String,
    pub from_version: String,
    pub to_version: String,
    pub mode: Mode,
    pub shape: PlanShape,
    pub announcement: Announcement,
    pub risk_accepted: bool,
    pub auto_advance: bool,
    pub configuration: BTreeMap<String, String>,
}

impl UpgradeRecord {
    /// A `Configuring` record (the operator's "Save"): nothing has been touched yet.
    pub fn configure(new: NewUpgrade, now: Timestamp) -> Self {
        let steps = plan::steps_for(new.mode, new.shape)
            .into_iter()
            .map(StepState::new)
            .collect();
        let mut record = Self {
            id: new.id,
            platform: new.platform,
            from_version: new.from_version,
            to_version: new.to_version,
            mode: new.mode,
            status: Status::Configuring,
            announcement: new.announcement,
            risk_accepted: new.risk_accepted,
            auto_advance: new.auto_advance,
            configuration: new.configuration,
            milestones: Milestones {
                created_at: Some(now),
                ..Milestones::default()
            },
            steps,
            cursor: 0,
            exit: None,
            paused_toggles: None,
            verification: None,
            log: Vec::new(),
        };
        let message = format!(
            "configured {} -> {} in {} mode",
            record.from_version,
            record.to_version,
            record.mode.words()
        );
        record.note(LogLevel::Info, None, message, now);
        record
    }

    /// Appends a line to the log.
    pub fn note(
        &mut self,
        level: LogLevel,
        step: Option<StepKind>,
        message: impl Into<String>,
        now: Timestamp,
    ) {
        self.log.push(LogEntry {
            at: now,
            level,
            step,
            message: message.into(),
        });
    }

    /// The step under the cursor: the exit plan's when terminating or rolling back.
    pub fn current(&self) -> Option<&StepState> {
        match &self.exit {
            Some(exit) => exit.steps.get(exit.cursor),
            None => self.steps.get(self.cursor),
        }
    }

    /// The step under the cursor, mutable.
    pub fn current_mut(&mut self) -> Option<&mut StepState> {
        match &mut self.exit {
            Some(exit) => exit.steps.get_mut(exit.cursor),
            None => self.steps.get_mut(self.cursor),
        }
    }

    /// The main plan's step of this kind.
    pub fn step(&self, kind: StepKind) -> Option<&StepState> {
        self.steps.iter().find(|s| s.kind == kind)
    }

    /// The main plan's step of this kind, mutable.
    pub fn step_mut(&mut self, kind: StepKind) -> Option<&mut StepState> {
        self.steps.iter_mut().find(|s| s.kind == kind)
    }

    /// Whether the engine should run the current step now.
    pub fn wants_run(&self) -> bool {
        self.status.is_active()
            && self.status != Status::Configuring
            && matches!(
                self.current().map(|s| &s.phase),
                Some(StepPhase::Pending | StepPhase::Running | StepPhase::Waiting { .. })
            )
    }

    /// Records the intent to run the current step (saved before any side effect).
    /// Returns the step's kind, or `None` when there is no current step.
    pub fn begin_step(&mut self, now: Timestamp) -> Option<StepKind> {
        let step = self.current_mut()?;
        if matches!(step.phase, StepPhase::Pending) {
            step.attempts += 1;
        }
        step.phase = StepPhase::Running;
        step.started_at.get_or_insert(now);
        step.finished_at = None;
        let kind = step.kind;
        if matches!(self.step(kind).map(|s| s.attempts), Some(1)) && self.exit.is_none() {
            self.note(LogLevel::Info, Some(kind), "step started", now);
        }
        Some(kind)
    }

    /// Records a step's outcome (saved after its side effects).
    pub fn finish_step(&mut self, outcome: &StepOutcome, now: Timestamp) {
        let Some(step) = self.current_mut() else {
            return;
        };
        let kind = step.kind;
        let (phase, level, message) = match outcome {
            StepOutcome::Done => (StepPhase::Done, LogLevel::Info, "step done".to_owned()),
            StepOutcome::WaitFor { reason, .. } => (
                StepPhase::Waiting {
                    reason: reason.clone(),
                },
                LogLevel::Info,
                format!("waiting: {reason}"),
            ),
            StepOutcome::NeedsOperator(reason) => (
                StepPhase::NeedsOperator {
                    reason: reason.clone(),
                },
                LogLevel::Warn,
                format!("needs the operator: {reason}"),
            ),
            StepOutcome::Failed(reason) => (
                StepPhase::Failed {
                    reason: reason.clone(),
                },
                LogLevel::Error,
                format!("step failed: {reason}"),
            ),
        };
        if phase.is_settled() || matches!(phase, StepPhase::Failed { .. }) {
            step.finished_at = Some(now);
        }
        let repeated = step.phase == phase;
        step.phase = phase;
        if !repeated {
            self.note(level, Some(kind), message, now);
        }
    }

    /// Moves the cursor past a settled step; ends an exit plan when its last step settles.
    /// Returns whether the cursor moved.
    pub fn advance(&mut self, now: Timestamp) -> bool {
        if !self.current().is_some_and(|s| s.phase.is_settled()) {
            return false;
        }
        match &mut self.exit {
            Some(exit) => {
                exit.cursor += 1;
                if exit.cursor >= exit.steps.len() {
                    self.end_exit(now);
                }
            }
            None => self.cursor += 1,
        }
        true
    }

    /// Whether every step of the main plan is settled (ready for "Complete").
    pub fn all_steps_settled(&self) -> bool {
        self.exit.is_none() && self.cursor >= self.steps.len()
    }

    fn end_exit(&mut self, now: Timestamp) {
        match self.status {
            Status::Terminating { .. } => {
                self.status = Status::Terminated;
                self.milestones.terminated_at = Some(now);
                self.note(LogLevel::Info, None, "upgrade terminated", now);
            }
            Status::RollingBack => {
                self.status = Status::RolledBack;
                self.milestones.rolled_back_at = Some(now);
                self.note(LogLevel::Info, None, "upgrade rolled back", now);
            }
            _ => {}
        }
    }

    /// Whether the console is in maintenance mode because of this record.
    pub fn in_maintenance(&self) -> bool {
        self.milestones.entered_maintenance_at.is_some()
            && self.milestones.maintenance_exited_at.is_none()
    }

    /// Whether dispatch is paused by this record.
    pub fn dispatch_paused(&self) -> bool {
        self.milestones.dispatch_paused_at.is_some()
            && self.milestones.dispatch_resumed_at.is_none()
    }

    /// Whether any downtime-beginning step has started (terminate is refused after it).
    pub fn downtime_begun(&self) -> Option<StepKind> {
        self.steps
            .iter()
            .find(|s| s.kind.begins_downtime() && s.phase != StepPhase::Pending)
            .map(|s| s.kind)
    }

    /// The before-hooks that ran and must be undone on terminate or rollback.
    pub fn before_hooks_to_undo(&self) -> Vec<String> {
        self.step(StepKind::BeforeHooks)
            .map(|s| {
                s.items
                    .iter()
                    .filter(|i| matches!(i.state, ItemState::Succeeded | ItemState::Running))
                    .map(|i| i.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The instances force-terminated by this upgrade (the items the re-run step re-runs).
    pub fn terminated_instances(&self) -> Vec<String> {
        self.step(StepKind::ForceTerminateTasks)
            .map(|s| {
                s.items
                    .iter()
                    .filter(|i| i.state == ItemState::Succeeded)
                    .map(|i| i.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Why this upgrade cannot be rolled back from its backups, or `None` when every
    /// database has a non-empty backup taken by this upgrade.
    pub fn backup_incomplete(&self) -> Option<String> {
        let Some(backup) = self.step(StepKind::Backup) else {
            return Some(format!("{} mode takes no backup", self.mode.words()));
        };
        if matches!(backup.phase, StepPhase::Skipped { .. }) {
            return Some("the backup step was skipped".to_owned());
        }
        if backup.items.is_empty() {
            return Some("no database was backed up".to_owned());
        }
        let missing: Vec<&str> = backup
            .items
            .iter()
            .filter(|i| {
                i.state != ItemState::Succeeded
                    || i.fact("size")
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(0)
                        == 0
                    || i.fact("file").is_none()
            })
            .map(|i| i.name.as_str())
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "the backup of {} is not complete (a backup must succeed with a non-empty file)",
                missing.join(", ")
            )
        })
    }

    /// The deterministic id of a re-run request: the same (upgrade, step, batch) always
    /// sends the same id, so the scheduler starts nothing twice after a crash.
    pub fn rerun_request_id(&self, step: StepKind, batch: usize) -> String {
        format!("{}:{}:{}", self.id, step.as_str(), batch)
    }

    /// Percent of the main plan's steps settled.
    pub fn percent(&self) -> u8 {
        if self.steps.is_empty() {
            return 100;
        }
        let settled = self.steps.iter().filter(|s| s.phase.is_settled()).count();
        u8::try_from(settled * 100 / self.steps.len()).unwrap_or(100)
    }
}
