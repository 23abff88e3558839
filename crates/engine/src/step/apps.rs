//! The applications: stop, pre-upgrade, upgrade (with the metadata migrations), and the
//! rollback's stop-target and start-previous.

use super::dispatch;
use super::{failed, intent, outcome, settled};
use crate::driver::Engine;
use crate::error::EngineError;
use crate::target::AppSpec;
use crate::upgrade::{ItemState, Mode, StepKind, StepOutcome, UpgradeRecord};

/// Full downtime 2: stop every application except the always-on ones.
pub(super) async fn stop(e: &Engine, r: &mut UpgradeRecord) -> Result<StepOutcome, EngineError> {
    stop_apps(e, r, StepKind::Stop).await
}

/// Rollback 1: stop the target version (always-on ones are replaced rolling later).
pub(super) async fn stop_target(
    e: &Engine,
    r: &mut UpgradeRecord,
) -> Result<StepOutcome, EngineError> {
    stop_apps(e, r, StepKind::StopTarget).await
}

async fn stop_apps(
    e: &Engine,
    r: &mut UpgradeRecord,
    kind: StepKind,
) -> Result<StepOutcome, EngineError> {
    // Full downtime stops what runs now: the target's applications and the current
    // version's ones the target drops.
    let retired: Vec<AppSpec> = if kind == StepKind::Stop {
        e.target.retired().cloned().collect()
    } else {
        Vec::new()
    };
    for app in e
        .target
        .applications
        .iter()
        .chain(&retired)
        .filter(|a| !a.always_on)
    {
        if settled(r, &app.name) {
            continue;
        }
        intent(e, r, kind, &app.name).await?;
        match e.platform.applications.stop(&app.name).await {
            Ok(()) => outcome(e, r, kind, &app.name, ItemState::Succeeded).await?,
            Err(err) => {
                outcome(e, r, kind, &app.name, failed(&err)).await?;
                return Ok(StepOutcome::Failed(format!(
                    "stopping application `{}` failed: {err}; retry with `changeover upgrade retry`",
                    app.name
                )));
            }
        }
    }
    Ok(StepOutcome::Done)
}

/// Partial downtime 2: every application prepares the target (artifacts, configuration)
/// and every database dry-runs its migrations; nothing is started or changed.
pub(super) async fn prepare(e: &Engine, r: &mut UpgradeRecord) -> Result<StepOutcome, EngineError> {
    let kind = StepKind::PreUpgrade;
    let to = r.to_version.clone();
    let mut failures = Vec::new();
    for app in &e.target.applications {
        if settled(r, &app.name) {
            continue;
        }
        intent(e, r, kind, &app.name).await?;
        let result = e.platform.applications.prepare(&app.name, &to).await;
        if let Err(err) = &result {
            failures.push(format!("{}: {err}", app.name));
        }
        let state = result.map_or_else(|err| failed(&err), |()| ItemState::Succeeded);
        outcome(e, r, kind, &app.name, state).await?;
    }
    for db in &e.target.databases {
        let name = format!("dry-run:{db}");
        if settled(r, &name) {
            continue;
        }
        intent(e, r, kind, &name).await?;
        let result = e.platform.databases.dry_run(db).await;
        if let Err(err) = &result {
            failures.push(format!("{name}: {err}"));
        }
        let state = result.map_or_else(|err| failed(&err), |()| ItemState::Succeeded);
        outcome(e, r, kind, &name, state).await?;
    }
    if failures.is_empty() {
        Ok(StepOutcome::Done)
    } else {
        Ok(StepOutcome::Failed(format!(
            "pre-upgrade failed: {}; fix and retry with `changeover upgrade retry`",
            failures.join("; ")
        )))
    }
}

/// Migrates every metadata database, then starts the target version of every application
/// (rolling where declared and for always-on ones, in every mode: zero downtime promises
/// that always-on services keep answering; a `recreate` application such as a scheduler
/// keeps its address, and its running instances are adopted, not lost). In partial downtime,
/// dispatch is paused only around this step and resumed (maintenance exited) at its end.
///
/// # Guarantees
/// - An application found already running the target version is not restarted.
/// - A failure keeps maintenance mode on.
pub(super) async fn upgrade(e: &Engine, r: &mut UpgradeRecord) -> Result<StepOutcome, EngineError> {
    let kind = StepKind::UpgradeApplications;
    if r.mode == Mode::Partial
        && let Err(err) = dispatch::pause(e, r).await?
    {
        return Ok(StepOutcome::Failed(format!(
            "pausing dispatch failed: {err}; retry with `changeover upgrade retry`"
        )));
    }
    for db in &e.target.databases {
        let name = format!("migrate:{db}");
        if settled(r, &name) {
            continue;
        }
        intent(e, r, kind, &name).await?;
        if let Err(err) = e.platform.databases.migrate(db).await {
            outcome(e, r, kind, &name, failed(&err)).await?;
            return Ok(StepOutcome::Failed(format!(
                "migrating database `{db}` failed: {err}; retry with `changeover upgrade retry`, or force-terminate and roll back"
            )));
        }
        outcome(e, r, kind, &name, ItemState::Succeeded).await?;
    }
    // Applications the target version no longer has are stopped before the new ones start
    // (they may hold the ports the new ones need).
    for app in e.target.retired().cloned().collect::<Vec<_>>() {
        let name = format!("retire:{}", app.name);
        if settled(r, &name) {
            continue;
        }
        intent(e, r, kind, &name).await?;
        if let Err(err) = e.platform.applications.stop(&app.name).await {
            outcome(e, r, kind, &name, failed(&err)).await?;
            return Ok(StepOutcome::Failed(format!(
                "stopping application `{}`, which {} no longer has, failed: {err}; retry with `changeover upgrade retry`",
                app.name, r.to_version
            )));
        }
        outcome(e, r, kind, &name, ItemState::Succeeded).await?;
    }
    let to = r.to_version.clone();
    let apps = e.target.applications.clone();
    if let Some(failure) = start_apps(e, r, kind, &to, &apps, |a| a.rolling || a.always_on).await? {
        return Ok(StepOutcome::Failed(failure));
    }
    if r.mode == Mode::Partial {
        // "Exit maintenance mode and next": dispatch resumes, the time is recorded
        if let Err(err) = dispatch::resume(e, r).await? {
            return Ok(StepOutcome::Failed(format!(
                "resuming dispatch failed: {err}; retry with `changeover upgrade retry`"
            )));
        }
        dispatch::exit_maintenance(e, r).await?;
    }
    Ok(StepOutcome::Done)
}

/// Rollback 3: start the previous version and check every application is healthy.
pub(super) async fn start_previous(
    e: &Engine,
    r: &mut UpgradeRecord,
) -> Result<StepOutcome, EngineError> {
    let from = r.from_version.clone();
    let apps = e.target.previous().to_vec();
    let failure = start_apps(e, r, StepKind::StartPrevious, &from, &apps, |a| a.always_on).await?;
    if let Some(failure) = failure {
        return Ok(StepOutcome::Failed(failure));
    }
    // the restored backup was taken with dispatch paused: restore the toggles recorded
    // on pausing, or the previous version comes back with scheduling off
    for t in r.paused_toggles.clone().unwrap_or_default() {
        let scheduling = t.scheduling.then_some(true);
        if let Err(err) = e
            .platform
            .scheduler
            .set_toggles(&t.environment, scheduling, Some(t.execution))
            .await
        {
            return Ok(StepOutcome::Failed(format!(
                "restoring the dispatch toggles of `{}` failed: {err}; retry with `changeover upgrade retry`",
                t.environment
            )));
        }
    }
    Ok(StepOutcome::Done)
}

async fn start_apps(
    e: &Engine,
    r: &mut UpgradeRecord,
    kind: StepKind,
    version: &str,
    apps: &[AppSpec],
    rolling: impl Fn(&AppSpec) -> bool,
) -> Result<Option<String>, EngineError> {
    for app in apps {
        if settled(r, &app.name) {
            continue;
        }
        // the resume guard: an application already on `version` is not restarted
        if let Ok(Some(running)) = e.platform.applications.running_version(&app.name).await
            && running == version
        {
            outcome(e, r, kind, &app.name, ItemState::Succeeded).await?;
            continue;
        }
        intent(e, r, kind, &app.name).await?;
        match e
            .platform
            .applications
            .start(&app.name, version, rolling(app))
            .await
        {
            Ok(()) => outcome(e, r, kind, &app.name, ItemState::Succeeded).await?,
            Err(err) => {
                outcome(e, r, kind, &app.name, failed(&err)).await?;
                return Ok(Some(format!(
                    "application `{}` did not start version {version}: {err}; restart it with `changeover upgrade retry`, or force-terminate and roll back",
                    app.name
                )));
            }
        }
    }
    Ok(None)
}
