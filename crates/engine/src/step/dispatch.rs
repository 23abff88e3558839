//! Maintenance mode and the dispatch toggles: pause remembers what it changed, resume
//! restores exactly that (lessons.md).

use crate::driver::Engine;
use crate::error::EngineError;
use crate::port::PortError;
use crate::upgrade::{LogLevel, Mode, StepKind, StepOutcome, UpgradeRecord};

/// Enter maintenance: console maintenance mode on; in full downtime also dispatch paused
/// (scheduling off, execution on). Partial downtime pauses only around the application
/// upgrade; zero downtime has no maintenance at all.
pub(super) async fn enter_maintenance(
    e: &Engine,
    r: &mut UpgradeRecord,
) -> Result<StepOutcome, EngineError> {
    if r.milestones.entered_maintenance_at.is_none() {
        r.milestones.entered_maintenance_at = Some(e.now());
        r.note(
            LogLevel::Info,
            Some(StepKind::EnterMaintenance),
            "maintenance mode on",
            e.now(),
        );
        e.save(r).await?;
    }
    if r.mode == Mode::Full
        && let Err(err) = pause(e, r).await?
    {
        return Ok(StepOutcome::Failed(format!(
            "pausing dispatch failed: {err}; retry with `changeover upgrade retry`"
        )));
    }
    Ok(StepOutcome::Done)
}

/// Pauses dispatch: records the toggles first (once), then turns scheduling off and
/// execution on in every environment. Idempotent; once dispatch was resumed by this
/// upgrade it is never paused again (a step re-run after a crash must not re-pause).
pub(super) async fn pause(
    e: &Engine,
    r: &mut UpgradeRecord,
) -> Result<Result<(), PortError>, EngineError> {
    if r.milestones.dispatch_resumed_at.is_some() {
        return Ok(Ok(()));
    }
    if r.paused_toggles.is_none() {
        let toggles = match e.platform.scheduler.toggles().await {
            Ok(t) => t,
            Err(err) => return Ok(Err(err)),
        };
        r.paused_toggles = Some(toggles);
        e.save(r).await?;
    }
    let toggles = r.paused_toggles.clone().unwrap_or_default();
    for t in &toggles {
        // dev scheduling is always off; only an environment whose scheduling is on changes
        let scheduling = t.scheduling.then_some(false);
        if let Err(err) = e
            .platform
            .scheduler
            .set_toggles(&t.environment, scheduling, Some(true))
            .await
        {
            return Ok(Err(err));
        }
    }
    if r.milestones.dispatch_paused_at.is_none() {
        r.milestones.dispatch_paused_at = Some(e.now());
        r.note(
            LogLevel::Info,
            None,
            "dispatch paused: scheduling off, execution on",
            e.now(),
        );
        e.save(r).await?;
    }
    Ok(Ok(()))
}

/// Resumes dispatch by restoring the toggles recorded on pausing. Idempotent.
pub(super) async fn resume(
    e: &Engine,
    r: &mut UpgradeRecord,
) -> Result<Result<(), PortError>, EngineError> {
    if r.milestones.dispatch_paused_at.is_some() && r.milestones.dispatch_resumed_at.is_none() {
        for t in r.paused_toggles.clone().unwrap_or_default() {
            let scheduling = t.scheduling.then_some(true);
            if let Err(err) = e
                .platform
                .scheduler
                .set_toggles(&t.environment, scheduling, Some(t.execution))
                .await
            {
                return Ok(Err(err));
            }
        }
        r.milestones.dispatch_resumed_at = Some(e.now());
        r.note(
            LogLevel::Info,
            None,
            "dispatch resumed: toggles restored",
            e.now(),
        );
        e.save(r).await?;
    }
    Ok(Ok(()))
}

/// Exits maintenance mode (records the time once).
pub(super) async fn exit_maintenance(e: &Engine, r: &mut UpgradeRecord) -> Result<(), EngineError> {
    if r.milestones.entered_maintenance_at.is_some() && r.milestones.maintenance_exited_at.is_none()
    {
        r.milestones.maintenance_exited_at = Some(e.now());
        r.note(LogLevel::Info, None, "maintenance mode off", e.now());
        e.save(r).await?;
    }
    Ok(())
}

/// The exit step of terminate: dispatch resumed, maintenance exited.
pub(super) async fn resume_and_exit(
    e: &Engine,
    r: &mut UpgradeRecord,
) -> Result<StepOutcome, EngineError> {
    if let Err(err) = resume(e, r).await? {
        return Ok(StepOutcome::Failed(format!(
            "resuming dispatch failed: {err}; retry with `changeover upgrade retry`"
        )));
    }
    exit_maintenance(e, r).await?;
    Ok(StepOutcome::Done)
}
