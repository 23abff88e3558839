//! The operator's actions and the transitions they make; every refusal names the way out.

use super::time::Timestamp;

use super::item::ItemState;
use super::plan;
use super::record::{ExitPlan, LogLevel, UpgradeRecord};
use super::status::{Mark, Status};
use super::step::{SkipRule, StepKind, StepPhase, StepState};

/// What the operator asks of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// "Enter maintenance mode" / "Start upgrade" on a `Configuring` record.
    Start,
    /// Run the current step, or move past a settled one, or "Complete" after the last.
    Next,
    /// Run a failed (or operator-blocked) step again.
    Retry,
    /// Skip the current step where the seeds allow it (risk acknowledgement required).
    Skip { accept_risk: bool },
    /// End before downtime; optionally re-run the force-terminated instances.
    Terminate { rerun: bool },
    /// End at any step, marked succeeded or failed; nothing is undone.
    ForceTerminate { mark: Mark },
    /// Stop the target, restore this upgrade's backups, start the previous version.
    Rollback,
}

/// Why an action is refused; each message names the command that gets out of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error(
        "upgrade {id} already ended as {status}; start a new one with `changeover upgrade start`"
    )]
    Ended { id: String, status: Status },
    #[error(
        "upgrade {id} is {status}, not configuring: continue it with `changeover upgrade next`"
    )]
    AlreadyStarted { id: String, status: Status },
    #[error(
        "upgrade {id} is only saved (configuring): start it with `changeover upgrade next`, or abandon it with `changeover upgrade terminate`"
    )]
    NotStarted { id: String },
    #[error("step {step} failed: {reason}; run it again with `changeover upgrade retry`{skip}")]
    StepFailed {
        step: StepKind,
        reason: String,
        skip: &'static str,
    },
    #[error("step {step} waits for the operator: {reason}")]
    StepNeedsOperator { step: StepKind, reason: String },
    #[error(
        "step {step} is {phase}, not failed: nothing to retry; continue with `changeover upgrade next`"
    )]
    NothingToRetry { step: StepKind, phase: &'static str },
    #[error("step {step} is already {phase}; continue with `changeover upgrade next`")]
    AlreadySettled { step: StepKind, phase: &'static str },
    #[error("step {step} cannot be skipped: {why}")]
    SkipRefused { step: StepKind, why: &'static str },
    #[error(
        "skipping step {step} is a risk you must acknowledge: repeat with `changeover upgrade skip --accept-risk`"
    )]
    RiskNotAccepted { step: StepKind },
    #[error("every step is done and the upgrade is complete; see `changeover upgrade show {id}`")]
    NothingLeft { id: String },
    #[error(
        "terminate is only possible before downtime begins, and step {step} has started; end the upgrade with `changeover upgrade force-terminate --mark succeeded|failed`, then roll back if needed"
    )]
    DowntimeBegun { step: StepKind },
    #[error("upgrade {id} is already {status}; follow it with `changeover upgrade status`")]
    ExitUnderway { id: String, status: Status },
    #[error(
        "upgrade {id} is still {status}: end it first with `changeover upgrade force-terminate --mark failed`, then roll back"
    )]
    RollbackWhileActive { id: String, status: Status },
    #[error(
        "upgrade {id} was terminated before downtime: nothing was changed, nothing to roll back"
    )]
    NothingToRollBack { id: String },
    #[error(
        "upgrade {id} cannot be rolled back: {reason}; restore the metadata databases by hand from your own backups"
    )]
    NoCompleteBackup { id: String, reason: String },
    #[error("overruling the verification verdict needs {what}: {why}")]
    OverruleInput { what: &'static str, why: String },
    #[error(
        "overruling acts on the verification verdict, but the upgrade is at {at}; follow it with `changeover upgrade status`"
    )]
    NotVerifying { at: String },
    #[error(
        "the verification has no failed verdict to overrule (step verify is {phase}); continue with `changeover upgrade next`"
    )]
    NothingToOverrule { phase: &'static str },
}

impl UpgradeRecord {
    /// Applies an operator action, or refuses it leaving the record unchanged.
    pub fn apply(&mut self, action: Action, now: Timestamp) -> Result<(), ActionError> {
        match action {
            Action::Start => self.start(now),
            Action::Next => self.next(now),
            Action::Retry => self.retry(now),
            Action::Skip { accept_risk } => self.skip(accept_risk, now),
            Action::Terminate { rerun } => self.terminate(rerun, now),
            Action::ForceTerminate { mark } => self.force_terminate(mark, now),
            Action::Rollback => self.rollback(now),
        }
    }

    fn ended(&self) -> ActionError {
        ActionError::Ended {
            id: self.id.clone(),
            status: self.status,
        }
    }

    fn start(&mut self, now: Timestamp) -> Result<(), ActionError> {
        match self.status {
            Status::Configuring => {
                self.status = Status::Upgrading;
                self.milestones.started_at = Some(now);
                self.note(LogLevel::Info, None, "upgrade started", now);
                Ok(())
            }
            s if s.is_final() => Err(self.ended()),
            status => Err(ActionError::AlreadyStarted {
                id: self.id.clone(),
                status,
            }),
        }
    }

    fn next(&mut self, now: Timestamp) -> Result<(), ActionError> {
        match self.status {
            Status::Configuring => return self.start(now),
            Status::Upgrading | Status::Terminating { .. } | Status::RollingBack => {}
            _ => return Err(self.ended()),
        }
        let Some(step) = self.current() else {
            // Every step settled: "Complete" records the completion time.
            self.status = Status::Succeeded;
            self.milestones.completed_at = Some(now);
            self.note(LogLevel::Info, None, "upgrade completed", now);
            return Ok(());
        };
        match &step.phase {
            StepPhase::Pending => Ok(()),
            StepPhase::Done | StepPhase::Skipped { .. } => {
                self.advance(now);
                Ok(())
            }
            // Left running by a changeover that stopped (crash, Ctrl-C): `next` resumes it.
            // A changeover still driving it holds the upgrade lease, which refuses a second.
            StepPhase::Running | StepPhase::Waiting { .. } => {
                let kind = step.kind;
                self.note(LogLevel::Info, Some(kind), "resume requested", now);
                Ok(())
            }
            StepPhase::NeedsOperator { reason } => Err(ActionError::StepNeedsOperator {
                step: step.kind,
                reason: reason.clone(),
            }),
            StepPhase::Failed { reason } => Err(ActionError::StepFailed {
                step: step.kind,
                reason: reason.clone(),
                skip: skip_hint(step),
            }),
        }
    }

    fn retry(&mut self, now: Timestamp) -> Result<(), ActionError> {
        if self.status.is_final() {
            return Err(self.ended());
        }
        if self.status == Status::Configuring {
            return Err(ActionError::NotStarted {
                id: self.id.clone(),
            });
        }
        let Some(step) = self.current_mut() else {
            return Err(ActionError::NothingLeft {
                id: self.id.clone(),
            });
        };
        match step.phase {
            StepPhase::Failed { .. } | StepPhase::NeedsOperator { .. } => {
                step.phase = StepPhase::Pending;
                step.finished_at = None;
                for item in &mut step.items {
                    if matches!(item.state, ItemState::Failed { .. }) {
                        item.state = ItemState::Pending;
                    }
                }
                let kind = step.kind;
                self.note(LogLevel::Info, Some(kind), "retry requested", now);
                Ok(())
            }
            _ => Err(ActionError::NothingToRetry {
                step: step.kind,
                phase: step.phase.label(),
            }),
        }
    }

    fn skip(&mut self, accept_risk: bool, now: Timestamp) -> Result<(), ActionError> {
        if self.status.is_final() {
            return Err(self.ended());
        }
        if self.status == Status::Configuring {
            return Err(ActionError::NotStarted {
                id: self.id.clone(),
            });
        }
        let Some(step) = self.current_mut() else {
            return Err(ActionError::NothingLeft {
                id: self.id.clone(),
            });
        };
        if step.phase.is_settled() {
            return Err(ActionError::AlreadySettled {
                step: step.kind,
                phase: step.phase.label(),
            });
        }
        match step.kind.skip_rule() {
            SkipRule::Never(why) => Err(ActionError::SkipRefused {
                step: step.kind,
                why,
            }),
            SkipRule::WithRisk if !accept_risk => {
                Err(ActionError::RiskNotAccepted { step: step.kind })
            }
            SkipRule::WithRisk if step.kind == StepKind::Verify => {
                // skipping verification overrules its verdict; `overrule_verification`
                // records who and why as well
                self.settle_overruled(None, None, now);
                Ok(())
            }
            SkipRule::WithRisk => {
                step.phase = StepPhase::Skipped {
                    risk_accepted: true,
                };
                step.finished_at = Some(now);
                let kind = step.kind;
                self.note(
                    LogLevel::Warn,
                    Some(kind),
                    "skipped by the operator, risk accepted",
                    now,
                );
                Ok(())
            }
        }
    }

    fn terminate(&mut self, rerun: bool, now: Timestamp) -> Result<(), ActionError> {
        match self.status {
            Status::Configuring => {
                self.status = Status::Terminated;
                self.milestones.terminated_at = Some(now);
                self.note(LogLevel::Info, None, "saved upgrade abandoned", now);
                return Ok(());
            }
            Status::Upgrading => {}
            status @ (Status::Terminating { .. } | Status::RollingBack) => {
                return Err(ActionError::ExitUnderway {
                    id: self.id.clone(),
                    status,
                });
            }
            _ => return Err(self.ended()),
        }
        if let Some(step) = self.downtime_begun() {
            return Err(ActionError::DowntimeBegun { step });
        }
        let undo = !self.before_hooks_to_undo().is_empty();
        let restore = self.in_maintenance() || self.dispatch_paused();
        let rerun_any = rerun && !self.terminated_instances().is_empty();
        let steps = plan::terminate_steps(undo, restore, rerun_any);
        self.note(LogLevel::Info, None, "terminate requested", now);
        if steps.is_empty() {
            // Nothing was touched yet: terminated at once.
            self.status = Status::Terminated;
            self.milestones.terminated_at = Some(now);
            self.note(LogLevel::Info, None, "upgrade terminated", now);
        } else {
            self.begin_exit(steps, now);
            self.status = Status::Terminating { rerun };
        }
        Ok(())
    }

    fn begin_exit(&mut self, kinds: Vec<StepKind>, _now: Timestamp) {
        self.exit = Some(ExitPlan {
            steps: kinds.into_iter().map(StepState::new).collect(),
            cursor: 0,
        });
    }

    fn force_terminate(&mut self, mark: Mark, now: Timestamp) -> Result<(), ActionError> {
        if self.status.is_final() {
            return Err(self.ended());
        }
        self.status = Status::ForceTerminated { mark };
        self.milestones.force_completed_at = Some(now);
        let at = self.current().map(|s| s.kind);
        self.note(
            LogLevel::Warn,
            at,
            format!("force-terminated by the operator, marked {mark:?}; nothing was undone"),
            now,
        );
        Ok(())
    }

    fn rollback(&mut self, now: Timestamp) -> Result<(), ActionError> {
        match self.status {
            Status::Succeeded | Status::Failed | Status::ForceTerminated { .. } => {}
            Status::Terminated => {
                return Err(ActionError::NothingToRollBack {
                    id: self.id.clone(),
                });
            }
            Status::RolledBack => return Err(self.ended()),
            status @ Status::RollingBack => {
                return Err(ActionError::ExitUnderway {
                    id: self.id.clone(),
                    status,
                });
            }
            status => {
                return Err(ActionError::RollbackWhileActive {
                    id: self.id.clone(),
                    status,
                });
            }
        }
        if let Some(reason) = self.backup_incomplete() {
            return Err(ActionError::NoCompleteBackup {
                id: self.id.clone(),
                reason,
            });
        }
        let undo = !self.before_hooks_to_undo().is_empty();
        self.begin_exit(plan::rollback_steps(undo), now);
        self.status = Status::RollingBack;
        self.note(LogLevel::Warn, None, "rollback requested", now);
        Ok(())
    }

    /// Skips data-update tasks by name (`changeover upgrade data-update skip`); refuses
    /// tasks declared not skippable, and tasks already settled or running.
    pub fn skip_data_updates(&mut self, names: &[String], now: Timestamp) -> Result<(), String> {
        let step = self
            .step_mut(StepKind::DataUpdate)
            .ok_or("this upgrade has no data-update step")?;
        for name in names {
            let item = step
                .item(name)
                .ok_or_else(|| format!("no data-update task `{name}` in this upgrade"))?;
            if !item.flag("skippable") {
                return Err(format!(
                    "data-update task `{name}` is not skippable; start it with `changeover upgrade data-update run {name}`"
                ));
            }
            if matches!(item.state, ItemState::Running | ItemState::Succeeded) {
                return Err(format!(
                    "data-update task `{name}` is {}; stop it first with `changeover upgrade data-update stop {name}`",
                    item.state.label()
                ));
            }
        }
        for name in names {
            if let Some(item) = step.item_mut(name) {
                item.finish(
                    ItemState::Skipped {
                        reason: "skipped by the operator".into(),
                    },
                    now,
                );
            }
        }
        self.note(
            LogLevel::Warn,
            Some(StepKind::DataUpdate),
            format!("skipped by the operator: {}", names.join(", ")),
            now,
        );
        Ok(())
    }
}

fn skip_hint(step: &StepState) -> &'static str {
    match step.kind.skip_rule() {
        SkipRule::WithRisk => " or skip it with `changeover upgrade skip --accept-risk`",
        SkipRule::Never(_) => "",
    }
}
