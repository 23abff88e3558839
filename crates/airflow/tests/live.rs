//! One real Airflow per version, driven through the adapter: toggles remembered exactly
//! (also across a new adapter, as after a changeover crash), running DAG runs listed,
//! terminate idempotent, re-run once per request id, statistics.

use std::time::{Duration, Instant};

use changeover_airflow::testkit::{self, Spec};
use changeover_airflow::{AirflowAdapter, AirflowConfig, Password};
use changeover_drivers::SchedulerAdapter;
use changeover_drivers::scheduler::{Environment, InstanceStatus, StatisticsQuery, ToggleChange};

async fn paused(database: &str) -> anyhow::Result<Vec<(String, bool)>> {
    testkit::paused_dags(database)
        .await
        .map_err(anyhow::Error::msg)
}

fn config(spec: &Spec, state_file: &std::path::Path) -> AirflowConfig {
    AirflowConfig {
        base_url: spec.base_url(),
        username: spec.username.clone(),
        password: Password::new(spec.password.clone()),
        state_file: state_file.to_owned(),
    }
}

async fn adapter_drives_a_real_airflow(version: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let database = format!(
        "airflow_adapter_{}_{}",
        version.replace('.', "_"),
        std::process::id()
    );
    testkit::create_database(&database)
        .await
        .map_err(anyhow::Error::msg)?;
    let port = testkit::free_port().map_err(anyhow::Error::msg)?;
    let spec = Spec::new(version, dir.path(), &database, port);
    testkit::init(&spec).map_err(anyhow::Error::msg)?;
    let mut running = testkit::start(&spec, Duration::from_secs(240))
        .await
        .map_err(anyhow::Error::msg)?;
    let state_file = dir.path().join("state/airflow-adapter.json");
    let result = scenario(&spec, &database, &state_file, &mut running).await;
    running.stop(Duration::from_secs(10));
    testkit::drop_database(&database).await;
    result
}

async fn scenario(
    spec: &Spec,
    database: &str,
    state_file: &std::path::Path,
    running: &mut testkit::Running,
) -> anyhow::Result<()> {
    let adapter = AirflowAdapter::connect(config(spec, state_file)).await?;
    assert_eq!(adapter.major(), spec.major());
    assert_eq!(adapter.version(), spec.version);
    assert!(adapter.describe().contains(&spec.version));

    // The DAGs are parsed and a run of changeover_long is in flight.
    let deadline = Instant::now() + Duration::from_secs(240);
    let instances = loop {
        running.check_alive().map_err(anyhow::Error::msg)?;
        let list = adapter.running_instances().await?;
        let long_runs = list.iter().any(|i| {
            i.workflow == "changeover_long"
                && i.status == InstanceStatus::Running
                && i.task == "slow"
        });
        if long_runs {
            break list;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no changeover_long run reached its slow task: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let long = instances
        .iter()
        .find(|i| i.workflow == "changeover_long")
        .expect("found above")
        .clone();
    assert_eq!(long.tenant, "finance");
    assert_eq!(long.environment, Environment::Prod);
    assert!(long.id.starts_with("changeover_long/"), "{}", long.id);

    let toggles = adapter.toggles().await?;
    assert_eq!(toggles.len(), 1);
    assert!(toggles[0].scheduling && toggles[0].execution, "{toggles:?}");

    // Scheduling off: the two unpaused DAGs are paused and remembered, the operator's
    // paused DAG is not in the memory.
    let off = adapter
        .set_toggles(
            Environment::Prod,
            ToggleChange {
                scheduling: Some(false),
                execution: None,
            },
        )
        .await?;
    assert!(!off.scheduling);
    let mut remembered = adapter.remembered()?.paused_by_us.expect("remembered");
    remembered.sort();
    assert_eq!(remembered, ["changeover_long", "changeover_quick"]);
    assert!(
        paused(database).await?.iter().all(|(_, p)| *p),
        "every DAG paused: {:?}",
        paused(database).await?
    );
    // Twice is the same.
    adapter
        .set_toggles(
            Environment::Prod,
            ToggleChange {
                scheduling: Some(false),
                execution: None,
            },
        )
        .await?;
    let mut again = adapter.remembered()?.paused_by_us.expect("remembered");
    again.sort();
    assert_eq!(again, remembered);

    // Execution off and on: default_pool slots 0, then back to what they were.
    adapter
        .set_toggles(
            Environment::Prod,
            ToggleChange {
                scheduling: None,
                execution: Some(false),
            },
        )
        .await?;
    let before = adapter
        .remembered()?
        .pool_slots_before
        .expect("slots remembered");
    assert!(before > 0);
    assert!(!adapter.toggles().await?[0].execution);

    // A new adapter (changeover restarted) resumes from the state file.
    drop(adapter);
    let adapter = AirflowAdapter::connect(config(spec, state_file)).await?;
    let on = adapter
        .set_toggles(
            Environment::Prod,
            ToggleChange {
                scheduling: Some(true),
                execution: Some(true),
            },
        )
        .await?;
    assert!(on.scheduling && on.execution, "{on:?}");
    let state = adapter.remembered()?;
    assert!(state.paused_by_us.is_none() && state.pool_slots_before.is_none());
    let after = paused(database).await?;
    let expect: Vec<(String, bool)> = vec![
        ("changeover_long".into(), false),
        ("changeover_operator_paused".into(), true),
        ("changeover_quick".into(), false),
    ];
    assert_eq!(
        after, expect,
        "only the DAGs changeover paused are unpaused"
    );

    // dev does not exist in Airflow.
    let err = adapter
        .set_toggles(Environment::Dev, ToggleChange::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("one environment"), "{err}");

    // Terminate: the run is marked failed; again it is already finished; unknown ids.
    let missing = "changeover_long/no_such_run".to_owned();
    let outcome = adapter
        .terminate(&[long.id.clone(), missing.clone()])
        .await?;
    assert_eq!(outcome.terminated, std::slice::from_ref(&long.id));
    assert_eq!(outcome.not_found, [missing]);
    let outcome = adapter.terminate(std::slice::from_ref(&long.id)).await?;
    assert_eq!(outcome.already_finished, std::slice::from_ref(&long.id));
    let err = adapter
        .terminate(&["no-slash".to_owned()])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("<dag_id>/<run_id>"), "{err}");

    // Re-run once per request id: the first call clears the failed run, the same request
    // again answers the same and clears nothing.
    let first = adapter
        .rerun("req-1", std::slice::from_ref(&long.id))
        .await?;
    assert_eq!(first.rerun.len(), 1, "{first:?}");
    assert_eq!(first.rerun[0].id, long.id);
    let second = adapter
        .rerun("req-1", std::slice::from_ref(&long.id))
        .await?;
    assert_eq!(first, second);
    // The cleared run is no longer failed (queued or running again).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = adapter.running_instances().await?;
        if list.iter().any(|i| i.id == long.id) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the re-run run never came back: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A run that is not failed is skipped with the reason, under a new request id.
    let skipped = adapter
        .rerun("req-2", std::slice::from_ref(&long.id))
        .await?;
    assert_eq!(skipped.skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped.skipped[0].reason.contains("not failed"),
        "{skipped:?}"
    );

    // Statistics for today count the runs by state and owner.
    let today = chrono::Utc::now().date_naive();
    let rows = adapter
        .statistics(&StatisticsQuery {
            from: today - chrono::Days::new(1),
            to: today,
            tenant: None,
            environment: None,
        })
        .await?;
    let total: u64 = rows.iter().map(|r| r.count).sum();
    assert!(total >= 1, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| ["finance", "marketing"].contains(&r.tenant.as_str())),
        "{rows:?}"
    );
    let finance = adapter
        .statistics(&StatisticsQuery {
            from: today - chrono::Days::new(1),
            to: today,
            tenant: Some("marketing".into()),
            environment: None,
        })
        .await?;
    assert!(finance.iter().all(|r| r.tenant == "marketing"));
    // Nothing failed yesterday-succeeded; the query runs on both versions.
    let failed = adapter.failed_today_succeeded_yesterday(today).await?;
    assert!(
        failed.iter().all(|f| f.instance_id.contains('/')),
        "{failed:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapter_drives_airflow_2_11() -> anyhow::Result<()> {
    adapter_drives_a_real_airflow("2.11.2").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapter_drives_airflow_3_3() -> anyhow::Result<()> {
    adapter_drives_a_real_airflow("3.3.2").await
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error_without_the_password() -> anyhow::Result<()> {
    // No server at all: the error names the address, not the password.
    let port = testkit::free_port().map_err(anyhow::Error::msg)?;
    let err = AirflowAdapter::connect(AirflowConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        username: "admin".into(),
        password: Password::new("s3cret-never-printed"),
        state_file: std::env::temp_dir().join("unused-airflow-state.json"),
    })
    .await
    .err()
    .expect("nothing listens there")
    .to_string();
    assert!(err.contains(&port.to_string()), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    let err = AirflowAdapter::connect(AirflowConfig {
        base_url: "ftp://example.com".into(),
        username: "admin".into(),
        password: Password::new("s3cret-never-printed"),
        state_file: std::env::temp_dir().join("unused-airflow-state.json"),
    })
    .await
    .err()
    .expect("not http")
    .to_string();
    assert!(err.contains("http://"), "{err}");
    assert_eq!(
        format!("{:?}", Password::new("s3cret-never-printed")),
        "Password(***)"
    );
    Ok(())
}
