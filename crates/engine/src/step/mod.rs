//! One module per step kind. Each `run` is called by the driver with the step's intent
//! already saved and returns what should happen next.
//!
//! # Guarantees (every step)
//! - May be run again after a crash at any point: items already settled are not redone;
//!   an item left `running` is checked against the platform (or re-sent with its recorded
//!   request id) before anything is repeated.
//! - Never sleeps or polls: waiting is a `WaitFor` outcome.

mod apps;
mod backup;
mod data_update;
mod dispatch;
mod hooks;
mod rerun;
mod terminate;
mod verify;

pub(crate) use backup::record_backup;
pub(crate) use data_update::run_tasks;
pub(crate) use rerun::rerun_items;
pub(crate) use terminate::terminate_ids;

use crate::crash;
use crate::driver::Engine;
use crate::error::EngineError;
use crate::port::PortError;
use crate::upgrade::{Item, ItemState, StepKind, StepOutcome, UpgradeRecord};

pub(crate) async fn run(
    e: &Engine,
    r: &mut UpgradeRecord,
    kind: StepKind,
) -> Result<StepOutcome, EngineError> {
    match kind {
        StepKind::EnterMaintenance => dispatch::enter_maintenance(e, r).await,
        StepKind::ResumeDispatch => dispatch::resume_and_exit(e, r).await,
        StepKind::BeforeHooks => hooks::run(e, r, e.target.before_hooks.clone()).await,
        StepKind::AfterHooks => hooks::run(e, r, e.target.after_hooks.clone()).await,
        StepKind::UndoBeforeHooks => hooks::undo(e, r).await,
        StepKind::ForceTerminateTasks => terminate::run(e, r).await,
        StepKind::Stop => apps::stop(e, r).await,
        StepKind::Backup => backup::run(e, r).await,
        StepKind::PreUpgrade => apps::prepare(e, r).await,
        StepKind::UpgradeApplications => apps::upgrade(e, r).await,
        StepKind::RerunTasks => rerun::run(e, r).await,
        StepKind::DataUpdate => data_update::run(e, r).await,
        StepKind::Verify => verify::run(e, r).await,
        StepKind::StopTarget => apps::stop_target(e, r).await,
        StepKind::RestoreBackups => backup::restore(e, r).await,
        StepKind::StartPrevious => apps::start_previous(e, r).await,
    }
}

/// The current step's item `name`, created pending if absent.
pub(crate) fn item<'r>(r: &'r mut UpgradeRecord, name: &str) -> &'r mut Item {
    r.current_mut()
        .expect("a step runs only under the cursor")
        .ensure_item(Item::new(name))
}

/// Whether the current step's item `name` is settled already.
pub(crate) fn settled(r: &UpgradeRecord, name: &str) -> bool {
    r.current()
        .and_then(|s| s.item(name))
        .is_some_and(|i| i.state.is_settled())
}

/// Saves the intent of an item's side effect, then passes the `<step>:intent` crash point.
pub(crate) async fn intent(
    e: &Engine,
    r: &mut UpgradeRecord,
    kind: StepKind,
    name: &str,
) -> Result<(), EngineError> {
    let now = e.now();
    item(r, name).begin(now);
    e.save(r).await?;
    crash::point(&format!("{kind}:intent"));
    Ok(())
}

/// Passes the `<step>:effect` crash point, then saves the item's outcome.
pub(crate) async fn outcome(
    e: &Engine,
    r: &mut UpgradeRecord,
    kind: StepKind,
    name: &str,
    state: ItemState,
) -> Result<(), EngineError> {
    crash::point(&format!("{kind}:effect"));
    let now = e.now();
    item(r, name).finish(state, now);
    e.save(r).await
}

/// An item's failure state from a port error.
pub(crate) fn failed(err: &PortError) -> ItemState {
    ItemState::Failed {
        reason: err.to_string(),
    }
}
