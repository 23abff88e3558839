//! The printing layer of `changeover upgrade`: what the CLI prints for a record, a list of
//! records, a drive's stop, progress and verification, whether it worked on the local store
//! or on a remote `changeover serve`.

use crate::driver::Stop;
use crate::upgrade::verify::Report;
use crate::upgrade::{Status, StepPhase, UpgradeRecord};
use crate::view;

use super::run::ConsoleError;

/// A record: pretty JSON, or the status view.
pub fn record(record: &UpgradeRecord, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(record).unwrap_or_default()
        );
    } else {
        print!("{}", view::status(record));
    }
}

/// Every record (newest first): JSON, or a table.
pub fn records(records: &[UpgradeRecord], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(records).unwrap_or_default()
        );
        return;
    }
    println!(
        "{:<26} {:<10} {:<9} {:<9} {:<18} {:<36}",
        "ID", "PLATFORM", "FROM", "TO", "MODE", "STATUS"
    );
    for r in records {
        println!(
            "{:<26} {:<10} {:<9} {:<9} {:<18} {:<36}",
            r.id,
            r.platform,
            r.from_version,
            r.to_version,
            r.mode.words(),
            r.status.label()
        );
    }
}

/// One record with its durations and log (`upgrade show`).
pub fn show(r: &UpgradeRecord, json: bool) {
    record(r, json);
    if !json {
        println!("{}", view::durations(r));
        for line in &r.log {
            let step = line.step.map(|s| format!(" [{s}]")).unwrap_or_default();
            println!("{} {:?}{step} {}", line.at, line.level, line.message);
        }
    }
}

/// A verification report: JSON, or the verification view.
pub fn verification(report: &Report, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        print!("{}", view::verification(report));
    }
}

/// The line saying a new upgrade was created.
pub fn created(record: &UpgradeRecord) {
    println!(
        "upgrade {}: {} {} -> {} in {} mode",
        record.id,
        record.platform,
        record.from_version,
        record.to_version,
        record.mode.words()
    );
}

/// The line saying a stop of data-update tasks was asked (`names`: the tasks asked to stop).
pub fn stop_requested(record: &UpgradeRecord, names: &[String]) {
    let names = if names.is_empty() {
        "every running data-update task".to_owned()
    } else {
        names.join(", ")
    };
    println!(
        "stop requested for {names}: the changeover driving upgrade {} stops it and records it stopped (`changeover upgrade status`); run it again with `changeover upgrade data-update run NAME`",
        record.id
    );
}

/// Where a drive stopped and what to do next; a failed step is the error.
pub fn stop(record: &UpgradeRecord, stop: Stop) -> Result<(), ConsoleError> {
    print!("{}", view::status(record));
    match stop {
        Stop::Ended(status) => println!("upgrade {} ended: {status}", record.id),
        Stop::Saved => println!(
            "upgrade {} is saved; start it with `changeover upgrade next`",
            record.id
        ),
        Stop::AwaitingNext(step) => {
            println!("step {step} is done; continue with `changeover upgrade next`")
        }
        Stop::AwaitingComplete => {
            println!("every step is done; complete the upgrade with `changeover upgrade next`")
        }
        Stop::NeedsOperator { step, reason } => {
            println!("step {step} waits for the operator: {reason}")
        }
        Stop::Failed { step, reason } => {
            return Err(ConsoleError::StepFailed {
                step: step.to_string(),
                reason,
            });
        }
    }
    if let Some(report) = &record.verification
        && record
            .current()
            .is_none_or(|s| s.phase != StepPhase::Pending)
    {
        print!("{}", view::verification(report));
    }
    Ok(())
}

/// Where a drive of `record` stops, read from the saved record (for a client that watched
/// another process drive it); `None` while a drive would still go on.
pub fn stopped_at(record: &UpgradeRecord) -> Option<Stop> {
    if record.status.is_final() {
        return Some(Stop::Ended(record.status));
    }
    if record.status == Status::Configuring {
        return Some(Stop::Saved);
    }
    let Some(step) = record.current() else {
        return (!record.auto_advance).then_some(Stop::AwaitingComplete);
    };
    match &step.phase {
        StepPhase::Done | StepPhase::Skipped { .. } => {
            (!record.auto_advance && record.exit.is_none()).then_some(Stop::AwaitingNext(step.kind))
        }
        StepPhase::NeedsOperator { reason } => Some(Stop::NeedsOperator {
            step: step.kind,
            reason: reason.clone(),
        }),
        StepPhase::Failed { reason } => Some(Stop::Failed {
            step: step.kind,
            reason: reason.clone(),
        }),
        StepPhase::Pending | StepPhase::Running | StepPhase::Waiting { .. } => None,
    }
}

/// Prints a line for every step whose phase or progress changed since the last call.
#[derive(Debug, Default)]
pub struct Progress {
    seen: Vec<(String, String)>,
}

impl Progress {
    pub fn update(&mut self, record: &UpgradeRecord) {
        let steps = record
            .steps
            .iter()
            .chain(record.exit.iter().flat_map(|e| &e.steps));
        let now: Vec<(String, String)> = steps
            .map(|s| {
                (
                    s.kind.to_string(),
                    format!("{} {}%", s.phase.label(), s.percent()),
                )
            })
            .collect();
        for (i, (kind, state)) in now.iter().enumerate() {
            if self.seen.get(i).is_none_or(|(_, s)| s != state) {
                println!("  [{}] {kind}: {state}", record.id);
            }
        }
        self.seen = now;
    }
}
