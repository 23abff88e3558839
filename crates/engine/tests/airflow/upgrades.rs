//! The three Airflow scenarios: partial downtime 2.10.2 → 2.11.2 with a run in
//! flight, full downtime 2.11.2 → 3.3.2 with runs force-stopped and re-run once, and the
//! rollback of that upgrade.

use std::time::Duration;

use changeover_airflow::testkit;
use changeover_drivers::SchedulerAdapter;
use changeover_engine::console::{ModeArg, UpgradeCommand};
use changeover_engine::upgrade::Status;

use crate::harness::Deployment;

/// The schema heads of the versions (`airflow/utils/db.py` of each wheel).
const HEAD_2_10_2: &str = "22ed7efa9da2";
const HEAD_2_11_2: &str = "5f2621c13b39";
const HEAD_3_3_2: &str = "d2f4e1b3c5a7";

fn unpaused_by_operator() -> Vec<(String, bool)> {
    vec![
        ("changeover_long".into(), false),
        ("changeover_operator_paused".into(), true),
        ("changeover_quick".into(), false),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partial_downtime_2_10_to_2_11_interrupts_no_running_task() -> anyhow::Result<()> {
    let d = Deployment::install("partial", "2.10.2", 30).await?;
    assert_eq!(d.alembic().await?, HEAD_2_10_2);
    assert_eq!(d.paused().await?, unpaused_by_operator());
    let in_flight = d.running_long_run(Duration::from_secs(180)).await?;
    let run_id = in_flight.node_id.clone();
    let before = testkit::task_instance(&d.database, "changeover_long", &run_id, "slow")
        .await
        .map_err(anyhow::Error::msg)?
        .expect("the slow task instance exists");
    assert_eq!(before.0.as_deref(), Some("running"));

    let record = d.upgrade("2.11.2", ModeArg::Partial).await?;
    assert_eq!(
        record.status,
        Status::Succeeded,
        "{}",
        changeover_engine::view::status(&record)
    );
    // The schema step ran with 2.11.2's `airflow db migrate`.
    assert_eq!(d.alembic().await?, HEAD_2_11_2);
    // The task that was running finished on its first try: the old scheduler drained it.
    let after = testkit::task_instance(&d.database, "changeover_long", &run_id, "slow")
        .await
        .map_err(anyhow::Error::msg)?
        .expect("still there");
    assert_eq!(
        after,
        (Some("success".to_owned()), before.1),
        "the running task was interrupted or retried"
    );
    // Dispatch is back exactly as it was: the operator's paused DAG stays paused.
    assert_eq!(d.paused().await?, unpaused_by_operator());
    let adapter = d.adapter().await?;
    assert_eq!(adapter.version(), "2.11.2");
    let toggles = adapter.toggles().await?;
    assert!(toggles[0].execution, "{toggles:?}");
    // Dispatch was paused only while maintenance mode was on.
    let m = &record.milestones;
    assert!(m.entered_maintenance_at.is_some() && m.maintenance_exited_at.is_some());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_downtime_2_11_to_3_3_reruns_each_stopped_run_once_then_rolls_back()
-> anyhow::Result<()> {
    let d = Deployment::install("full", "2.11.2", 600).await?;
    let in_flight = d.running_long_run(Duration::from_secs(180)).await?;
    let run_id = in_flight.node_id.clone();
    assert_eq!(d.alembic().await?, HEAD_2_11_2);

    let record = d.upgrade("3.3.2", ModeArg::Full).await?;
    assert_eq!(
        record.status,
        Status::Succeeded,
        "{}",
        changeover_engine::view::status(&record)
    );
    assert_eq!(d.alembic().await?, HEAD_3_3_2);
    let adapter = d.adapter().await?;
    assert_eq!(adapter.version(), "3.3.2");
    // The run that was in flight was force-stopped and re-run exactly once on 3.3.2: the
    // clear left its slow task without a state; the scheduler then starts it as its second
    // try (cleared once), never a third.
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let ti = loop {
        let ti = testkit::task_instance(&d.database, "changeover_long", &run_id, "slow")
            .await
            .map_err(anyhow::Error::msg)?
            .expect("the slow task instance survived the migration");
        assert_ne!(
            ti.0.as_deref(),
            Some("failed"),
            "the stopped run was not re-run: {ti:?}"
        );
        if ti.1 >= 2 || std::time::Instant::now() > deadline {
            break ti;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        ti.1, 2,
        "the stopped run's task should be on its second try: {ti:?}"
    );
    assert_eq!(d.paused().await?, unpaused_by_operator());
    // Verification on 3.3.2 counts today's runs.
    let report = d
        .console
        .verify_now()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = changeover_engine::view::verification(&report);
    assert!(text.contains("recent"), "{text}");

    // Roll back: 2.11.2 runs again on the restored backup, its runs intact.
    d.console
        .execute(UpgradeCommand::Rollback {
            id: record.id.clone(),
        })
        .await
        .map_err(|e| anyhow::anyhow!("rollback: {e}"))?;
    let rolled = d.latest().await?;
    assert_eq!(
        rolled.status,
        Status::RolledBack,
        "{}",
        changeover_engine::view::status(&rolled)
    );
    assert_eq!(d.alembic().await?, HEAD_2_11_2);
    let adapter = d.adapter().await?;
    assert_eq!(adapter.version(), "2.11.2");
    let runs = testkit::dag_runs(&d.database, "changeover_long")
        .await
        .map_err(anyhow::Error::msg)?;
    assert!(
        runs.iter().any(|(id, _)| *id == run_id),
        "the run in flight before the upgrade is in the restored database: {runs:?}"
    );
    Ok(())
}
