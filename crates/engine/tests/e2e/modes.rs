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
