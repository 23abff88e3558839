//! Plain-text views of a record for the CLI and the demo (stdout; logs go to stderr).

use std::fmt::Write;

use crate::upgrade::metrics::Durations;
use crate::upgrade::verify::{Average, Overrule, RecentCount, Report};
use crate::upgrade::{ItemState, StepPhase, StepState, UpgradeRecord};

fn bar(percent: u8) -> String {
    let filled = usize::from(percent) / 5;
    format!(
        "[{}{}] {percent:>3}%",
        "#".repeat(filled),
        ".".repeat(20 - filled)
    )
}

fn phase_detail(phase: &StepPhase) -> String {
    match phase {
        StepPhase::Waiting { reason }
        | StepPhase::NeedsOperator { reason }
        | StepPhase::Failed { reason } => format!("{}: {reason}", phase.label()),
        StepPhase::Skipped {
            risk_accepted: true,
        } => "skipped (risk accepted)".into(),
        other => other.label().to_owned(),
    }
}

fn step_lines(out: &mut String, step: &StepState, current: bool) {
    let marker = if current { ">" } else { " " };
    let _ = writeln!(
        out,
        "{marker} {:<22} {} {}",
        step.kind.as_str(),
        bar(step.percent()),
        phase_detail(&step.phase)
    );
    for item in &step.items {
        let detail = match &item.state {
            ItemState::Failed { reason } | ItemState::Skipped { reason } => format!(" ({reason})"),
            _ => String::new(),
        };
        let facts: Vec<String> = item
            .facts
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "new_id" | "size" | "file"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let facts = if facts.is_empty() {
            String::new()
        } else {
            format!(" [{}]", facts.join(" "))
        };
        let _ = writeln!(
            out,
            "      - {:<28} {}{detail}{facts}",
            item.name,
            item.state.label()
        );
    }
}

/// The record's status: header, milestones, every step with its items.
pub fn status(r: &UpgradeRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "upgrade {}  {} {} -> {}  {}  status: {}  {}",
        r.id,
        r.platform,
        r.from_version,
        r.to_version,
        r.mode.words(),
        r.status,
        bar(r.percent())
    );
    let m = &r.milestones;
    for (label, at) in [
        ("started", m.started_at),
        ("entered maintenance", m.entered_maintenance_at),
        ("dispatch paused", m.dispatch_paused_at),
        ("all tasks terminated", m.all_tasks_terminated_at),
        ("dispatch resumed", m.dispatch_resumed_at),
        ("maintenance exited", m.maintenance_exited_at),
        ("completed", m.completed_at),
        ("force-completed", m.force_completed_at),
        ("terminated", m.terminated_at),
        ("rolled back", m.rolled_back_at),
    ] {
        if let Some(at) = at {
            let _ = writeln!(out, "  {label:<21} {at}");
        }
    }
    if let Some(o) = r.verification.as_ref().and_then(|v| v.overrule.as_ref()) {
        let _ = writeln!(out, "  {}", overrule_line(o));
    }
    let main_current = r.exit.is_none().then_some(r.cursor);
    for (i, step) in r.steps.iter().enumerate() {
        step_lines(&mut out, step, main_current == Some(i));
    }
    if let Some(exit) = &r.exit {
        let _ = writeln!(out, "  exit steps:");
        for (i, step) in exit.steps.iter().enumerate() {
            step_lines(&mut out, step, i == exit.cursor);
        }
    }
    out
}

/// The verification report.
pub fn verification(report: &Report) -> String {
    let mut out = String::new();
    let recent = match &report.recent {
        RecentCount::Pending => "Pending".to_owned(),
        RecentCount::Count {
            business_date,
            count,
        } => format!("{count} (business date {business_date})"),
    };
    let average = match &report.average {
        Average::Na => "NA".to_owned(),
        Average::Value { per_day, days } => format!("{per_day:.1} per day over {days} day(s)"),
    };
    let _ = writeln!(out, "recent production instance count: {recent}");
    let _ = writeln!(out, "7-day average (T-8..T-2):         {average}");
    let distribution: Vec<String> = report
        .distribution
        .iter()
        .map(|(s, n)| format!("{s}={n}"))
        .collect();
    let _ = writeln!(
        out,
        "status distribution {}:    {}",
        report.distribution_date,
        if distribution.is_empty() {
            "none".to_owned()
        } else {
            distribution.join(" ")
        }
    );
    let _ = writeln!(
        out,
        "failed today, succeeded yesterday: {}",
        report.failed_today_succeeded_yesterday.len()
    );
    for f in &report.failed_today_succeeded_yesterday {
        let _ = writeln!(
            out,
            "  - {} node {} task {} ({}, {}) {} {}",
            f.instance_id,
            f.node_id,
            f.task_name,
            f.node_type,
            f.schedule_type,
            f.status,
            f.updated_at
        );
    }
    let verdict = if report.verdict.passed {
        "passed"
    } else {
        "failed"
    };
    let _ = writeln!(out, "automatic verdict: {verdict}");
    for reason in &report.verdict.reasons {
        let _ = writeln!(out, "  - {reason}");
    }
    if let Some(o) = &report.overrule {
        let _ = writeln!(
            out,
            "{}: {}",
            overrule_line(o),
            if o.passed { "passed" } else { "failed" }
        );
    }
    out
}

/// Who overruled the verdict, when and why, in one line.
fn overrule_line(o: &Overrule) -> String {
    format!(
        "verdict overruled by {} at {} ({})",
        o.by.as_deref().unwrap_or("the operator"),
        o.at,
        o.reason
            .as_deref()
            .unwrap_or("no reason given: skipped with --accept-risk")
    )
}

/// Durations for the benchmark and `upgrade show`.
pub fn durations(r: &UpgradeRecord) -> String {
    let d = Durations::of(r);
    let ms = |v: Option<i64>| v.map_or("-".to_owned(), |v| format!("{v} ms"));
    let mut out = String::new();
    let _ = writeln!(out, "total:            {}", ms(d.total_ms));
    let _ = writeln!(out, "maintenance:      {}", ms(d.maintenance_ms));
    let _ = writeln!(out, "dispatch paused:  {}", ms(d.dispatch_paused_ms));
    for (kind, took) in d.steps {
        let _ = writeln!(out, "  {:<22} {}", kind.as_str(), ms(took));
    }
    out
}
