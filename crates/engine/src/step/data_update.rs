//! Data update: run every task neither skipped nor succeeded, blocking ones first; dispatch
//! resumes (full downtime) when every blocking task is done. Manual-start tasks wait for
//! the operator.

use crate::crash;
use crate::driver::Engine;
use crate::error::EngineError;
use crate::port::TaskRun;
use crate::upgrade::{Item, ItemState, Mode, StepKind, StepOutcome, UpgradeRecord};

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

/// Runs the named tasks one at a time unless settled or running elsewhere.
///
/// # Guarantees
/// - Each run has an id `(upgrade, task, run number)` saved before the task starts; after a
///   crash the same id is sent again and the runner returns its recorded outcome instead of
///   running the task twice. A failed or stopped task runs again under a new number.
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
        let now = e.now();
        let it = task(r, name);
        if current != ItemState::Running {
            let runs: u32 = it.fact("runs").and_then(|n| n.parse().ok()).unwrap_or(0) + 1;
            it.facts.insert("runs".into(), runs.to_string());
        }
        let runs = task(r, name).fact("runs").unwrap_or("1").to_owned();
        let run_id = format!("{}:{name}:{runs}", r.id);
        task(r, name).begin(now);
        e.save(r).await?;
        crash::point(&format!("{KIND}:intent"));
        let result = e.platform.databases.run_data_update(name, &run_id).await;
        crash::point(&format!("{KIND}:effect"));
        let state = match result {
            Ok(TaskRun::Succeeded) => ItemState::Succeeded,
            Ok(TaskRun::Failed(reason)) => ItemState::Failed { reason },
            Ok(TaskRun::Stopped) => ItemState::Stopped,
            Err(err) => ItemState::Failed {
                reason: err.to_string(),
            },
        };
        let now = e.now();
        task(r, name).finish(state, now);
        e.save(r).await?;
    }
    Ok(())
}
