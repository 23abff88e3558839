//! The loop: run the current step, save its outcome, move on or stop for the operator.

use std::sync::Arc;
use std::time::Duration;

use crate::background::Background;
use crate::crash;
use crate::error::EngineError;
use crate::port::{Applications, Databases, Hooks, Records, Requests, Scheduler};
use crate::step;
use crate::target::Target;
use crate::upgrade::{Action, Status, StepKind, StepOutcome, StepPhase, Timestamp, UpgradeRecord};

/// The platform's ports.
#[derive(Clone)]
pub struct Platform {
    pub scheduler: Arc<dyn Scheduler>,
    pub applications: Arc<dyn Applications>,
    pub databases: Arc<dyn Databases>,
    pub hooks: Arc<dyn Hooks>,
}

/// Drives upgrade records of one platform.
#[derive(Clone)]
pub struct Engine {
    pub platform: Platform,
    pub target: Target,
    pub records: Arc<dyn Records>,
    /// The operator's requests from other processes (data-update stop); the session sets
    /// the store's when it takes the lease ([`crate::session::drive_leased`]).
    pub requests: Arc<dyn Requests>,
    /// Longest wait between two runs of a waiting step.
    pub max_wait: Duration,
    /// Backups running in the background (partial downtime).
    pub background: Background,
}

/// Why [`Engine::drive`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The record reached an end state.
    Ended(Status),
    /// Saved only (`Configuring`): start it with `changeover upgrade next`.
    Saved,
    /// The step is done; the operator continues with `changeover upgrade next`.
    AwaitingNext(StepKind),
    /// Every step is settled; `changeover upgrade next` completes the upgrade.
    AwaitingComplete,
    NeedsOperator {
        step: StepKind,
        reason: String,
    },
    Failed {
        step: StepKind,
        reason: String,
    },
}

impl Engine {
    /// The time recorded in milestones and logs.
    pub fn now(&self) -> Timestamp {
        now()
    }

    /// Saves the record; the only way the engine persists anything.
    pub async fn save(&self, record: &UpgradeRecord) -> Result<(), EngineError> {
        self.records
            .save(record)
            .await
            .map_err(|source| EngineError::Save {
                id: record.id.clone(),
                source,
            })
    }

    /// Runs the record until it ends or needs the operator. May be called again at any
    /// time (after a crash, after an operator action): it resumes from the saved state.
    ///
    /// # Guarantees
    /// - The intent of every step and item is saved before its side effect, its outcome
    ///   after; the cursor moves only once a step's outcome is saved.
    /// # Assumptions
    /// - The caller holds the one-upgrade-at-a-time lease for the whole call.
    pub async fn drive(&self, record: &mut UpgradeRecord) -> Result<Stop, EngineError> {
        let stop = self.turns(record).await?;
        // partial downtime: backups still running are waited for (not blocking any step)
        self.background.collect(self, record, true).await?;
        Ok(stop)
    }

    async fn turns(&self, record: &mut UpgradeRecord) -> Result<Stop, EngineError> {
        loop {
            self.background.collect(self, record, false).await?;
            if record.status.is_final() {
                return Ok(Stop::Ended(record.status));
            }
            if record.status == Status::Configuring {
                return Ok(Stop::Saved);
            }
            let Some(step) = record.current() else {
                if record.auto_advance {
                    record.apply(Action::Next, self.now())?;
                    self.save(record).await?;
                    continue;
                }
                return Ok(Stop::AwaitingComplete);
            };
            let kind = step.kind;
            match step.phase.clone() {
                StepPhase::Done | StepPhase::Skipped { .. } => {
                    if record.auto_advance || record.exit.is_some() {
                        record.advance(self.now());
                        self.save(record).await?;
                        continue;
                    }
                    return Ok(Stop::AwaitingNext(kind));
                }
                StepPhase::NeedsOperator { reason } => {
                    return Ok(Stop::NeedsOperator { step: kind, reason });
                }
                StepPhase::Failed { reason } => return Ok(Stop::Failed { step: kind, reason }),
                StepPhase::Pending | StepPhase::Running | StepPhase::Waiting { .. } => {}
            }
            record.begin_step(self.now());
            self.save(record).await?;
            crash::point(&format!("{kind}:begin"));
            let started = std::time::Instant::now();
            let outcome = step::run(self, record, kind).await?;
            tracing::info!(
                upgrade = %record.id,
                step = %kind,
                elapsed_ms = started.elapsed().as_millis() as u64,
                outcome = ?outcome,
                "step ran"
            );
            record.finish_step(&outcome, self.now());
            self.save(record).await?;
            crash::point(&format!("{kind}:end"));
            if let StepOutcome::WaitFor { after, .. } = outcome {
                tokio::time::sleep(after.min(self.max_wait)).await;
            }
        }
    }
}

/// The wall clock as a core [`Timestamp`].
pub fn now() -> Timestamp {
    Timestamp::from_unix_millis(chrono::Utc::now().timestamp_millis())
}
