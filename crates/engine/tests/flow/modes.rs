use std::collections::BTreeMap;

use changeover_engine::Stop;
use changeover_engine::now;
use changeover_engine::operator::{self, Selection};
use changeover_engine::upgrade::plan::PlanShape;
use changeover_engine::upgrade::*;

use super::memory::Memory;

pub fn new_record(mode: Mode, auto: bool) -> UpgradeRecord {
    let mut r = UpgradeRecord::configure(
        NewUpgrade {
            id: "u1".into(),
            platform: "sample".into(),
            from_version: "1.0.0".into(),
            to_version: "1.1.0".into(),
            mode,
            shape: PlanShape {
                before_hooks: true,
                after_hooks: true,
            },
            announcement: Announcement::new(None, None, None).unwrap(),
            risk_accepted: true,
            auto_advance: auto,
            configuration: BTreeMap::new(),
        },
        now(),
    );
    r.apply(Action::Start, now()).unwrap();
    r
}

#[tokio::test]
async fn full_downtime_runs_every_step_and_reruns_each_terminated_instance_once() {
    let mem = Memory::new(&["i1", "i2"]);
    let engine = mem.engine();
    let mut r = new_record(Mode::Full, true);
    let stop = engine.drive(&mut r).await.unwrap();
    assert_eq!(stop, Stop::Ended(Status::Succeeded), "{:#?}", r.log);
    let w = mem.world();
    assert_eq!(w.killed, ["i1", "i2"]);
    assert_eq!(w.rerun_started, ["i1", "i2"]);
    assert_eq!(w.stops, ["scheduler"], "always-on dataservice never stops");
    assert_eq!(w.backups, ["u1/metadata"]);
    assert_eq!(w.migrations, 1);
    assert_eq!(w.hooks, ["run:ha-off", "run:ha-on"]);
    assert_eq!(w.task_runs.len(), 2);
    assert!(w.task_runs.values().all(|&n| n == 1));
    assert!(
        w.toggles
            .iter()
            .find(|t| t.environment == "prod")
            .unwrap()
            .scheduling,
        "dispatch restored"
    );
    let m = &r.milestones;
    assert!(m.entered_maintenance_at.is_some() && m.dispatch_paused_at.is_some());
    assert!(m.all_tasks_terminated_at.is_some() && m.dispatch_resumed_at.is_some());
    assert!(m.maintenance_exited_at.is_some() && m.completed_at.is_some());
    assert!(!r.in_maintenance() && !r.dispatch_paused());
}

#[tokio::test]
async fn partial_downtime_pauses_dispatch_only_around_the_application_upgrade() {
    let mem = Memory::new(&["i1"]);
    let engine = mem.engine();
    let mut r = new_record(Mode::Partial, true);
    assert_eq!(
        engine.drive(&mut r).await.unwrap(),
        Stop::Ended(Status::Succeeded)
    );
    let w = mem.world();
    assert!(w.killed.is_empty(), "no running instance interrupted");
    assert_eq!(
        r.backup_incomplete(),
        None,
        "the background backup was recorded"
    );
    assert!(w.stops.is_empty());
    assert!(
        w.scheduling_during_start.iter().all(|(_, s)| !s),
        "paused while upgrading"
    );
    assert!(
        w.toggles
            .iter()
            .find(|t| t.environment == "prod")
            .unwrap()
            .scheduling
    );
    assert!(
        r.milestones.dispatch_paused_at.unwrap()
            >= r.step(StepKind::UpgradeApplications)
                .unwrap()
                .started_at
                .unwrap()
    );
}

#[tokio::test]
async fn zero_downtime_rolls_always_on_applications_without_maintenance() {
    let mem = Memory::new(&["i1"]);
    let engine = mem.engine();
    let mut r = new_record(Mode::Zero, true);
    assert_eq!(
        engine.drive(&mut r).await.unwrap(),
        Stop::Ended(Status::Succeeded)
    );
    let w = mem.world();
    // the always-on data service rolls; the scheduler keeps its declared strategy
    assert!(
        w.starts
            .iter()
            .any(|(a, _, rolling)| a == "dataservice" && *rolling)
    );
    assert!(
        w.starts
            .iter()
            .any(|(a, _, rolling)| a == "scheduler" && !*rolling)
    );
    assert!(
        w.scheduling_during_start.iter().all(|(_, s)| *s),
        "dispatch never paused"
    );
    assert!(r.milestones.entered_maintenance_at.is_none());
}

#[tokio::test]
async fn operator_mode_waits_for_next_and_for_chosen_terminations() {
    let mem = Memory::new(&["i1", "i2"]);
    let engine = mem.engine();
    let mut r = new_record(Mode::Full, false);
    assert_eq!(
        engine.drive(&mut r).await.unwrap(),
        Stop::AwaitingNext(StepKind::EnterMaintenance)
    );
    r.apply(Action::Next, now()).unwrap();
    assert_eq!(
        engine.drive(&mut r).await.unwrap(),
        Stop::AwaitingNext(StepKind::BeforeHooks)
    );
    r.apply(Action::Next, now()).unwrap();
    let stop = engine.drive(&mut r).await.unwrap();
    assert!(
        matches!(&stop, Stop::NeedsOperator { step: StepKind::ForceTerminateTasks, reason } if reason.contains("i1, i2")),
        "{stop:?}"
    );
    operator::terminate_instances(&engine, &mut r, Selection::Ids(vec!["i1".into()]))
        .await
        .unwrap();
    let stop = engine.drive(&mut r).await.unwrap();
    assert!(
        matches!(stop, Stop::NeedsOperator { .. }),
        "i2 still runs: {stop:?}"
    );
    // i2 finishes on its own: not terminated, not re-run
    mem.world().running.clear();
    r.apply(Action::Retry, now()).unwrap();
    assert_eq!(
        engine.drive(&mut r).await.unwrap(),
        Stop::AwaitingNext(StepKind::ForceTerminateTasks)
    );
    assert_eq!(r.terminated_instances(), ["i1"]);
    let err = r.apply(Action::Terminate { rerun: true }, now());
    assert!(err.is_ok(), "still before downtime");
    assert_eq!(
        engine.drive(&mut r).await.unwrap(),
        Stop::Ended(Status::Terminated)
    );
    let w = mem.world();
    assert_eq!(w.rerun_started, ["i1"]);
    assert_eq!(w.hooks, ["run:ha-off", "undo:ha-off"]);
    assert!(
        w.toggles
            .iter()
            .find(|t| t.environment == "prod")
            .unwrap()
            .scheduling
    );
    assert!(!r.in_maintenance());
}

#[tokio::test]
async fn a_failed_verification_is_overruled_with_who_and_why() {
    let mem = Memory::new(&[]);
    mem.world().failed_today = vec![verify::FailedInstance {
        instance_id: "i-9".into(),
        node_id: "n-9".into(),
        task_name: "load".into(),
        node_type: "SHELL".into(),
        schedule_type: "scheduled".into(),
        updated_at: "2026-11-23T10:00:00Z".into(),
        status: "failed".into(),
    }];
    let engine = mem.engine();
    let mut r = new_record(Mode::Zero, true);
    let stop = engine.drive(&mut r).await.unwrap();
    assert!(
        matches!(&stop, Stop::NeedsOperator { step: StepKind::Verify, reason } if reason.contains("verification failed")),
        "{stop:?}"
    );
    let err = operator::overrule_verification(&engine, &mut r, "alice", " ")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs the reason"), "{err}");
    operator::overrule_verification(
        &engine,
        &mut r,
        "alice",
        "the load failed on a source outage",
    )
    .await
    .unwrap();
    assert_eq!(
        engine.drive(&mut r).await.unwrap(),
        Stop::Ended(Status::Succeeded)
    );
    let shown = changeover_engine::view::status(&r);
    assert!(
        shown.contains("verdict overruled by alice at ")
            && shown.contains("(the load failed on a source outage)"),
        "{shown}"
    );
    let saved = mem.world().last.clone().expect("the record was saved");
    let o = saved.verification.unwrap().overrule.unwrap();
    assert_eq!(o.by.as_deref(), Some("alice"));
    assert_eq!(
        o.reason.as_deref(),
        Some("the load failed on a source outage")
    );
    assert!(!o.overruled.is_empty(), "the overruled reasons are kept");
}

#[tokio::test]
async fn data_update_stop_is_refused_unless_a_task_runs() {
    let requests = changeover_engine::port::NoRequests;
    let zero = new_record(Mode::Zero, true);
    let err = operator::request_data_update_stop(&requests, &zero, Selection::All, "alice")
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "this upgrade has no data-update step");

    let mem = Memory::new(&[]);
    let engine = mem.engine();
    let mut r = new_record(Mode::Partial, true);
    assert_eq!(
        engine.drive(&mut r).await.unwrap(),
        Stop::Ended(Status::Succeeded)
    );
    let err = operator::request_data_update_stop(&requests, &r, Selection::All, "alice")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no data-update task is running: nothing to stop"
    );
    let err = operator::request_data_update_stop(
        &requests,
        &r,
        Selection::Ids(vec!["backfill_owner".into()]),
        "alice",
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "data-update task `backfill_owner` is not running (succeeded); only a running task can be stopped"
    );
}
