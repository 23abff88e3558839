//! The bundle's hooks before and after the upgrade; before-hooks are undone on terminate
//! and rollback. Each hook is an item with its time recorded.

use super::{failed, intent, outcome, settled};
use crate::driver::Engine;
use crate::error::EngineError;
use crate::upgrade::{ItemState, StepOutcome, UpgradeRecord};

pub(super) async fn run(
    e: &Engine,
    r: &mut UpgradeRecord,
    hooks: Vec<String>,
) -> Result<StepOutcome, EngineError> {
    let kind = r.current().map(|s| s.kind).expect("under the cursor");
    for hook in &hooks {
        if settled(r, hook) {
            continue;
        }
        intent(e, r, kind, hook).await?;
        match e.platform.hooks.run(hook).await {
            Ok(()) => outcome(e, r, kind, hook, ItemState::Succeeded).await?,
            Err(err) => {
                outcome(e, r, kind, hook, failed(&err)).await?;
                return Ok(StepOutcome::Failed(format!(
                    "hook `{hook}` failed: {err}; retry with `changeover upgrade retry` or skip with `changeover upgrade skip --accept-risk`"
                )));
            }
        }
    }
    Ok(StepOutcome::Done)
}

pub(super) async fn undo(e: &Engine, r: &mut UpgradeRecord) -> Result<StepOutcome, EngineError> {
    let kind = r.current().map(|s| s.kind).expect("under the cursor");
    for hook in r.before_hooks_to_undo() {
        if settled(r, &hook) {
            continue;
        }
        intent(e, r, kind, &hook).await?;
        match e.platform.hooks.undo(&hook).await {
            Ok(()) => outcome(e, r, kind, &hook, ItemState::Succeeded).await?,
            Err(err) => {
                outcome(e, r, kind, &hook, failed(&err)).await?;
                return Ok(StepOutcome::Failed(format!(
                    "undoing hook `{hook}` failed: {err}; retry with `changeover upgrade retry`"
                )));
            }
        }
    }
    Ok(StepOutcome::Done)
}
