//! Every transition of the record and every refused action with its message.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

fn at(minute: i64) -> Timestamp {
    let base: Timestamp = "2026-11-23T21:00:00Z".parse().unwrap();
    Timestamp::from_unix_millis(base.unix_millis() + minute * 60_000)
}

fn record(mode: Mode, shape: PlanShape) -> UpgradeRecord {
    UpgradeRecord::configure(
        NewUpgrade {
            id: "u1".into(),
            platform: "sample".into(),
            from_version: "1.0.0".into(),
            to_version: "1.1.0".into(),
            mode,
            shape,
            announcement: Announcement::new(None, None, None).unwrap(),
            risk_accepted: true,
            auto_advance: false,
            configuration: BTreeMap::new(),
        },
        at(0),
    )
}

fn started(mode: Mode) -> UpgradeRecord {
    let mut r = record(mode, PlanShape::default());
    r.apply(Action::Start, at(1)).unwrap();
    r
}

/// Runs the current step to the given outcome, as the engine does.
fn run(r: &mut UpgradeRecord, outcome: StepOutcome) -> StepKind {
    let kind = r.begin_step(at(2)).unwrap();
    r.finish_step(&outcome, at(3));
    kind
}

fn run_all(r: &mut UpgradeRecord) {
    while r.current().is_some() {
        run(r, StepOutcome::Done);
        r.apply(Action::Next, at(4)).unwrap();
    }
}

#[test]
fn configure_then_start() {
    let mut r = record(Mode::Full, PlanShape::default());
    assert_eq!(r.status, Status::Configuring);
    assert!(r.status.is_active(), "a saved record holds the lock");
    assert!(!r.wants_run(), "a saved record runs nothing");
    r.apply(Action::Start, at(1)).unwrap();
    assert_eq!(r.status, Status::Upgrading);
    assert_eq!(r.milestones.started_at, Some(at(1)));
    assert!(r.wants_run());
    let err = r.apply(Action::Start, at(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "upgrade u1 is upgrading, not configuring: continue it with `changeover upgrade next`"
    );
}

#[test]
fn next_on_a_saved_record_starts_it() {
    let mut r = record(Mode::Partial, PlanShape::default());
    r.apply(Action::Next, at(1)).unwrap();
    assert_eq!(r.status, Status::Upgrading);
}

#[test]
fn a_step_records_intent_then_outcome() {
    let mut r = started(Mode::Full);
    assert_eq!(r.begin_step(at(2)), Some(StepKind::EnterMaintenance));
    assert_eq!(r.steps[0].phase, StepPhase::Running);
    assert_eq!(r.steps[0].attempts, 1);
    assert_eq!(r.steps[0].started_at, Some(at(2)));
    // a resume after a crash runs the same step again: same attempt, same start time
    assert_eq!(r.begin_step(at(5)), Some(StepKind::EnterMaintenance));
    assert_eq!(r.steps[0].attempts, 1);
    assert_eq!(r.steps[0].started_at, Some(at(2)));
    r.finish_step(&StepOutcome::Done, at(6));
    assert_eq!(r.steps[0].phase, StepPhase::Done);
    assert_eq!(r.steps[0].finished_at, Some(at(6)));
    assert_eq!(
        r.cursor, 0,
        "the cursor moves only on next (or auto-advance)"
    );
    r.apply(Action::Next, at(7)).unwrap();
    assert_eq!(r.cursor, 1);
    assert_eq!(r.current().unwrap().kind, StepKind::ForceTerminateTasks);
}

#[test]
fn waiting_and_operator_outcomes() {
    let mut r = started(Mode::Full);
    run(
        &mut r,
        StepOutcome::WaitFor {
            after: Duration::from_secs(1),
            reason: "2 backups running".into(),
        },
    );
    assert!(matches!(r.steps[0].phase, StepPhase::Waiting { .. }));
    assert!(r.wants_run(), "the engine polls a waiting step");
    // `next` on a waiting step resumes it (the lease refuses a second driver)
    r.apply(Action::Next, at(4)).unwrap();
    assert!(matches!(r.steps[0].phase, StepPhase::Waiting { .. }));
    run(
        &mut r,
        StepOutcome::NeedsOperator(
            "3 instances still run: `changeover upgrade tasks terminate --all`".into(),
        ),
    );
    assert!(!r.wants_run());
    let err = r.apply(Action::Next, at(4)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "step enter-maintenance waits for the operator: 3 instances still run: `changeover upgrade tasks terminate --all`"
    );
    r.apply(Action::Retry, at(5)).unwrap();
    assert_eq!(r.steps[0].phase, StepPhase::Pending);
    assert!(r.wants_run());
}

#[test]
fn failed_step_offers_retry_and_skip_only_where_allowed() {
    let mut r = started(Mode::Full);
    run(&mut r, StepOutcome::Failed("scheduler unreachable".into()));
    let err = r.apply(Action::Next, at(4)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "step enter-maintenance failed: scheduler unreachable; run it again with `changeover upgrade retry`"
    );
    let err = r
        .apply(Action::Skip { accept_risk: true }, at(4))
        .unwrap_err();
    assert!(matches!(
        err,
        ActionError::SkipRefused {
            step: StepKind::EnterMaintenance,
            ..
        }
    ));
    r.apply(Action::Retry, at(5)).unwrap();
    assert_eq!(r.steps[0].attempts, 1);
    r.begin_step(at(6));
    assert_eq!(r.steps[0].attempts, 2, "a retry is a new attempt");
}

#[test]
fn retry_refused_when_nothing_failed() {
    let mut r = started(Mode::Zero);
    let err = r.apply(Action::Retry, at(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "step upgrade-applications is pending, not failed: nothing to retry; continue with `changeover upgrade next`"
    );
    let mut saved = record(Mode::Zero, PlanShape::default());
    let err = saved.apply(Action::Retry, at(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "upgrade u1 is only saved (configuring): start it with `changeover upgrade next`, or abandon it with `changeover upgrade terminate`"
    );
}

#[test]
fn backup_is_skipped_only_with_the_risk_accepted() {
    let mut r = started(Mode::Full);
    for _ in 0..3 {
        run(&mut r, StepOutcome::Done);
        r.apply(Action::Next, at(4)).unwrap();
    }
    assert_eq!(r.current().unwrap().kind, StepKind::Backup);
    run(&mut r, StepOutcome::Failed("pg_dump exited 1".into()));
    let err = r.apply(Action::Next, at(4)).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("or skip it with `changeover upgrade skip --accept-risk`"),
        "{err}"
    );
    let err = r
        .apply(Action::Skip { accept_risk: false }, at(5))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "skipping step backup is a risk you must acknowledge: repeat with `changeover upgrade skip --accept-risk`"
    );
    r.apply(Action::Skip { accept_risk: true }, at(5)).unwrap();
    assert_eq!(
        r.current().unwrap().phase,
        StepPhase::Skipped {
            risk_accepted: true
        }
    );
    let err = r
        .apply(Action::Skip { accept_risk: true }, at(6))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "step backup is already skipped; continue with `changeover upgrade next`"
    );
    r.apply(Action::Next, at(6)).unwrap();
    assert_eq!(r.current().unwrap().kind, StepKind::UpgradeApplications);
    assert_eq!(
        r.backup_incomplete().as_deref(),
        Some("the backup step was skipped")
    );
}

#[test]
fn steps_that_cannot_be_skipped_say_what_to_do() {
    for (mode, kind, hint) in [
        (
            Mode::Full,
            StepKind::ForceTerminateTasks,
            "tasks terminate --all",
        ),
        (Mode::Full, StepKind::Stop, "upgrade retry"),
        (Mode::Full, StepKind::RerunTasks, "tasks rerun IDS"),
        (Mode::Full, StepKind::DataUpdate, "data-update skip IDS"),
        (Mode::Partial, StepKind::PreUpgrade, "upgrade retry"),
        (
            Mode::Zero,
            StepKind::UpgradeApplications,
            "force-terminate --mark failed",
        ),
    ] {
        let mut r = started(mode);
        while r.current().unwrap().kind != kind {
            run(&mut r, StepOutcome::Done);
            r.apply(Action::Next, at(4)).unwrap();
        }
        let err = r
            .apply(Action::Skip { accept_risk: true }, at(5))
            .unwrap_err();
        assert!(matches!(err, ActionError::SkipRefused { .. }), "{err}");
        assert!(err.to_string().contains(hint), "{kind}: {err}");
    }
}

#[test]
fn complete_after_every_step_records_the_time() {
    for mode in [Mode::Full, Mode::Partial, Mode::Zero] {
        let mut r = started(mode);
        run_all(&mut r);
        assert!(r.all_steps_settled());
        assert_eq!(r.percent(), 100);
        assert_eq!(r.status, Status::Upgrading, "{mode}: waits for Complete");
        r.apply(Action::Next, at(9)).unwrap();
        assert_eq!(r.status, Status::Succeeded);
        assert_eq!(r.milestones.completed_at, Some(at(9)));
        let err = r.apply(Action::Next, at(10)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "upgrade u1 already ended as succeeded; start a new one with `changeover upgrade start`"
        );
        assert!(!r.status.is_active(), "an ended record frees the lock");
    }
}

#[test]
fn verification_overruled_by_skipping_with_risk() {
    let mut r = started(Mode::Zero);
    run(&mut r, StepOutcome::Done);
    r.apply(Action::Next, at(4)).unwrap();
    run(
        &mut r,
        StepOutcome::NeedsOperator("verification failed; overrule with skip".into()),
    );
    r.apply(Action::Skip { accept_risk: true }, at(5)).unwrap();
    r.apply(Action::Next, at(6)).unwrap();
    r.apply(Action::Next, at(7)).unwrap();
    assert_eq!(r.status, Status::Succeeded);
}

#[test]
fn terminate_a_saved_record_abandons_it() {
    let mut r = record(Mode::Full, PlanShape::default());
    r.apply(Action::Terminate { rerun: false }, at(1)).unwrap();
    assert_eq!(r.status, Status::Terminated);
    assert_eq!(r.milestones.terminated_at, Some(at(1)));
}

#[test]
fn terminate_before_downtime_restores_dispatch_and_reruns() {
    let shape = PlanShape {
        before_hooks: true,
        after_hooks: false,
    };
    let mut r = record(Mode::Full, shape);
    r.apply(Action::Start, at(1)).unwrap();
    // enter maintenance (the engine records these milestones)
    run(&mut r, StepOutcome::Done);
    r.milestones.entered_maintenance_at = Some(at(2));
    r.milestones.dispatch_paused_at = Some(at(2));
    r.apply(Action::Next, at(3)).unwrap();
    // before hooks: one ran
    r.begin_step(at(3));
    r.current_mut()
        .unwrap()
        .ensure_item(Item::new("ha-off"))
        .finish(ItemState::Succeeded, at(3));
    r.finish_step(&StepOutcome::Done, at(3));
    r.apply(Action::Next, at(3)).unwrap();
    // force-terminate: one instance terminated, one still running
    r.begin_step(at(4));
    r.current_mut()
        .unwrap()
        .ensure_item(Item::new("inst-1"))
        .finish(ItemState::Succeeded, at(4));
    r.finish_step(&StepOutcome::NeedsOperator("1 instance runs".into()), at(4));

    r.apply(Action::Terminate { rerun: true }, at(5)).unwrap();
    assert_eq!(r.status, Status::Terminating { rerun: true });
    let kinds: Vec<StepKind> = r
        .exit
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .map(|s| s.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            StepKind::UndoBeforeHooks,
            StepKind::ResumeDispatch,
            StepKind::RerunTasks
        ]
    );
    assert_eq!(r.before_hooks_to_undo(), ["ha-off"]);
    assert_eq!(r.terminated_instances(), ["inst-1"]);
    assert!(r.wants_run());
    let err = r
        .apply(Action::Terminate { rerun: false }, at(5))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "upgrade u1 is already terminating; follow it with `changeover upgrade status`"
    );
    for expected in kinds {
        assert_eq!(run(&mut r, StepOutcome::Done), expected);
        assert!(r.advance(at(6)));
    }
    assert_eq!(r.status, Status::Terminated);
    assert_eq!(r.milestones.terminated_at, Some(at(6)));
    assert!(r.current().is_none());
}

#[test]
fn terminate_without_rerun_or_hooks_only_restores_dispatch() {
    let mut r = started(Mode::Full);
    run(&mut r, StepOutcome::Done);
    r.milestones.entered_maintenance_at = Some(at(2));
    r.apply(Action::Terminate { rerun: true }, at(3)).unwrap();
    let kinds: Vec<StepKind> = r
        .exit
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .map(|s| s.kind)
        .collect();
    assert_eq!(
        kinds,
        [StepKind::ResumeDispatch],
        "no instance was terminated"
    );
}

#[test]
fn terminate_before_anything_happened_ends_at_once() {
    let mut r = started(Mode::Zero);
    r.apply(Action::Terminate { rerun: false }, at(2)).unwrap();
    assert_eq!(r.status, Status::Terminated);
}

#[test]
fn terminate_refused_once_downtime_began() {
    let mut r = started(Mode::Full);
    for _ in 0..2 {
        run(&mut r, StepOutcome::Done);
        r.apply(Action::Next, at(3)).unwrap();
    }
    assert_eq!(r.current().unwrap().kind, StepKind::Stop);
    r.begin_step(at(4));
    let err = r
        .apply(Action::Terminate { rerun: true }, at(5))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "terminate is only possible before downtime begins, and step stop has started; end the upgrade with `changeover upgrade force-terminate --mark succeeded|failed`, then roll back if needed"
    );
    let mut p = started(Mode::Partial);
    for _ in 0..3 {
        run(&mut p, StepOutcome::Done);
        p.apply(Action::Next, at(3)).unwrap();
    }
    p.begin_step(at(4));
    assert_eq!(
        p.apply(Action::Terminate { rerun: false }, at(5)),
        Err(ActionError::DowntimeBegun {
            step: StepKind::UpgradeApplications
        })
    );
}

#[test]
fn force_terminate_at_any_step_records_mark_and_time() {
    for mark in [Mark::Succeeded, Mark::Failed] {
        let mut r = started(Mode::Partial);
        r.begin_step(at(2));
        r.apply(Action::ForceTerminate { mark }, at(3)).unwrap();
        assert_eq!(r.status, Status::ForceTerminated { mark });
        assert_eq!(r.milestones.force_completed_at, Some(at(3)));
        assert!(!r.wants_run(), "no self-healing after force-terminate");
        let err = r.apply(Action::ForceTerminate { mark }, at(4)).unwrap_err();
        assert!(matches!(err, ActionError::Ended { .. }));
    }
    let mut saved = record(Mode::Full, PlanShape::default());
    saved
        .apply(Action::ForceTerminate { mark: Mark::Failed }, at(1))
        .unwrap();
    assert_eq!(saved.status.label(), "force-terminated (marked failed)");
}

fn with_backup(mode: Mode, size: &str) -> UpgradeRecord {
    let mut r = started(mode);
    while r.current().unwrap().kind != StepKind::Backup {
        run(&mut r, StepOutcome::Done);
        r.apply(Action::Next, at(3)).unwrap();
    }
    r.begin_step(at(4));
    r.current_mut()
        .unwrap()
        .ensure_item(
            Item::new("metadata")
                .with_fact("file", "/b/u1-metadata.sql")
                .with_fact("size", size),
        )
        .finish(ItemState::Succeeded, at(4));
    r.finish_step(&StepOutcome::Done, at(4));
    r
}

#[test]
fn rollback_needs_an_ended_upgrade_with_a_complete_backup() {
    let mut r = with_backup(Mode::Full, "2048");
    let err = r.apply(Action::Rollback, at(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "upgrade u1 is still upgrading: end it first with `changeover upgrade force-terminate --mark failed`, then roll back"
    );
    r.apply(Action::ForceTerminate { mark: Mark::Failed }, at(5))
        .unwrap();
    assert_eq!(r.backup_incomplete(), None);
    r.apply(Action::Rollback, at(6)).unwrap();
    assert_eq!(r.status, Status::RollingBack);
    assert!(r.status.is_active(), "a rollback holds the lock");
    let kinds: Vec<StepKind> = r
        .exit
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .map(|s| s.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            StepKind::StopTarget,
            StepKind::RestoreBackups,
            StepKind::StartPrevious
        ]
    );
    let err = r.apply(Action::Rollback, at(6)).unwrap_err();
    assert!(matches!(err, ActionError::ExitUnderway { .. }), "{err}");
    run(&mut r, StepOutcome::Failed("restore failed".into()));
    r.apply(Action::Retry, at(7)).unwrap();
    for _ in 0..3 {
        run(&mut r, StepOutcome::Done);
        r.advance(at(8));
    }
    assert_eq!(r.status, Status::RolledBack);
    assert_eq!(r.milestones.rolled_back_at, Some(at(8)));
    let err = r.apply(Action::Rollback, at(9)).unwrap_err();
    assert!(matches!(err, ActionError::Ended { .. }));
}

#[test]
fn rollback_refused_without_a_complete_backup() {
    let mut empty = with_backup(Mode::Full, "0");
    empty
        .apply(Action::ForceTerminate { mark: Mark::Failed }, at(5))
        .unwrap();
    let err = empty.apply(Action::Rollback, at(6)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "upgrade u1 cannot be rolled back: the backup of metadata is not complete (a backup must succeed with a non-empty file); restore the metadata databases by hand from your own backups"
    );
    let mut zero = started(Mode::Zero);
    run_all(&mut zero);
    zero.apply(Action::Next, at(9)).unwrap();
    let err = zero.apply(Action::Rollback, at(9)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "upgrade u1 cannot be rolled back: zero downtime mode takes no backup; restore the metadata databases by hand from your own backups"
    );
    let mut terminated = record(Mode::Full, PlanShape::default());
    terminated
        .apply(Action::Terminate { rerun: false }, at(1))
        .unwrap();
    assert_eq!(
        terminated
            .apply(Action::Rollback, at(2))
            .unwrap_err()
            .to_string(),
        "upgrade u1 was terminated before downtime: nothing was changed, nothing to roll back"
    );
}

#[test]
fn rollback_undoes_before_hooks() {
    let shape = PlanShape {
        before_hooks: true,
        after_hooks: true,
    };
    let mut r = record(Mode::Partial, shape);
    r.apply(Action::Start, at(1)).unwrap();
    run(&mut r, StepOutcome::Done);
    r.apply(Action::Next, at(2)).unwrap();
    r.begin_step(at(2));
    r.current_mut()
        .unwrap()
        .ensure_item(Item::new("ha-off"))
        .finish(ItemState::Succeeded, at(2));
    r.finish_step(&StepOutcome::Done, at(2));
    r.apply(Action::Next, at(2)).unwrap();
    r.begin_step(at(3));
    r.current_mut()
        .unwrap()
        .ensure_item(
            Item::new("metadata")
                .with_fact("file", "f")
                .with_fact("size", "9"),
        )
        .finish(ItemState::Succeeded, at(3));
    r.finish_step(&StepOutcome::Done, at(3));
    r.apply(
        Action::ForceTerminate {
            mark: Mark::Succeeded,
        },
        at(4),
    )
    .unwrap();
    r.apply(Action::Rollback, at(5)).unwrap();
    assert_eq!(
        r.exit.as_ref().unwrap().steps.last().unwrap().kind,
        StepKind::UndoBeforeHooks
    );
}

#[test]
fn data_update_skip_respects_skippable() {
    let mut r = started(Mode::Partial);
    let step = r.step_mut(StepKind::DataUpdate).unwrap();
    step.ensure_item(Item::new("backfill_owner").with_fact("skippable", "true"));
    step.ensure_item(Item::new("acquire_metadata").with_fact("skippable", "false"));
    let err = r
        .skip_data_updates(&["acquire_metadata".into()], at(2))
        .unwrap_err();
    assert_eq!(
        err,
        "data-update task `acquire_metadata` is not skippable; start it with `changeover upgrade data-update run acquire_metadata`"
    );
    let err = r.skip_data_updates(&["nope".into()], at(2)).unwrap_err();
    assert_eq!(err, "no data-update task `nope` in this upgrade");
    r.skip_data_updates(&["backfill_owner".into()], at(2))
        .unwrap();
    let item = r
        .step(StepKind::DataUpdate)
        .unwrap()
        .item("backfill_owner")
        .unwrap();
    assert!(item.state.is_settled());
    assert!(matches!(
        started(Mode::Zero).skip_data_updates(&[], at(1)),
        Err(e) if e == "this upgrade has no data-update step"
    ));
}

#[test]
fn rerun_request_ids_are_deterministic() {
    let r = started(Mode::Full);
    assert_eq!(
        r.rerun_request_id(StepKind::RerunTasks, 0),
        "u1:rerun-tasks:0"
    );
    assert_eq!(
        r.rerun_request_id(StepKind::RerunTasks, 0),
        r.clone().rerun_request_id(StepKind::RerunTasks, 0)
    );
}

#[test]
fn record_round_trips_through_json() {
    let mut r = with_backup(Mode::Full, "12");
    r.paused_toggles = Some(vec![ToggleState {
        environment: "prod".into(),
        scheduling: true,
        execution: true,
    }]);
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains(r#""status":"upgrading""#), "{json}");
    assert!(json.contains(r#""phase":"done""#), "{json}");
    let back: UpgradeRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let mut t = r.clone();
    t.apply(Action::ForceTerminate { mark: Mark::Failed }, at(9))
        .unwrap();
    let back: UpgradeRecord = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(back.status, Status::ForceTerminated { mark: Mark::Failed });
}

#[test]
fn percent_counts_settled_items_and_steps() {
    let mut step = StepState::new(StepKind::Backup);
    assert_eq!(step.percent(), 0);
    step.ensure_item(Item::new("a"))
        .finish(ItemState::Succeeded, at(1));
    step.ensure_item(Item::new("b"));
    step.ensure_item(Item::new("a"));
    assert_eq!(step.items.len(), 2, "ensure_item does not duplicate");
    assert_eq!(step.percent(), 50);
    let r = with_backup(Mode::Full, "1");
    assert_eq!(r.percent(), 50, "4 of 8 full-downtime steps settled");
}

#[test]
fn mark_parses_with_a_clear_error() {
    assert_eq!("failed".parse::<Mark>(), Ok(Mark::Failed));
    assert_eq!(
        "maybe".parse::<Mark>().unwrap_err(),
        "unknown mark `maybe`: use succeeded or failed"
    );
}

/// A zero-downtime record at its verify step, waiting for the operator after a failed
/// verdict (one instance failed today that succeeded yesterday).
fn failed_verification() -> UpgradeRecord {
    let mut r = started(Mode::Zero);
    run(&mut r, StepOutcome::Done);
    r.apply(Action::Next, at(4)).unwrap();
    let failed = verify::FailedInstance {
        instance_id: "i-1".into(),
        node_id: "n-1".into(),
        task_name: "load".into(),
        node_type: "SHELL".into(),
        schedule_type: "scheduled".into(),
        updated_at: "2026-11-23T10:00:00Z".into(),
        status: "failed".into(),
    };
    let today: Date = "2026-11-23".parse().unwrap();
    r.verification = Some(verify::Report::new(
        today,
        &[],
        vec![failed],
        verify::VerdictRule::default(),
    ));
    run(
        &mut r,
        StepOutcome::NeedsOperator("verification failed".into()),
    );
    r
}

#[test]
fn overruling_the_verdict_records_who_when_and_why() {
    let mut r = failed_verification();
    r.overrule_verification("  alice ", " source outage, not the upgrade ", at(5))
        .unwrap();
    let report = r.verification.as_ref().unwrap();
    let o = report.overrule.as_ref().unwrap();
    assert_eq!(o.by.as_deref(), Some("alice"));
    assert_eq!(o.reason.as_deref(), Some("source outage, not the upgrade"));
    assert_eq!(o.at, at(5));
    assert_eq!(o.overruled, report.verdict.reasons);
    assert!(!o.overruled.is_empty());
    assert!(report.passed() && !report.verdict.passed);
    assert_eq!(
        r.current().unwrap().phase,
        StepPhase::Skipped {
            risk_accepted: true
        }
    );
    assert!(r.log.last().unwrap().message.contains("overruled by alice"));
    // in the record's JSON
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["verification"]["overrule"]["by"], "alice");
    assert_eq!(
        json["verification"]["overrule"]["reason"],
        "source outage, not the upgrade"
    );
    r.apply(Action::Next, at(6)).unwrap();
    r.apply(Action::Next, at(7)).unwrap();
    assert_eq!(r.status, Status::Succeeded);
}

#[test]
fn overruling_needs_a_name_and_a_reason() {
    let mut r = failed_verification();
    let before = r.clone();
    let err = r.overrule_verification("alice", "   ", at(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "overruling the verification verdict needs the reason: say in 1 to 2000 characters why the upgrade may be accepted"
    );
    let err = r.overrule_verification("", "fine", at(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "overruling the verification verdict needs the operator's name: give a name of 1 to 200 characters"
    );
    let long = "x".repeat(2001);
    assert!(r.overrule_verification("alice", &long, at(5)).is_err());
    assert_eq!(r, before, "a refused overrule changes nothing");
}

#[test]
fn overruling_is_refused_away_from_a_failed_verification() {
    let mut r = started(Mode::Zero);
    let err = r.overrule_verification("alice", "why", at(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "overruling acts on the verification verdict, but the upgrade is at upgrade-applications; follow it with `changeover upgrade status`"
    );
    run(&mut r, StepOutcome::Done);
    r.apply(Action::Next, at(4)).unwrap();
    // verify passed: nothing to overrule
    run(&mut r, StepOutcome::Done);
    let err = r.overrule_verification("alice", "why", at(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the verification has no failed verdict to overrule (step verify is done); continue with `changeover upgrade next`"
    );
}

#[test]
fn skipping_a_failed_verification_is_an_overrule_without_a_name() {
    let mut r = failed_verification();
    r.apply(Action::Skip { accept_risk: true }, at(5)).unwrap();
    let o = r.verification.as_ref().unwrap().overrule.clone().unwrap();
    assert_eq!((o.by, o.reason, o.at), (None, None, at(5)));
    assert!(r.current().unwrap().phase.is_settled());
}

#[test]
fn next_resumes_a_step_left_running_by_a_stopped_changeover() {
    let mut r = started(Mode::Full);
    r.begin_step(at(2)).unwrap();
    // changeover was killed here: the step is still `running`
    r.apply(Action::Next, at(3)).unwrap();
    assert_eq!(r.current().unwrap().phase, StepPhase::Running);
    assert!(r.wants_run());
    assert_eq!(r.log.last().unwrap().message, "resume requested");
}
