//! Full downtime 1: force-terminate running instances; proceed only when none runs.

use std::time::Duration;

use super::{failed, item, outcome};
use crate::crash;
use crate::driver::Engine;
use crate::error::EngineError;
use crate::upgrade::{ItemState, StepKind, StepOutcome, UpgradeRecord};

const KIND: StepKind = StepKind::ForceTerminateTasks;

/// How long to wait for terminated instances to leave the running list (the seeds refresh
/// every 20 s; the sample platform is faster).
const REFRESH: Duration = Duration::from_millis(500);

pub(super) async fn run(e: &Engine, r: &mut UpgradeRecord) -> Result<StepOutcome, EngineError> {
    let running = match e.platform.scheduler.running().await {
        Ok(running) => running,
        Err(err) => {
            return Ok(StepOutcome::Failed(format!(
                "listing running instances failed: {err}; retry with `changeover upgrade retry`"
            )));
        }
    };
    let now = e.now();
    let step = r.current_mut().expect("under the cursor");
    // instances listed before that finished on their own are not terminated nor re-run
    for listed in step.items.iter_mut() {
        if listed.state == ItemState::Pending && !running.iter().any(|i| i.id == listed.name) {
            listed.finish(
                ItemState::Skipped {
                    reason: "finished before termination".into(),
                },
                now,
            );
        }
    }
    for instance in &running {
        item(r, &instance.id)
            .facts
            .entry("workflow".into())
            .or_insert_with(|| instance.workflow.clone());
    }
    e.save(r).await?;
    // an instance whose termination was requested (item running) is sent again: idempotent
    let resend: Vec<String> = r
        .current()
        .map(|s| {
            s.items
                .iter()
                .filter(|i| i.state == ItemState::Running)
                .map(|i| i.name.clone())
                .collect()
        })
        .unwrap_or_default();
    if !resend.is_empty()
        && let Some(reason) = terminate_ids(e, r, &resend, true).await?
    {
        return Ok(StepOutcome::Failed(reason));
    }
    if running.is_empty() {
        r.milestones.all_tasks_terminated_at.get_or_insert(e.now());
        return Ok(StepOutcome::Done);
    }
    if r.auto_advance {
        let ids: Vec<String> = running
            .iter()
            .filter(|i| {
                r.current()
                    .and_then(|s| s.item(&i.id))
                    .is_none_or(|it| it.state != ItemState::Succeeded)
            })
            .map(|i| i.id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(StepOutcome::WaitFor {
                after: REFRESH,
                reason: "terminated instances leaving the running list".into(),
            });
        }
        if let Some(reason) = terminate_ids(e, r, &ids, false).await? {
            return Ok(StepOutcome::Failed(reason));
        }
        return Ok(StepOutcome::WaitFor {
            after: REFRESH,
            reason: format!(
                "{} terminated instance(s) leaving the running list",
                ids.len()
            ),
        });
    }
    let waiting_for_terminate = running.iter().any(|i| {
        r.current()
            .and_then(|s| s.item(&i.id))
            .is_some_and(|it| it.state == ItemState::Succeeded)
    });
    if waiting_for_terminate {
        return Ok(StepOutcome::WaitFor {
            after: REFRESH,
            reason: "terminated instances leaving the running list".into(),
        });
    }
    Ok(StepOutcome::NeedsOperator(format!(
        "{} instance(s) still run ({}); terminate them with `changeover upgrade tasks terminate IDS|--all`, or wait for them to finish and run `changeover upgrade retry`",
        running.len(),
        running
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Terminates the given instances, recording intent and outcome per instance. Returns the
/// operator's sentence when the scheduler refused.
///
/// `resend`: these ids had their intent saved by a run whose answer was lost (a crash);
/// the scheduler then reports them already finished, and they count as terminated by this
/// upgrade so that the re-run step re-runs them (the scheduler skips any that succeeded).
pub(crate) async fn terminate_ids(
    e: &Engine,
    r: &mut UpgradeRecord,
    ids: &[String],
    resend: bool,
) -> Result<Option<String>, EngineError> {
    let now = e.now();
    for id in ids {
        item(r, id).begin(now);
    }
    e.save(r).await?;
    crash::point(&format!("{KIND}:intent"));
    let answer = match e.platform.scheduler.terminate(ids).await {
        Ok(answer) => answer,
        Err(err) => {
            for id in ids {
                outcome(e, r, KIND, id, failed(&err)).await?;
            }
            return Ok(Some(format!(
                "terminating instances failed: {err}; retry with `changeover upgrade retry`"
            )));
        }
    };
    crash::point(&format!("{KIND}:effect"));
    let now = e.now();
    for id in &answer.terminated {
        item(r, id).finish(ItemState::Succeeded, now);
    }
    for id in &answer.already_finished {
        if item(r, id).state == ItemState::Succeeded {
            // terminated by this upgrade earlier (the list was stale): stays terminated
            continue;
        }
        let state = if resend {
            ItemState::Succeeded
        } else {
            ItemState::Skipped {
                reason: "finished before termination".into(),
            }
        };
        item(r, id).finish(state, now);
    }
    for id in &answer.not_found {
        item(r, id).finish(
            ItemState::Skipped {
                reason: "not found by the scheduler".into(),
            },
            now,
        );
    }
    e.save(r).await?;
    Ok(None)
}
