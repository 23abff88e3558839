//! The operator's item-level actions: terminate or re-run chosen instances, run or skip
//! data-update tasks. Each acts on the step it belongs to and is refused elsewhere.

use crate::driver::Engine;
use crate::error::EngineError;
use crate::step;
use crate::upgrade::{Action, StepKind, StepPhase, UpgradeRecord};

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
