//! Full downtime 5 (and terminate's optional exit step): re-run every instance this upgrade
//! force-terminated, exactly once.

use super::{failed, item};
use crate::crash;
use crate::driver::Engine;
use crate::error::EngineError;
use crate::upgrade::{ItemState, StepKind, StepOutcome, UpgradeRecord};

const KIND: StepKind = StepKind::RerunTasks;

pub(super) async fn run(e: &Engine, r: &mut UpgradeRecord) -> Result<StepOutcome, EngineError> {
    let ids = r.terminated_instances();
    for id in &ids {
        item(r, id);
    }
    e.save(r).await?;
    if let Some(reason) = rerun_items(e, r, None).await? {
        return Ok(StepOutcome::Failed(reason));
    }
    Ok(StepOutcome::Done)
}

/// Re-runs the current step's unsettled items (or only `chosen` of them).
///
/// # Guarantees
/// - Each batch gets a request id derived from (upgrade id, step, batch number), saved on
///   its items before the request; items left `running` by a crash are re-sent with their
///   recorded request id, which the scheduler answers without starting anything new.
pub(crate) async fn rerun_items(
    e: &Engine,
    r: &mut UpgradeRecord,
    chosen: Option<&[String]>,
) -> Result<Option<String>, EngineError> {
    let step = r.current().expect("under the cursor");
    // batches whose answer was lost: same request id again
    let mut batches: Vec<(String, Vec<String>)> = Vec::new();
    for it in step.items.iter().filter(|i| i.state == ItemState::Running) {
        let request = it.fact("request_id").unwrap_or_default().to_owned();
        match batches.iter_mut().find(|(id, _)| *id == request) {
            Some((_, ids)) => ids.push(it.name.clone()),
            None => batches.push((request, vec![it.name.clone()])),
        }
    }
    let fresh: Vec<String> = step
        .items
        .iter()
        .filter(|i| matches!(i.state, ItemState::Pending | ItemState::Failed { .. }))
        .filter(|i| chosen.is_none_or(|c| c.contains(&i.name)))
        .map(|i| i.name.clone())
        .collect();
    if !fresh.is_empty() {
        let used = step
            .items
            .iter()
            .filter_map(|i| i.fact("request_id"))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let request = r.rerun_request_id(KIND, used);
        let now = e.now();
        for id in &fresh {
            let it = item(r, id);
            it.begin(now);
            it.facts.insert("request_id".into(), request.clone());
        }
        e.save(r).await?;
        crash::point(&format!("{KIND}:intent"));
        batches.push((request, fresh));
    }
    for (request, ids) in batches {
        let answer = match e.platform.scheduler.rerun(&request, &ids).await {
            Ok(answer) => answer,
            Err(err) => {
                let now = e.now();
                for id in &ids {
                    item(r, id).finish(failed(&err), now);
                }
                e.save(r).await?;
                return Ok(Some(format!(
                    "re-running instances failed: {err}; retry with `changeover upgrade retry`"
                )));
            }
        };
        crash::point(&format!("{KIND}:effect"));
        let now = e.now();
        for (id, new_id) in &answer.rerun {
            let it = item(r, id);
            it.facts.insert("new_id".into(), new_id.clone());
            it.finish(ItemState::Succeeded, now);
        }
        for (id, reason) in &answer.skipped {
            item(r, id).finish(
                ItemState::Skipped {
                    reason: reason.clone(),
                },
                now,
            );
        }
        e.save(r).await?;
    }
    Ok(None)
}
