//! A real rolling upgrade of the sample platform's data service by the process driver,
//! behind the gateway, under a steady request loop: no request fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use changeover_drivers::process::{AppSpec, HealthCheck, Probe, ProcessDriver, Strategy};
use changeover_store::Engine;
use changeover_store::test_utils::TestLocation;

use crate::fixtures::gateway;

/// `sample-dataservice`, built once per test run with the workspace's cargo.
fn dataservice_bin() -> PathBuf {
    crate::sample::bin_dir()
        .expect("the sample platform's binaries")
        .join("sample-dataservice")
}

fn spec(dir: &Path, version: &str) -> AppSpec {
    let db = format!("sqlite://{}", dir.join("meta.db").display());
    let mut spec = AppSpec::new(
        "dataservice",
        version,
        vec![
            dataservice_bin().to_string_lossy().into_owned(),
            "--platform-version".into(),
            version.into(),
            "--port".into(),
            "{port}".into(),
            "--db".into(),
            db,
        ],
    );
    spec.env.insert("RUST_LOG".into(), "warn".into());
    spec.health = HealthCheck {
        probe: Probe::Http {
            path: "/health".into(),
        },
        timeout_ms: 1_000,
        retries: 150,
        interval_ms: 100,
    };
    spec.strategy = Strategy::Rolling;
    spec.drain_ms = 500;
    spec.stop_grace_ms = 5_000;
    spec
}

/// Kills the driver's instances when the test ends, pass or fail.
struct Killer(ProcessDriver);
impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill_all();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_upgrade_behind_the_gateway_loses_no_request() -> anyhow::Result<()> {
    let location = TestLocation::new(Engine::Sqlite).await;
    let store = location.open().await;
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("state");
    let driver = Killer(ProcessDriver::open(&state)?);
    driver.0.start(&spec(dir.path(), "1.0.0")).await?;
    let yaml = format!(
        "state_dir: {}\nroutes:\n  - {{prefix: /, kind: dataservice, app: dataservice}}\n",
        state.display()
    );
    let (addr, task) = gateway(&yaml, store).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let stop = stop.clone();
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client");
            let (mut ok, mut failures) = (0u64, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                match http.get(format!("http://{addr}/health")).send().await {
                    Ok(r) if r.status().is_success() => ok += 1,
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (ok, failures)
        }));
    }
    let report = driver.0.upgrade(&spec(dir.path(), "1.0.1")).await?;
    settle_on_new_instance().await;
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut failures) = (0, Vec::new());
    for c in clients {
        let (n, f) = c.await?;
        ok += n;
        failures.extend(f);
    }
    assert!(ok > 0, "no request went through");
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {:?}; rollout {report:?}",
        failures.len(),
        ok + failures.len() as u64,
        &failures[..failures.len().min(5)]
    );
    let health: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(format!("http://{addr}/health"))
        .send()
        .await?
        .json()
        .await?;
    assert!(
        health.to_string().contains("1.0.1"),
        "the gateway does not reach the new version: {health}"
    );
    task.abort();
    Ok(())
}

/// Lets the loop run on the new instance for a moment after the rollout finished.
async fn settle_on_new_instance() {
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
}
