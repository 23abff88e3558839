//! The Airflow upgrade benchmark: both issue upgrades through changeover, next to the same
//! steps run by hand with the Airflow CLI, in the same run, each on a fresh deployment
//! (local PostgreSQL, virtualenvs from `scripts/setup.d/50-airflow`):
//!
//! ```sh
//! cargo run --release -p changeover-engine --example airflow_bench [partial|full|all]
//! ```
//!
//! - partial downtime 2.10.2 → 2.11.2 (a task in flight, drained by the old scheduler);
//! - full downtime 2.11.2 → 3.3.2 (runs in flight force-stopped, re-run once after).
//!
//! By hand means what the runbooks do: `airflow dags pause` each unpaused DAG, `pg_dump`,
//! stop the processes (SIGTERM), `airflow db migrate` with the new version, start the new
//! processes, wait for health, `airflow dags unpause` the same DAGs (and for full downtime
//! `airflow tasks clear` the stopped runs). Prints one table row per upgrade and method.

#[path = "../tests/airflow/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::{Duration, Instant};

use changeover_airflow::testkit::{self, Spec};
use changeover_engine::console::ModeArg;
use changeover_engine::upgrade::metrics::Durations;
use changeover_engine::upgrade::{StepKind, UpgradeRecord};

use harness::Deployment;

fn secs(ms: Option<i64>) -> String {
    ms.map_or("-".to_owned(), |ms| format!("{:.1}", ms as f64 / 1000.0))
}

/// Wall time of the `migrate:<db>` item (the schema command and its check).
fn migration_ms(record: &UpgradeRecord) -> Option<i64> {
    record
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::UpgradeApplications)
        .flat_map(|s| &s.items)
        .find(|i| i.name.starts_with("migrate:"))
        .and_then(|i| Some(i.finished_at?.millis_since(i.started_at?)))
}

async fn through_changeover(
    from: &str,
    to: &str,
    mode: ModeArg,
    sleep: u32,
) -> anyhow::Result<String> {
    let d = Deployment::install("bench", from, sleep).await?;
    d.running_long_run(Duration::from_secs(180)).await?;
    let record = d.upgrade(to, mode).await?;
    anyhow::ensure!(
        record.status == changeover_engine::upgrade::Status::Succeeded,
        "{}",
        changeover_engine::view::status(&record)
    );
    let du = Durations::of(&record);
    Ok(format!(
        "| {from} → {to} | changeover ({}) | {} | {} | {} | {} |",
        record.mode.words(),
        secs(du.total_ms),
        secs(du.dispatch_paused_ms),
        secs(du.maintenance_ms),
        secs(migration_ms(&record)),
    ))
}

fn cli(spec: &Spec, args: &[&str]) -> anyhow::Result<String> {
    spec.cli(args).map_err(anyhow::Error::msg)
}

async fn by_hand(from: &str, to: &str, full: bool, sleep: u32) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let database = format!("airflow_bench_hand_{}", std::process::id());
    testkit::create_database(&database)
        .await
        .map_err(anyhow::Error::msg)?;
    let port = harness::API_PORT;
    let mut old = Spec::new(from, dir.path(), &database, port);
    old.task_sleep_secs = sleep;
    testkit::init(&old).map_err(anyhow::Error::msg)?;
    std::fs::write(
        dir.path().join("home/passwords.json"),
        serde_json::json!({ &old.username: &old.password }).to_string(),
    )?;
    let mut running = testkit::start(&old, Duration::from_secs(240))
        .await
        .map_err(anyhow::Error::msg)?;
    // Wait for a run in flight, as in the changeover run.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let ti = testkit::dag_runs(&database, "changeover_long")
            .await
            .map_err(anyhow::Error::msg)?;
        if ti.iter().any(|(_, s)| s == "running") {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "no run in flight");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let start = Instant::now();
    let unpaused: Vec<String> = testkit::paused_dags(&database)
        .await
        .map_err(anyhow::Error::msg)?
        .into_iter()
        .filter(|(_, p)| !p)
        .map(|(d, _)| d)
        .collect();
    for dag in &unpaused {
        cli(&old, &["dags", "pause", dag])?;
    }
    let dump = dir.path().join("pre.dump");
    let status = std::process::Command::new("pg_dump")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-Fc", "-f"])
        .arg(&dump)
        .arg(&database)
        .status()?;
    anyhow::ensure!(status.success(), "pg_dump failed");
    let stopped_runs: Vec<String> = if full {
        testkit::dag_runs(&database, "changeover_long")
            .await
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .filter(|(_, s)| s == "running")
            .map(|(r, _)| r)
            .collect()
    } else {
        Vec::new()
    };
    // Stop everything (by hand: SIGTERM to the process groups).
    let down_at = Instant::now();
    running.stop(Duration::from_secs(180));
    let mut new = Spec::new(to, dir.path(), &database, port);
    new.task_sleep_secs = sleep;
    let migrate_at = Instant::now();
    cli(&new, &["db", "migrate"])?;
    let migration = migrate_at.elapsed();
    let _running = testkit::start(&new, Duration::from_secs(240))
        .await
        .map_err(anyhow::Error::msg)?;
    let up_at = Instant::now();
    for dag in &unpaused {
        cli(&new, &["dags", "unpause", dag])?;
    }
    let resumed_at = Instant::now();
    for run in &stopped_runs {
        // Clear the interrupted run's tasks so they run again.
        let _ = cli(
            &new,
            &[
                "tasks",
                "clear",
                "changeover_long",
                "--yes",
                "--only-failed",
                "--start-date",
                run.trim_start_matches("scheduled__"),
                "--end-date",
                run.trim_start_matches("scheduled__"),
            ],
        );
    }
    let total = start.elapsed();
    drop(_running);
    testkit::drop_database(&database).await;
    Ok(format!(
        "| {from} → {to} | by hand with the Airflow CLI | {:.1} | {:.1} | {:.1} | {:.1} |",
        total.as_secs_f64(),
        resumed_at.duration_since(start).as_secs_f64(),
        up_at.duration_since(down_at).as_secs_f64(),
        migration.as_secs_f64()
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Err(e) = testkit::venv("3.3.2") {
        anyhow::bail!("{e}");
    }
    println!(
        "| upgrade | method | total s | dispatch paused s | maintenance mode (changeover) / platform down (by hand) s | schema migration s |"
    );
    println!("|---|---|---|---|---|---|");
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    anyhow::ensure!(
        ["partial", "full", "all"].contains(&which.as_str()),
        "expected partial, full or all, got {which:?}"
    );
    if which != "full" {
        println!(
            "{}",
            through_changeover("2.10.2", "2.11.2", ModeArg::Partial, 20).await?
        );
        println!("{}", by_hand("2.10.2", "2.11.2", false, 20).await?);
    }
    if which != "partial" {
        println!(
            "{}",
            through_changeover("2.11.2", "3.3.2", ModeArg::Full, 600).await?
        );
        println!("{}", by_hand("2.11.2", "3.3.2", true, 600).await?);
    }
    Ok(())
}
