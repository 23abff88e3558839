//! Data update: run every task neither skipped nor succeeded, blocking ones first; dispatch
//! resumes (full downtime) when every blocking task is done. Manual-start tasks wait for
//! the operator.

use std::time::Duration;

use crate::crash;
use crate::driver::Engine;
use crate::error::EngineError;
use crate::port::TaskRun;
use crate::upgrade::{Item, ItemState, LogLevel, Mode, StepKind, StepOutcome, UpgradeRecord};

use super::dispatch;

const KIND: StepKind = StepKind::DataUpdate;

fn task<'r>(r: &'r mut UpgradeRecord, name: &str) -> &'r mut Item {
    r.step_mut(KIND)
        .expect("a data-update step")
        .ensure_item(Item::new(name))
}

fn state(r: &UpgradeRecord, name: &str) -> Option<ItemState> {
    r.step(KIND)?.item(name).map(|i| i.state.clone())
}

pub(super) async fn run(e: &Engine, r: &mut UpgradeRecord) -> Result<StepOutcome, EngineError> {
    let mut specs = e.target.data_updates.clone();
    specs.sort_by_key(|t| !t.blocking);
    for spec in &specs {
        let it = task(r, &spec.name);
        for (key, value) in [
            ("blocking", spec.blocking),
            ("skippable", spec.skippable),
            ("manual_start", spec.manual_start),
        ] {
            it.facts
                .entry(key.into())
                .or_insert_with(|| value.to_string());
        }
    }
    e.save(r).await?;
    let automatic: Vec<String> = specs
        .iter()
        .filter(|t| t.blocking && !t.manual_start)
        .map(|t| t.name.clone())
        .collect();
    run_tasks(e, r, &automatic).await?;

    let mut manual = Vec::new();
    let mut failures = Vec::new();
    for spec in specs.iter().filter(|t| t.blocking) {
        match state(r, &spec.name) {
            Some(s) if s.is_settled() => {}
            Some(ItemState::Failed { reason }) => failures.push(format!("{}: {reason}", spec.name)),
            Some(ItemState::Stopped) => failures.push(format!("{}: stopped", spec.name)),
            _ => manual.push(spec.name.clone()),
        }
    }
    if !failures.is_empty() {
        return Ok(StepOutcome::Failed(format!(
            "blocking data-update task(s) failed: {}; run them again with `changeover upgrade retry` or `changeover upgrade data-update run NAME`, or skip skippable ones with `changeover upgrade data-update skip NAME`",
            failures.join("; ")
        )));
    }
    if !manual.is_empty() {
        return Ok(StepOutcome::NeedsOperator(format!(
            "blocking data-update task(s) {} must be started by hand: `changeover upgrade data-update run {}`",
            manual.join(", "),
            manual.join(" ")
        )));
    }
    if r.mode == Mode::Full {
        // every blocking task is done: dispatch resumes, maintenance mode ends
        if let Err(err) = dispatch::resume(e, r).await? {
            return Ok(StepOutcome::Failed(format!(
                "resuming dispatch failed: {err}; retry with `changeover upgrade retry`"
            )));
        }
        dispatch::exit_maintenance(e, r).await?;
    }
    let background: Vec<String> = specs
        .iter()
        .filter(|t| !t.blocking && !t.manual_start)
        .map(|t| t.name.clone())
        .collect();
    run_tasks(e, r, &background).await?;
    Ok(StepOutcome::Done)
}

/// The item state a run ended in.
fn task_state(run: Result<TaskRun, crate::port::PortError>) -> ItemState {
    match run {
        Ok(TaskRun::Succeeded) => ItemState::Succeeded,
        Ok(TaskRun::Failed(reason)) => ItemState::Failed { reason },
        Ok(TaskRun::Stopped) => ItemState::Stopped,
        Err(err) => ItemState::Failed {
            reason: err.to_string(),
        },
    }
}

/// How often a running task's stop request is looked for in the store.
const STOP_POLL: Duration = Duration::from_millis(300);

/// Who asked to stop `name` (a request pending in the store), if anyone.
async fn stop_requested(e: &Engine, r: &UpgradeRecord, name: &str) -> Option<String> {
    match e.requests.stop_requests(&r.id).await {
        Ok(requests) => requests
            .into_iter()
            .find(|(t, _)| t == name)
            .map(|(_, by)| by),
        Err(err) => {
            tracing::warn!(upgrade = %r.id, task = name, error = %err, "reading stop requests failed");
            None
        }
    }
}

async fn clear_stop(e: &Engine, r: &UpgradeRecord, name: &str) {
    if let Err(err) = e.requests.clear_stop(&r.id, name).await {
        tracing::warn!(upgrade = %r.id, task = name, error = %err, "clearing a stop request failed");
    }
}

/// Runs one task, watching for a stop request while it runs (`data-update stop` from
/// another process); returns the run's outcome and who stopped it.
async fn run_watched(
    e: &Engine,
    r: &UpgradeRecord,
    name: &str,
    run_id: &str,
) -> (Result<TaskRun, crate::port::PortError>, Option<String>) {
    let run = e.platform.databases.run_data_update(name, run_id);
    tokio::pin!(run);
    let mut stopped_by = None;
    loop {
        tokio::select! {
            result = &mut run => return (result, stopped_by),
            () = tokio::time::sleep(STOP_POLL), if stopped_by.is_none() => {
                if let Some(by) = stop_requested(e, r, name).await {
                    tracing::info!(upgrade = %r.id, task = name, %by, "stopping a data-update task on request");
                    match e.platform.databases.stop_data_update(name).await {
                        Ok(()) => stopped_by = Some(by),
                        Err(err) => tracing::warn!(task = name, error = %err, "stopping the task failed"),
                    }
                }
            }
        }
    }
}

/// Runs the named tasks one at a time unless settled or running elsewhere.
///
/// # Guarantees
/// - Each run has an id `(upgrade, task, run number)` saved before the task starts; after a
///   crash the same id is sent again and the runner returns its recorded outcome instead of
///   running the task twice. A failed or stopped task runs again under a new number.
/// - A stop request (from any process) is seen within [`STOP_POLL`] while the task runs:
///   the task is stopped and recorded `Stopped`, and the request cleared. A task left
///   running by a changeover that died, with a stop pending, is recorded with its run's
///   outcome if the run finished, else `Stopped`, and is not run again. A request older
///   than the run is cleared before it starts.
pub(crate) async fn run_tasks(
    e: &Engine,
    r: &mut UpgradeRecord,
    names: &[String],
) -> Result<(), EngineError> {
    for name in names {
        let current = state(r, name).unwrap_or(ItemState::Pending);
        if current.is_settled() {
            continue;
        }
        let it = task(r, name);
        if current != ItemState::Running {
            let runs: u32 = it.fact("runs").and_then(|n| n.parse().ok()).unwrap_or(0) + 1;
            it.facts.insert("runs".into(), runs.to_string());
        }
        let runs = task(r, name).fact("runs").unwrap_or("1").to_owned();
        let run_id = format!("{}:{name}:{runs}", r.id);
        if let Some(by) = stop_requested(e, r, name).await {
            if current == ItemState::Running {
                // its changeover stopped while it ran, and the operator asked to stop it
                // since: the run's own outcome if it finished, else stopped, not run again
                let finished = e
                    .platform
                    .databases
                    .finished_data_update(&run_id)
                    .await
                    .map_err(|err| {
                        EngineError::Refused(format!(
                            "reading the outcome of data-update run {run_id} failed: {err}; retry with `changeover upgrade next`"
                        ))
                    })?;
                let now = e.now();
                let (state, message) = match finished {
                    Some(run) => (
                        task_state(Ok(run)),
                        format!(
                            "data-update task {name} had ended before the request of {by} to stop it"
                        ),
                    ),
                    None => (
                        ItemState::Stopped,
                        format!("data-update task {name} stopped at the request of {by}"),
                    ),
                };
                task(r, name).finish(state, now);
                r.note(LogLevel::Warn, Some(KIND), message, now);
                e.save(r).await?;
                clear_stop(e, r, name).await;
                continue;
            }
            clear_stop(e, r, name).await;
        }
        let now = e.now();
        task(r, name).begin(now);
        e.save(r).await?;
        crash::point(&format!("{KIND}:intent"));
        let (result, stopped_by) = run_watched(e, r, name, &run_id).await;
        crash::point(&format!("{KIND}:effect"));
        let state = task_state(result);
        let now = e.now();
        if let Some(by) = &stopped_by {
            r.note(
                LogLevel::Warn,
                Some(KIND),
                format!(
                    "data-update task {name} {} at the request of {by}",
                    if state == ItemState::Stopped {
                        "stopped"
                    } else {
                        "ended before it could be stopped"
                    }
                ),
                now,
            );
        }
        task(r, name).finish(state, now);
        e.save(r).await?;
        if stopped_by.is_some() {
            clear_stop(e, r, name).await;
        }
    }
    Ok(())
}
