//! Each mode on the real sample platform, with the seeds' guarantees asserted.

use changeover_drivers::SchedulerAdapter;
use changeover_drivers::scheduler::{Environment, InstanceStatus};
use changeover_engine::console::{ModeArg, UpgradeCommand};
use changeover_engine::upgrade::{Status, StepKind};

use super::harness::Platform;
use crate::adapters::db::TestDb;

fn start(to: &str, mode: ModeArg, yes: bool) -> UpgradeCommand {
    UpgradeCommand::Start {
        to: to.into(),
        mode,
        estimated_completion: Some("2026-11-23 23:00".into()),
        contact_email: Some("ops@example.com".into()),
        contact_phone: Some("+1 555 0100".into()),
        save_only: false,
        accept_risk: true,
        yes,
    }
}

async fn prod_scheduling(p: &Platform) -> bool {
    p.client
        .toggles()
        .await
        .unwrap()
        .iter()
        .find(|t| t.environment == Environment::Prod)
        .unwrap()
        .scheduling
}

async fn latest(p: &Platform) -> changeover_engine::upgrade::UpgradeRecord {
    p.console
        .store
        .list()
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
}

async fn partial_downtime(db: TestDb) {
    let p = Platform::start(db, 3, 6).await;
    p.console
        .execute(start("1.1.0", ModeArg::Partial, true))
        .await
        .unwrap();
    let r = latest(&p).await;
    assert_eq!(
        r.status,
        Status::Succeeded,
        "{}",
        changeover_engine::view::status(&r)
    );
    assert_eq!(
        p.count(InstanceStatus::Killed).await,
        0,
        "no running instance interrupted"
    );
    // dispatch paused only during the application-upgrade step
    let step = r.step(StepKind::UpgradeApplications).unwrap();
    let (paused, resumed) = (
        r.milestones.dispatch_paused_at.unwrap(),
        r.milestones.dispatch_resumed_at.unwrap(),
    );
    assert!(step.started_at.unwrap() <= paused && resumed <= step.finished_at.unwrap());
    assert!(prod_scheduling(&p).await, "dispatch resumed");
    assert!(
        r.backup_incomplete().is_none(),
        "the backup completed in the background"
    );
    assert_eq!(p.client.health().await.unwrap().version, "1.1.0");
    let backfill = r
        .step(StepKind::DataUpdate)
        .unwrap()
        .item("backfill_owner")
        .unwrap();
    assert!(backfill.state.is_settled());
}

#[tokio::test]
async fn partial_downtime_on_sqlite() {
    partial_downtime(TestDb::sqlite()).await;
}

#[tokio::test]
async fn partial_downtime_on_postgres() {
    partial_downtime(TestDb::postgres()).await;
}

async fn full_downtime(db: TestDb) {
    let p = Platform::start(db, 3, 30).await;
    let running_before = p.client.running_instances().await.unwrap().len();
    assert!(running_before >= 1);
    p.console
        .execute(start("1.1.0", ModeArg::Full, true))
        .await
        .unwrap();
    let r = latest(&p).await;
    assert_eq!(
        r.status,
        Status::Succeeded,
        "{}",
        changeover_engine::view::status(&r)
    );
    let terminated = r.terminated_instances();
    assert!(!terminated.is_empty(), "instances were force-terminated");
    let rerun = r.step(StepKind::RerunTasks).unwrap();
    let mut new_ids = Vec::new();
    for id in &terminated {
        let item = rerun.item(id).unwrap_or_else(|| panic!("{id} not re-run"));
        new_ids.push(
            item.fact("new_id")
                .unwrap_or_else(|| panic!("{id}: no new id"))
                .to_owned(),
        );
    }
    new_ids.sort();
    new_ids.dedup();
    assert_eq!(
        new_ids.len(),
        terminated.len(),
        "every force-terminated instance re-run exactly once"
    );
    assert!(r.milestones.all_tasks_terminated_at.is_some());
    assert!(
        r.milestones.dispatch_resumed_at.is_some() && r.milestones.maintenance_exited_at.is_some()
    );
    assert!(r.backup_incomplete().is_none());
    assert!(prod_scheduling(&p).await);
    assert_eq!(p.client.health().await.unwrap().version, "1.1.0");
}

#[tokio::test]
async fn full_downtime_on_sqlite() {
    full_downtime(TestDb::sqlite()).await;
}

#[tokio::test]
async fn full_downtime_on_postgres() {
    full_downtime(TestDb::postgres()).await;
}

#[tokio::test]
async fn zero_downtime_refused_across_a_minor_version_with_the_reason() {
    let p = Platform::start(TestDb::sqlite(), 0, 1).await;
    let err = p
        .console
        .execute(start("1.1.0", ModeArg::Zero, false))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "zero-downtime needs the same first three segments (1.0.0 vs 1.1.0): full downtime is selected instead; full downtime is offered: start again with `--mode full`"
    );
    assert!(
        p.console.store.list().await.unwrap().is_empty(),
        "nothing was started"
    );
}

#[tokio::test]
async fn zero_downtime_serves_every_data_service_request() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let p = Platform::start(TestDb::sqlite(), 2, 5).await;
    let state = p.settings.process_state_dir();
    let (ok, failed, stop) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let requests = {
        let (ok, failed, stop) = (ok.clone(), failed.clone(), stop.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::SeqCst) {
                let upstream = changeover_drivers::RoutingTable::read(&state)
                    .ok()
                    .and_then(|t| t.upstream("dataservice").map(str::to_owned));
                let answered = match upstream {
                    Some(u) => client
                        .get(format!("http://{u}/health"))
                        .send()
                        .await
                        .is_ok_and(|a| a.status().is_success()),
                    None => false,
                };
                let counter = if answered { &ok } else { &failed };
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
    };
    p.console
        .execute(start("1.0.1", ModeArg::Zero, true))
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    requests.await.unwrap();
    let r = latest(&p).await;
    assert_eq!(
        r.status,
        Status::Succeeded,
        "{}",
        changeover_engine::view::status(&r)
    );
    assert_eq!(failed.load(Ordering::SeqCst), 0, "every request answered");
    assert!(ok.load(Ordering::SeqCst) > 10);
    assert!(
        r.milestones.entered_maintenance_at.is_none() && r.milestones.dispatch_paused_at.is_none()
    );
    assert_eq!(p.count(InstanceStatus::Killed).await, 0);
}

#[tokio::test]
async fn terminate_before_downtime_restores_dispatch_and_maintenance() {
    let p = Platform::start(TestDb::sqlite(), 2, 30).await;
    p.console
        .execute(start("1.1.0", ModeArg::Full, false))
        .await
        .unwrap();
    let r = latest(&p).await;
    assert_eq!(r.status, Status::Upgrading);
    assert!(r.in_maintenance() && r.dispatch_paused());
    assert!(
        !prod_scheduling(&p).await,
        "dispatch paused on entering maintenance"
    );
    p.console
        .execute(UpgradeCommand::Terminate { rerun: false })
        .await
        .unwrap();
    let r = latest(&p).await;
    assert_eq!(
        r.status,
        Status::Terminated,
        "{}",
        changeover_engine::view::status(&r)
    );
    assert!(r.milestones.terminated_at.is_some());
    assert!(!r.in_maintenance() && !r.dispatch_paused());
    assert!(prod_scheduling(&p).await, "dispatch restored");
    assert_eq!(p.count(InstanceStatus::Killed).await, 0);
    assert_eq!(
        p.client.health().await.unwrap().version,
        "1.0.0",
        "nothing was upgraded"
    );
}

#[tokio::test]
async fn force_terminate_records_the_mark_and_the_time() {
    use changeover_engine::console::MarkArg;
    use changeover_engine::upgrade::Mark;
    let p = Platform::start(TestDb::sqlite(), 0, 1).await;
    p.console
        .execute(start("1.1.0", ModeArg::Partial, false))
        .await
        .unwrap();
    p.console
        .execute(UpgradeCommand::ForceTerminate {
            mark: MarkArg::Failed,
        })
        .await
        .unwrap();
    let r = latest(&p).await;
    assert_eq!(r.status, Status::ForceTerminated { mark: Mark::Failed });
    assert!(r.milestones.force_completed_at.is_some());
    let err = p
        .console
        .execute(UpgradeCommand::Next)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "no upgrade in progress; start one with `changeover upgrade start`"
    );
}
