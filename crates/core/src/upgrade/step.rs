//! The steps of an upgrade, their phases and the outcomes a step's run reports.

use std::fmt;
use std::time::Duration;

use super::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::item::{Item, ItemState};

/// The kinds of step, in the vocabulary of the seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Console maintenance mode on; in full downtime, dispatch paused too (scheduling off,
    /// execution on) with the toggles it changed remembered.
    EnterMaintenance,
    /// The bundle's `hooks.before` (e.g. turn the platform's HA off).
    BeforeHooks,
    /// Full downtime 1: terminate running instances until none runs.
    ForceTerminateTasks,
    /// Full downtime 2: stop every application except `always_on` ones.
    Stop,
    /// Back up every metadata database (full: waits; partial: starts and moves on).
    Backup,
    /// Partial downtime 2: prepare every application (artifacts, config, dry-run migrations).
    PreUpgrade,
    /// Migrate the metadata databases and start the target version (rolling where declared;
    /// everything rolling in zero downtime). Partial downtime pauses dispatch around it.
    UpgradeApplications,
    /// Full downtime 5: re-run every force-terminated instance exactly once.
    RerunTasks,
    /// Run the bundle's data-update tasks; dispatch resumes when the blocking ones are done.
    DataUpdate,
    /// The bundle's `hooks.after` (e.g. turn HA back on).
    AfterHooks,
    /// Check the workload (design.md §5) and give a verdict the operator can overrule.
    Verify,
    /// Exit: undo the before-hooks that ran (terminate, rollback).
    UndoBeforeHooks,
    /// Exit: restore the toggles changed on entering maintenance and exit maintenance mode.
    ResumeDispatch,
    /// Rollback: stop the target version.
    StopTarget,
    /// Rollback: restore every metadata database from this upgrade's backups.
    RestoreBackups,
    /// Rollback: start the previous version and health-check every application.
    StartPrevious,
}

/// Whether the operator may skip a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipRule {
    /// Never; the sentence says why and what to do instead.
    Never(&'static str),
    /// Only with an explicit risk acknowledgement (`--accept-risk`).
    WithRisk,
}

impl StepKind {
    /// The name used in records, logs and crash points.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::EnterMaintenance => "enter-maintenance",
            StepKind::BeforeHooks => "before-hooks",
            StepKind::ForceTerminateTasks => "force-terminate-tasks",
            StepKind::Stop => "stop",
            StepKind::Backup => "backup",
            StepKind::PreUpgrade => "pre-upgrade",
            StepKind::UpgradeApplications => "upgrade-applications",
            StepKind::RerunTasks => "rerun-tasks",
            StepKind::DataUpdate => "data-update",
            StepKind::AfterHooks => "after-hooks",
            StepKind::Verify => "verify",
            StepKind::UndoBeforeHooks => "undo-before-hooks",
            StepKind::ResumeDispatch => "resume-dispatch",
            StepKind::StopTarget => "stop-target",
            StepKind::RestoreBackups => "restore-backups",
            StepKind::StartPrevious => "start-previous",
        }
    }

    /// Whether the operator may skip this step (seeds: backup with the risk statement;
    /// verification overruled by the operator; hooks are the bundle's, so also with risk).
    pub fn skip_rule(self) -> SkipRule {
        match self {
            StepKind::Backup | StepKind::Verify | StepKind::BeforeHooks | StepKind::AfterHooks => {
                SkipRule::WithRisk
            }
            StepKind::EnterMaintenance | StepKind::ResumeDispatch => SkipRule::Never(
                "dispatch and maintenance mode must follow the upgrade; use `changeover upgrade retry`",
            ),
            StepKind::ForceTerminateTasks => SkipRule::Never(
                "the upgrade proceeds only when no instance runs; terminate them with `changeover upgrade tasks terminate --all` or wait for them to finish",
            ),
            StepKind::Stop | StepKind::UpgradeApplications | StepKind::PreUpgrade => {
                SkipRule::Never(
                    "the applications must run the target version; use `changeover upgrade retry`, or `changeover upgrade force-terminate --mark failed` and roll back",
                )
            }
            StepKind::RerunTasks => SkipRule::Never(
                "force-terminated instances must be re-run; use `changeover upgrade retry` or `changeover upgrade tasks rerun IDS`",
            ),
            StepKind::DataUpdate => SkipRule::Never(
                "skip data-update tasks one by one with `changeover upgrade data-update skip IDS`",
            ),
            StepKind::UndoBeforeHooks
            | StepKind::StopTarget
            | StepKind::RestoreBackups
            | StepKind::StartPrevious => SkipRule::Never(
                "an exit step restores the platform; use `changeover upgrade retry`, or `changeover upgrade force-terminate --mark failed`",
            ),
        }
    }

    /// Whether starting this step begins downtime (after it, terminate is refused).
    pub fn begins_downtime(self) -> bool {
        matches!(self, StepKind::Stop | StepKind::UpgradeApplications)
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum StepPhase {
    Pending,
    /// Its intent is recorded; its side effects may have happened (resume re-runs it; each
    /// side effect is idempotent or guarded by a recorded id).
    Running,
    /// Waiting for something outside (backups, instances finishing, tasks).
    Waiting {
        reason: String,
    },
    /// The operator must act; the reason names the command.
    NeedsOperator {
        reason: String,
    },
    Done,
    Failed {
        reason: String,
    },
    Skipped {
        risk_accepted: bool,
    },
}

impl StepPhase {
    /// Whether the cursor may move past this step.
    pub fn is_settled(&self) -> bool {
        matches!(self, StepPhase::Done | StepPhase::Skipped { .. })
    }

    pub fn label(&self) -> &'static str {
        match self {
            StepPhase::Pending => "pending",
            StepPhase::Running => "running",
            StepPhase::Waiting { .. } => "waiting",
            StepPhase::NeedsOperator { .. } => "needs operator",
            StepPhase::Done => "done",
            StepPhase::Failed { .. } => "failed",
            StepPhase::Skipped { .. } => "skipped",
        }
    }
}

/// One step of a record: phase, times, attempts, items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepState {
    pub kind: StepKind,
    #[serde(flatten)]
    pub phase: StepPhase,
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub items: Vec<Item>,
}

impl StepState {
    pub fn new(kind: StepKind) -> Self {
        Self {
            kind,
            phase: StepPhase::Pending,
            attempts: 0,
            started_at: None,
            finished_at: None,
            items: Vec::new(),
        }
    }

    /// The item with this name.
    pub fn item(&self, name: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.name == name)
    }

    /// The item with this name, mutable.
    pub fn item_mut(&mut self, name: &str) -> Option<&mut Item> {
        self.items.iter_mut().find(|i| i.name == name)
    }

    /// Adds an item unless one with that name exists; returns it.
    pub fn ensure_item(&mut self, item: Item) -> &mut Item {
        let index = match self.items.iter().position(|i| i.name == item.name) {
            Some(index) => index,
            None => {
                self.items.push(item);
                self.items.len() - 1
            }
        };
        &mut self.items[index]
    }

    /// Percent of items settled (succeeded or skipped); a step without items is 0 or 100.
    pub fn percent(&self) -> u8 {
        if self.items.is_empty() {
            return if self.phase.is_settled() { 100 } else { 0 };
        }
        let settled = self.items.iter().filter(|i| i.state.is_settled()).count();
        u8::try_from(settled * 100 / self.items.len()).unwrap_or(100)
    }

    /// Whether every item succeeded or was skipped.
    pub fn all_items_settled(&self) -> bool {
        self.items.iter().all(|i| i.state.is_settled())
    }

    /// Items that failed.
    pub fn failed_items(&self) -> impl Iterator<Item = &Item> {
        self.items
            .iter()
            .filter(|i| matches!(i.state, ItemState::Failed { .. }))
    }
}

/// What a step's run says should happen next; the engine's loop acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step is complete; the cursor may move.
    Done,
    /// Run the step again after this long (backups, instances, tasks still going).
    WaitFor { after: Duration, reason: String },
    /// Stop and wait for the operator; the reason names the command to run.
    NeedsOperator(String),
    /// The step failed; the reason says what failed and how to get out.
    Failed(String),
}
