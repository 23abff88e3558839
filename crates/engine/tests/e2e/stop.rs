//! `changeover upgrade data-update stop` from another process: the changeover driving the
//! upgrade stops the running task, records it stopped, and `data-update run` runs it again.

use std::time::Duration;

use changeover_engine::adapter::store::StoreRequests;
use changeover_engine::operator::{self, Selection};
use changeover_engine::port::Requests;
use changeover_engine::upgrade::{ItemState, Mode, Status, StepKind, StepPhase, UpgradeRecord};
use changeover_store::{Location, Store};

use super::crash::{drive, driver, driver_config, platform};
use super::harness::Platform;

async fn latest(p: &Platform) -> Option<UpgradeRecord> {
    p.console.store.list().await.unwrap().into_iter().next()
}

fn task_state(r: &UpgradeRecord, name: &str) -> Option<ItemState> {
    r.step(StepKind::DataUpdate)?
        .item(name)
        .map(|i| i.state.clone())
}

/// Waits until the record shows `backfill_owner` running.
async fn wait_backfill_running(p: &Platform) -> UpgradeRecord {
    for _ in 0..240 {
        if let Some(r) = latest(p).await
            && task_state(&r, "backfill_owner") == Some(ItemState::Running)
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("backfill_owner never ran (held by hold-backfill)");
}

fn runs(p: &Platform, task: &str) -> usize {
    std::fs::read_to_string(p.settings.data_dir.join("data-update-runs.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == task)
        .count()
}

#[tokio::test]
async fn a_stop_asked_while_no_changeover_drives_is_honoured_on_resume_without_a_rerun() {
    let p = platform(Mode::Partial).await;
    let hold = p.settings.data_dir.join("hold-backfill");
    std::fs::write(&hold, b"").unwrap();
    let config = driver_config(&p);
    let mut driving = driver(&config, &["start", "partial", "1.1.0"], None)
        .spawn()
        .unwrap();
    let running = wait_backfill_running(&p).await;
    // the driving changeover dies with the task running
    driving.kill().await.unwrap();
    assert_eq!(runs(&p, "backfill_owner"), 1);

    let stop = drive(&config, &["data-update", "stop", "backfill_owner"], None).await;
    assert!(stop.success(), "data-update stop: {stop}");
    let store = Store::open(&Location::Sqlite(p.dir().join("store.db")))
        .await
        .unwrap();
    let requests = StoreRequests(store);
    assert_eq!(
        requests.stop_requests(&running.id).await.unwrap(),
        [("backfill_owner".to_owned(), operator::local_operator())],
        "the request waits in the store, naming who asked"
    );

    // restarted: the task is recorded stopped, not run again
    let resumed = drive(&config, &["next"], None).await;
    assert!(
        !resumed.success(),
        "the stopped blocking task fails the step"
    );
    let r = latest(&p).await.unwrap();
    assert_eq!(task_state(&r, "backfill_owner"), Some(ItemState::Stopped));
    assert_eq!(runs(&p, "backfill_owner"), 1, "not run again on resume");
    assert!(requests.stop_requests(&r.id).await.unwrap().is_empty());

    std::fs::remove_file(&hold).unwrap();
    let run = drive(&config, &["data-update", "run", "backfill_owner"], None).await;
    assert!(run.success(), "data-update run: {run}");
    let r = latest(&p).await.unwrap();
    assert_eq!(
        r.status,
        Status::Succeeded,
        "{}",
        changeover_engine::view::status(&r)
    );
    assert_eq!(runs(&p, "backfill_owner"), 2);
}

#[tokio::test]
async fn a_running_data_update_is_stopped_from_another_process_and_runs_again() {
    let p = platform(Mode::Partial).await;
    let hold = p.settings.data_dir.join("hold-backfill");
    std::fs::write(&hold, b"").unwrap();
    let config = driver_config(&p);
    // the changeover driving the upgrade
    let driving = {
        let config = config.clone();
        tokio::spawn(async move { drive(&config, &["start", "partial", "1.1.0"], None).await })
    };
    let running = wait_backfill_running(&p).await;

    // refused for a task that is not running, nothing saved
    let store = Store::open(&Location::Sqlite(p.dir().join("store.db")))
        .await
        .unwrap();
    let requests = StoreRequests(store);
    let err = operator::request_data_update_stop(
        &requests,
        &running,
        Selection::Ids(vec!["refresh_stats".into()]),
        "alice",
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "data-update task `refresh_stats` is not running (pending); only a running task can be stopped"
    );
    let err = operator::request_data_update_stop(
        &requests,
        &running,
        Selection::Ids(vec!["no_such_task".into()]),
        "alice",
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("no data-update task `no_such_task`"),
        "{err}"
    );
    assert!(
        requests
            .stop_requests(&running.id)
            .await
            .unwrap()
            .is_empty()
    );

    // stop every running task (the batch form) from another process
    let stop = drive(&config, &["data-update", "stop", "--all"], None).await;
    assert!(stop.success(), "data-update stop: {stop}");
    let driven = tokio::time::timeout(Duration::from_secs(60), driving)
        .await
        .expect("the driving changeover saw the stop request")
        .unwrap();
    assert!(
        !driven.success(),
        "a stopped blocking task fails the step: the driver reports it"
    );
    let r = latest(&p).await.unwrap();
    assert_eq!(task_state(&r, "backfill_owner"), Some(ItemState::Stopped));
    let step = r.step(StepKind::DataUpdate).unwrap();
    assert!(
        matches!(&step.phase, StepPhase::Failed { reason } if reason.contains("backfill_owner: stopped")),
        "{:?}",
        step.phase
    );
    assert!(
        r.log
            .iter()
            .any(|l| l.message.contains("stopped at the request of")),
        "the record says who stopped it"
    );
    assert!(
        requests.stop_requests(&r.id).await.unwrap().is_empty(),
        "the request is cleared once acted on"
    );
    assert_eq!(
        r.status,
        Status::Upgrading,
        "the upgrade waits for the operator"
    );

    // runnable again later
    std::fs::remove_file(&hold).unwrap();
    let run = drive(&config, &["data-update", "run", "backfill_owner"], None).await;
    assert!(run.success(), "data-update run: {run}");
    let r = latest(&p).await.unwrap();
    assert_eq!(task_state(&r, "backfill_owner"), Some(ItemState::Succeeded));
    let item = r
        .step(StepKind::DataUpdate)
        .unwrap()
        .item("backfill_owner")
        .unwrap();
    assert_eq!(
        item.fact("runs"),
        Some("2"),
        "a second run under a new run id"
    );
    assert_eq!(
        r.status,
        Status::Succeeded,
        "{}",
        changeover_engine::view::status(&r)
    );
    assert_eq!(
        (runs(&p, "backfill_owner"), runs(&p, "refresh_stats")),
        (2, 1)
    );
}

#[tokio::test]
async fn a_stop_asked_after_the_task_ended_unrecorded_keeps_its_outcome() {
    use std::os::unix::process::ExitStatusExt;
    let p = platform(Mode::Partial).await;
    let config = driver_config(&p);
    // killed after backfill_owner ran and before its outcome was saved
    let killed = drive(
        &config,
        &["start", "partial", "1.1.0"],
        Some("data-update:effect"),
    )
    .await;
    assert_eq!(killed.signal(), Some(9), "{killed}");
    let r = latest(&p).await.unwrap();
    assert_eq!(task_state(&r, "backfill_owner"), Some(ItemState::Running));
    let stop = drive(&config, &["data-update", "stop", "backfill_owner"], None).await;
    assert!(stop.success(), "data-update stop: {stop}");

    let resumed = drive(&config, &["next"], None).await;
    assert!(resumed.success(), "resume: {resumed}");
    let r = latest(&p).await.unwrap();
    assert_eq!(task_state(&r, "backfill_owner"), Some(ItemState::Succeeded));
    assert_eq!(r.status, Status::Succeeded);
    assert_eq!(runs(&p, "backfill_owner"), 1, "its run is not repeated");
    assert!(
        r.log
            .iter()
            .any(|l| l.message.contains("had ended before the request")),
        "the record says the stop came too late"
    );
}
