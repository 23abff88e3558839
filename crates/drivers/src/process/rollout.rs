//! Replacing an application's instance by a new version: `recreate` and `rolling`.
//!
//! A rollout is a short sequence of phases; the phase reached is saved after each one,
//! so a changeover that crashed mid-way resumes with the next phase (e.g. new instance
//! already started and healthy → just switch and retire the old one).
//!
//! | phase | recreate | rolling |
//! | --- | --- | --- |
//! | `planned` → | stop old | start new on a free port |
//! | `old_stopped` → | start new on the old port | — |
//! | `new_started` → | wait healthy | wait healthy |
//! | `new_healthy` → | route to new | route to new, old draining |
//! | `switched` → | — | wait the drain period |
//! | `drained` → | — | stop old, drop it from the routes |
//! | `old_retired` | done | done |

use serde::{Deserialize, Serialize};

use super::instance::{self, Liveness, StopOutcome, liveness};
use super::state::{InstanceRecord, Rollout};
use super::{AppSpec, InstanceInfo, ProcessDriver, ProcessError, Strategy, health, port_if_free};

/// The last recorded step of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutPhase {
    Planned,
    OldStopped,
    NewStarted,
    NewHealthy,
    Switched,
    Drained,
    OldRetired,
}

/// A rollout in progress, for status pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutStatus {
    pub strategy: Strategy,
    pub target_version: String,
    pub phase: RolloutPhase,
    pub new_instance: Option<String>,
}

impl RolloutStatus {
    pub(crate) fn of(rollout: &Rollout) -> Self {
        Self {
            strategy: rollout.strategy,
            target_version: rollout.target_version.clone(),
            phase: rollout.phase,
            new_instance: rollout.new.as_ref().map(|n| n.instance_id.clone()),
        }
    }
}

/// What an upgrade call did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutReport {
    pub app: String,
    pub strategy: Strategy,
    pub from_version: Option<String>,
    pub to_version: String,
    /// The phase reached; `old_retired` when `completed`.
    pub phase: RolloutPhase,
    pub completed: bool,
    /// The phase a previous, interrupted call had reached, when this call resumed it.
    pub resumed_from: Option<RolloutPhase>,
    /// True when the application had no serving instance for a while (recreate stops the
    /// old instance before the new one is healthy): callers may have seen failed requests.
    pub service_interrupted: bool,
    /// How the old instance was stopped, when this call stopped it.
    pub old_stop: Option<StopOutcome>,
    pub new_instance: Option<InstanceInfo>,
}

impl ProcessDriver {
    /// Moves `spec.name` to `spec.version` with `spec.strategy`, or resumes the rollout to
    /// that version that an earlier call began. Starts the application when nothing runs;
    /// does nothing when that version already serves.
    ///
    /// If the new instance never becomes healthy the rollout stays at `new_started` with
    /// the instance left running for diagnosis (rolling: the old one keeps serving); call
    /// again to retry, or [`ProcessDriver::abort_rollout`].
    pub async fn upgrade(&self, spec: &AppSpec) -> Result<RolloutReport, ProcessError> {
        self.upgrade_until(spec, None).await
    }

    /// Like [`ProcessDriver::upgrade`], but returns once `pause_after` is recorded (a
    /// canary pause; call again to go on).
    pub async fn upgrade_until(
        &self,
        spec: &AppSpec,
        pause_after: Option<RolloutPhase>,
    ) -> Result<RolloutReport, ProcessError> {
        spec.validate()?;
        let app = spec.name.as_str();
        let _guard = self.lock_app(app).await;
        let mut state = self.load_or_new(app)?;
        let resumed_from = match &state.rollout {
            Some(rollout) if rollout.target_version != spec.version => {
                return Err(ProcessError::RolloutInProgress {
                    app: app.to_owned(),
                    target: rollout.target_version.clone(),
                });
            }
            Some(rollout) => Some(rollout.phase),
            None => None,
        };
        if resumed_from.is_none() {
            let old = match state.current.as_mut() {
                Some(current) if !current.stopped => {
                    matches!(liveness(&self.children, current), Liveness::Alive)
                        .then(|| current.clone())
                }
                _ => None,
            };
            if let Some(old) = &old
                && old.version == spec.version
            {
                return Ok(RolloutReport {
                    app: app.to_owned(),
                    strategy: spec.strategy,
                    from_version: Some(old.version.clone()),
                    to_version: spec.version.clone(),
                    phase: RolloutPhase::OldRetired,
                    completed: true,
                    resumed_from: None,
                    service_interrupted: false,
                    old_stop: None,
                    new_instance: Some(InstanceInfo::of(app, old)),
                });
            }
            state.rollout = Some(Rollout {
                strategy: spec.strategy,
                target_version: spec.version.clone(),
                phase: RolloutPhase::Planned,
                old_was_serving: old.is_some(),
                old,
                new: None,
            });
            self.save(&state)?;
            tracing::info!(app, to = %spec.version, strategy = ?spec.strategy, "rollout planned");
        } else {
            tracing::info!(app, to = %spec.version, phase = ?resumed_from, "resuming rollout");
        }

        let mut old_stop = None;
        let mut first_step = true;
        loop {
            let Some(rollout) = state.rollout.as_mut() else {
                return Err(ProcessError::StateDamaged {
                    path: format!("apps/{app}.json").into(),
                    detail: "the rollout vanished while it ran".to_owned(),
                });
            };
            let report = |rollout: &Rollout, completed: bool, old_stop| RolloutReport {
                app: app.to_owned(),
                strategy: rollout.strategy,
                from_version: rollout.old.as_ref().map(|o| o.version.clone()),
                to_version: rollout.target_version.clone(),
                phase: rollout.phase,
                completed,
                resumed_from,
                service_interrupted: rollout.strategy == Strategy::Recreate
                    && rollout.old_was_serving,
                old_stop,
                new_instance: rollout.new.as_ref().map(|n| InstanceInfo::of(app, n)),
            };
            if rollout.phase == RolloutPhase::OldRetired {
                let done = report(rollout, true, old_stop);
                state.current = rollout.new.take();
                state.rollout = None;
                self.save(&state)?;
                tracing::info!(app, to = %spec.version, "rollout complete");
                return Ok(done);
            }
            if pause_after == Some(rollout.phase) && !first_step {
                return Ok(report(rollout, false, old_stop));
            }
            let next = self
                .rollout_step(
                    spec,
                    &mut state.next_instance,
                    rollout,
                    first_step,
                    &mut old_stop,
                )
                .await;
            first_step = false;
            // The serving record and the rollout's copy of it must tell the same story.
            if let Some(old) = &rollout.old
                && state
                    .current
                    .as_ref()
                    .is_some_and(|c| c.instance_id == old.instance_id)
            {
                state.current = Some(old.clone());
            }
            match next {
                Ok(phase) => {
                    rollout.phase = phase;
                    tracing::info!(app, phase = ?phase, "rollout step recorded");
                    self.save(&state)?;
                }
                Err(e) => {
                    self.save(&state)?;
                    return Err(e);
                }
            }
        }
    }

    /// One phase of a rollout; returns the phase reached. Never saves: the caller does.
    async fn rollout_step(
        &self,
        spec: &AppSpec,
        next_instance: &mut u64,
        rollout: &mut Rollout,
        first_step: bool,
        old_stop: &mut Option<StopOutcome>,
    ) -> Result<RolloutPhase, ProcessError> {
        let app = spec.name.as_str();
        let rolling = rollout.strategy == Strategy::Rolling;
        Ok(match rollout.phase {
            RolloutPhase::Planned if !rolling => {
                if let Some(old) = rollout.old.as_mut() {
                    *old_stop = Some(instance::stop(app, &self.children, old).await);
                }
                RolloutPhase::OldStopped
            }
            RolloutPhase::Planned | RolloutPhase::OldStopped => {
                let port = match (&rollout.old, spec.port) {
                    (Some(old), _) if !rolling => old.port,
                    (None, Some(port)) => port,
                    (Some(old), Some(port)) if rolling && old.port != port => {
                        port_if_free(Some(port))?
                    }
                    _ => port_if_free(None)?,
                };
                rollout.new = Some(self.spawn(spec, next_instance, port)?);
                RolloutPhase::NewStarted
            }
            RolloutPhase::NewStarted => {
                let Some(new) = rollout.new.as_mut() else {
                    // Recorded started without an instance: start it.
                    return Ok(if rolling {
                        RolloutPhase::Planned
                    } else {
                        RolloutPhase::OldStopped
                    });
                };
                if first_step && matches!(liveness(&self.children, new), Liveness::Ended(_)) {
                    // A retry after the new instance ended: start a fresh one.
                    tracing::warn!(app, instance = %new.instance_id, "new instance ended; starting another");
                    return Ok(if rolling {
                        RolloutPhase::Planned
                    } else {
                        RolloutPhase::OldStopped
                    });
                }
                health::wait_healthy(app, &self.http, &self.children, &spec.health, new).await?;
                RolloutPhase::NewHealthy
            }
            RolloutPhase::NewHealthy => {
                let new_address = new_record(app, rollout)?.address();
                let old_address = rollout.old.as_ref().map(InstanceRecord::address);
                self.update_route(app, |route| {
                    if rolling
                        && let Some(old) = old_address
                        && old != new_address
                        && !route.draining.contains(&old)
                    {
                        route.draining.push(old);
                    }
                    route.current = Some(new_address.clone());
                })?;
                tracing::info!(app, upstream = %new_address, "route switched");
                RolloutPhase::Switched
            }
            RolloutPhase::Switched => {
                if rolling && rollout.old.is_some() {
                    tokio::time::sleep(spec.drain()).await;
                }
                RolloutPhase::Drained
            }
            RolloutPhase::Drained => {
                if rolling && let Some(old) = rollout.old.as_mut() {
                    *old_stop = Some(instance::stop(app, &self.children, old).await);
                    let old_address = old.address();
                    self.update_route(app, |route| route.draining.retain(|d| *d != old_address))?;
                }
                RolloutPhase::OldRetired
            }
            RolloutPhase::OldRetired => RolloutPhase::OldRetired,
        })
    }

    /// Abandons the rollout of `app`: stops the new instance and, if the old one still
    /// runs, routes to it again. Does nothing without a rollout.
    pub async fn abort_rollout(&self, app: &str) -> Result<AppStatusAfterAbort, ProcessError> {
        let _guard = self.lock_app(app).await;
        let mut state = self.load(app)?;
        let Some(mut rollout) = state.rollout.take() else {
            return Ok(AppStatusAfterAbort { old_serving: false });
        };
        if let Some(new) = rollout.new.as_mut() {
            instance::stop(app, &self.children, new).await;
        }
        let mut old_serving = false;
        if let Some(mut old) = rollout.old.take() {
            if !old.stopped && matches!(liveness(&self.children, &mut old), Liveness::Alive) {
                let address = old.address();
                self.update_route(app, |route| {
                    route.draining.retain(|d| *d != address);
                    route.current = Some(address.clone());
                })?;
                old_serving = true;
            }
            state.current = Some(old);
        }
        self.save(&state)?;
        tracing::info!(app, old_serving, "rollout aborted");
        Ok(AppStatusAfterAbort { old_serving })
    }
}

/// What an abort left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppStatusAfterAbort {
    /// The old instance runs and receives requests again.
    pub old_serving: bool,
}

fn new_record<'a>(app: &str, rollout: &'a Rollout) -> Result<&'a InstanceRecord, ProcessError> {
    rollout
        .new
        .as_ref()
        .ok_or_else(|| ProcessError::StateDamaged {
            path: format!("apps/{app}.json").into(),
            detail: "the rollout is past its start but names no new instance".to_owned(),
        })
}
