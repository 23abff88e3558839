//! The operator's item-level actions: terminate or re-run chosen instances, run or skip
//! data-update tasks. Each acts on the step it belongs to and is refused elsewhere.

use crate::driver::Engine;
use crate::error::EngineError;
use crate::port::Requests;
use crate::step;
use crate::upgrade::{Action, ItemState, StepKind, StepPhase, UpgradeRecord};

/// Which items an operator action names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Ids(Vec<String>),
}

fn require_current(r: &UpgradeRecord, kind: StepKind, command: &str) -> Result<(), EngineError> {
    match r.current() {
        Some(step) if step.kind == kind => Ok(()),
        Some(step) => Err(EngineError::Refused(format!(
            "`changeover upgrade {command}` acts on step {kind}, but the upgrade is at step {}",
            step.kind
        ))),
        None => Err(EngineError::Refused(format!(
            "`changeover upgrade {command}` acts on step {kind}, but every step is done"
        ))),
    }
}

/// Reopens a step waiting for the operator so the driver runs it again.
fn reopen(r: &mut UpgradeRecord, now: crate::upgrade::Timestamp) {
    if matches!(
        r.current().map(|s| &s.phase),
        Some(StepPhase::NeedsOperator { .. } | StepPhase::Failed { .. })
    ) {
        let _ = r.apply(Action::Retry, now);
    }
}

/// `changeover upgrade tasks terminate IDS|--all` during force-terminate-tasks.
pub async fn terminate_instances(
    e: &Engine,
    r: &mut UpgradeRecord,
    selection: Selection,
) -> Result<(), EngineError> {
    require_current(r, StepKind::ForceTerminateTasks, "tasks terminate")?;
    let ids = match selection {
        Selection::Ids(ids) => ids,
        Selection::All => e
            .platform
            .scheduler
            .running()
            .await
            .map_err(|err| {
                EngineError::Refused(format!("listing running instances failed: {err}"))
            })?
            .into_iter()
            .map(|i| i.id)
            .collect(),
    };
    if let Some(reason) = step::terminate_ids(e, r, &ids, false).await? {
        return Err(EngineError::Refused(reason));
    }
    reopen(r, e.now());
    e.save(r).await
}

/// `changeover upgrade tasks rerun IDS|--all` during rerun-tasks.
pub async fn rerun_instances(
    e: &Engine,
    r: &mut UpgradeRecord,
    selection: Selection,
) -> Result<(), EngineError> {
    require_current(r, StepKind::RerunTasks, "tasks rerun")?;
    for id in r.terminated_instances() {
        step::item(r, &id);
    }
    let chosen = match &selection {
        Selection::All => None,
        Selection::Ids(ids) => Some(ids.as_slice()),
    };
    if let Some(reason) = step::rerun_items(e, r, chosen).await? {
        return Err(EngineError::Refused(reason));
    }
    reopen(r, e.now());
    e.save(r).await
}

/// `changeover upgrade data-update run NAMES|--all`: runs tasks (manual-start ones too).
pub async fn run_data_updates(
    e: &Engine,
    r: &mut UpgradeRecord,
    selection: Selection,
) -> Result<(), EngineError> {
    let Some(step) = r.step(StepKind::DataUpdate) else {
        return Err(EngineError::Refused(
            "this upgrade has no data-update step".into(),
        ));
    };
    if step.phase == StepPhase::Pending {
        return Err(EngineError::Refused(
            "the data-update step has not started yet; continue with `changeover upgrade next`"
                .into(),
        ));
    }
    let names = match selection {
        Selection::All => e
            .target
            .data_updates
            .iter()
            .map(|t| t.name.clone())
            .collect(),
        Selection::Ids(names) => {
            if let Some(unknown) = names
                .iter()
                .find(|n| !e.target.data_updates.iter().any(|t| &t.name == *n))
            {
                return Err(EngineError::Refused(format!(
                    "no data-update task `{unknown}` in this upgrade"
                )));
            }
            names
        }
    };
    step::run_tasks(e, r, &names).await?;
    if r.current().is_some_and(|s| s.kind == StepKind::DataUpdate) {
        reopen(r, e.now());
    }
    e.save(r).await
}

/// `changeover upgrade data-update skip NAMES`.
pub async fn skip_data_updates(
    e: &Engine,
    r: &mut UpgradeRecord,
    names: &[String],
) -> Result<(), EngineError> {
    r.skip_data_updates(names, e.now())
        .map_err(EngineError::Refused)?;
    if r.current().is_some_and(|s| s.kind == StepKind::DataUpdate) {
        reopen(r, e.now());
    }
    e.save(r).await
}

/// Overrules a failed verification verdict (`changeover upgrade overrule --reason TEXT`,
/// the API's overrule): the verify step is settled and the report keeps who (`by`), when
/// and why (`reason`). The caller drives the record on afterwards.
pub async fn overrule_verification(
    e: &Engine,
    r: &mut UpgradeRecord,
    by: &str,
    reason: &str,
) -> Result<(), EngineError> {
    r.overrule_verification(by, reason, e.now())?;
    e.save(r).await
}

/// `changeover upgrade data-update stop NAMES|--all`, from any process: saves a stop
/// request for each named running task (`--all`: every running one). The changeover
/// driving the upgrade sees it while the task runs, stops the task and records it
/// `Stopped`; `changeover upgrade data-update run NAME` runs it again later. Returns the
/// tasks asked to stop.
///
/// Refused (nothing saved) for an unknown task or one that is not running.
pub async fn request_data_update_stop(
    requests: &dyn Requests,
    r: &UpgradeRecord,
    selection: Selection,
    by: &str,
) -> Result<Vec<String>, EngineError> {
    let step = r
        .step(StepKind::DataUpdate)
        .ok_or_else(|| EngineError::Refused("this upgrade has no data-update step".into()))?;
    let running = |name: &str| {
        step.item(name)
            .is_some_and(|i| i.state == ItemState::Running)
    };
    let names = match selection {
        Selection::All => {
            let names: Vec<String> = step
                .items
                .iter()
                .filter(|i| i.state == ItemState::Running)
                .map(|i| i.name.clone())
                .collect();
            if names.is_empty() {
                return Err(EngineError::Refused(
                    "no data-update task is running: nothing to stop".into(),
                ));
            }
            names
        }
        Selection::Ids(names) => {
            for name in &names {
                let Some(item) = step.item(name) else {
                    return Err(EngineError::Refused(format!(
                        "no data-update task `{name}` has started in this upgrade; only a running task can be stopped"
                    )));
                };
                if !running(name) {
                    return Err(EngineError::Refused(format!(
                        "data-update task `{name}` is not running ({}); only a running task can be stopped",
                        item.state.label()
                    )));
                }
            }
            names
        }
    };
    for name in &names {
        requests
            .request_stop(&r.id, name, by)
            .await
            .map_err(|err| EngineError::Refused(err.to_string()))?;
    }
    Ok(names)
}

/// The name the local operator is recorded under (`$USER`, else `operator`).
pub fn local_operator() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "operator".to_owned())
}
