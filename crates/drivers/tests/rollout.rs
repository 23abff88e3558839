//! Recreate and rolling upgrades of a real HTTP service under a steady request loop that
//! follows `routes.json` like the gateway will.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use changeover_drivers::process::{
    AppSpec, HealthCheck, Probe, ProcessError, ProcessState, RolloutPhase, RoutingTable,
    StopOutcome, Strategy,
};

use crate::support::{Harness, process_gone, shell_app};

const APP: &str = "dataservice";

/// The sample platform's data service at `version` (1.0.0, 1.0.1 or 1.1.0) over a SQLite
/// metadata database in the harness dir, on the port the driver picks.
fn dataservice(harness: &Harness, version: &str, strategy: Strategy) -> AppSpec {
    let db = format!("sqlite://{}", harness.dir.path().join("meta.db").display());
    let mut spec = AppSpec::new(
        APP,
        version,
        vec![
            crate::platform::dataservice_bin(),
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
    spec.strategy = strategy;
    spec.drain_ms = 500;
    spec.stop_grace_ms = 5_000;
    spec
}

/// Requests through the routing table until stopped; counts answers.
struct RequestLoop {
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<String>>,
}

impl RequestLoop {
    fn start(state_dir: PathBuf) -> Self {
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (ok2, failed2, stop2) = (ok.clone(), failed.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client");
            let mut failures = Vec::new();
            while !stop2.load(Ordering::SeqCst) {
                match one_request(&client, &state_dir).await {
                    Ok(()) => ok2.fetch_add(1, Ordering::SeqCst),
                    Err(why) => {
                        failures.push(why);
                        failed2.fetch_add(1, Ordering::SeqCst)
                    }
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            failures
        });
        Self {
            ok,
            failed,
            stop,
            task,
        }
    }

    async fn wait_for_successes(&self, more: u64) {
        let target = self.ok.load(Ordering::SeqCst) + more;
        while self.ok.load(Ordering::SeqCst) < target {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn finish(self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let failures = self.task.await.expect("request loop");
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
            failures,
        )
    }
}

async fn one_request(client: &reqwest::Client, state_dir: &Path) -> Result<(), String> {
    let table = RoutingTable::read(state_dir).map_err(|e| e.to_string())?;
    let upstream = table.upstream(APP).ok_or("no upstream")?;
    let response = client
        .get(format!("http://{upstream}/api/summary"))
        .send()
        .await
        .map_err(|e| format!("{upstream}: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{upstream}: {}", response.status()))
    }
}

#[tokio::test]
async fn rolling_upgrade_loses_no_request() {
    let harness = Harness::new();
    let driver = harness.driver();
    let v1 = driver
        .start(&dataservice(&harness, "1.0.0", Strategy::Rolling))
        .await
        .unwrap();
    let load = RequestLoop::start(harness.state_dir());
    load.wait_for_successes(20).await;

    let report = driver
        .upgrade(&dataservice(&harness, "1.0.1", Strategy::Rolling))
        .await
        .unwrap();
    load.wait_for_successes(20).await;
    let (ok, failed, failures) = load.finish().await;

    assert!(report.completed);
    assert!(!report.service_interrupted);
    assert_eq!(report.from_version.as_deref(), Some("1.0.0"));
    assert_eq!(report.old_stop, Some(StopOutcome::Graceful));
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed: {failures:?}",
        ok + failed
    );
    let new = report.new_instance.unwrap();
    assert_ne!(new.port, v1.port, "rolling starts beside the old instance");
    let health: serde_json::Value = reqwest::get(format!("http://{}/health", new.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["version"], "1.0.1");
    let routes = driver.routes().unwrap();
    assert_eq!(routes.upstream(APP), Some(new.address.as_str()));
    assert!(routes.apps[APP].draining.is_empty());
    assert!(process_gone(v1.pid), "old instance retired");
    let status = driver.status(APP).await.unwrap();
    assert_eq!(status.state, ProcessState::Healthy);
    assert_eq!(status.instance.unwrap().version, "1.0.1");
    assert!(status.rollout.is_none());
}

#[tokio::test]
async fn recreate_upgrade_reports_the_interruption_it_causes() {
    let harness = Harness::new();
    let driver = harness.driver();
    let v1 = driver
        .start(&dataservice(&harness, "1.0.0", Strategy::Recreate))
        .await
        .unwrap();
    let load = RequestLoop::start(harness.state_dir());
    load.wait_for_successes(20).await;

    let report = driver
        .upgrade(&dataservice(&harness, "1.0.1", Strategy::Recreate))
        .await
        .unwrap();
    load.wait_for_successes(20).await;
    let (ok, failed, _) = load.finish().await;

    assert!(report.completed);
    assert!(
        report.service_interrupted,
        "recreate must report the gap ({failed} of {} requests failed)",
        ok + failed
    );
    let new = report.new_instance.unwrap();
    assert_eq!(new.port, v1.port, "recreate keeps the port");
    assert_eq!(new.version, "1.0.1");
    assert!(process_gone(v1.pid));
    assert_eq!(
        driver.routes().unwrap().upstream(APP),
        Some(new.address.as_str())
    );
}

#[tokio::test]
async fn an_interrupted_rolling_upgrade_resumes_without_starting_twice() {
    let mut harness = Harness::new();
    let v1 = harness
        .driver()
        .start(&dataservice(&harness, "1.0.0", Strategy::Rolling))
        .await
        .unwrap();
    let v2 = dataservice(&harness, "1.0.1", Strategy::Rolling);
    let paused = harness
        .driver()
        .upgrade_until(&v2, Some(RolloutPhase::NewHealthy))
        .await
        .unwrap();
    assert!(!paused.completed);
    assert_eq!(paused.phase, RolloutPhase::NewHealthy);
    let candidate = paused.new_instance.unwrap();
    assert_eq!(
        harness.driver().routes().unwrap().upstream(APP),
        Some(v1.address.as_str()),
        "not switched before the pause"
    );

    // changeover "crashes" and comes back.
    harness.reopen();
    let status = harness.driver().status(APP).await.unwrap();
    assert_eq!(
        status.rollout.as_ref().unwrap().phase,
        RolloutPhase::NewHealthy
    );
    let resumed = harness.driver().upgrade(&v2).await.unwrap();
    assert!(resumed.completed);
    assert_eq!(resumed.resumed_from, Some(RolloutPhase::NewHealthy));
    let new = resumed.new_instance.unwrap();
    assert_eq!(
        new.pid, candidate.pid,
        "the healthy new instance was reused"
    );
    assert_eq!(
        harness.driver().routes().unwrap().upstream(APP),
        Some(new.address.as_str())
    );
    assert!(process_gone(v1.pid));

    // Upgrading to the version that serves is a no-op.
    let again = harness.driver().upgrade(&v2).await.unwrap();
    assert!(again.completed && again.old_stop.is_none());
    assert_eq!(again.new_instance.unwrap().pid, new.pid);
}

#[tokio::test]
async fn a_rolling_upgrade_whose_new_version_fails_keeps_the_old_one_serving() {
    let harness = Harness::new();
    let v1 = harness
        .driver()
        .start(&dataservice(&harness, "1.0.0", Strategy::Rolling))
        .await
        .unwrap();
    let mut broken = shell_app(APP, "1.0.1", "echo cannot-bind; sleep 30", Probe::Tcp);
    broken.strategy = Strategy::Rolling;
    broken.health.retries = 3;
    let err = harness.driver().upgrade(&broken).await.unwrap_err();
    assert!(matches!(err, ProcessError::NeverHealthy { .. }), "{err}");
    assert!(err.to_string().contains("cannot-bind"), "{err}");
    assert_eq!(
        harness.driver().routes().unwrap().upstream(APP),
        Some(v1.address.as_str())
    );
    let status = harness.driver().status(APP).await.unwrap();
    assert_eq!(status.state, ProcessState::Healthy);
    assert_eq!(
        status.rollout.as_ref().unwrap().phase,
        RolloutPhase::NewStarted
    );
    // Another version cannot start while this rollout is pending.
    let other = dataservice(&harness, "1.0.2", Strategy::Rolling);
    let err = harness.driver().upgrade(&other).await.unwrap_err();
    assert!(
        matches!(err, ProcessError::RolloutInProgress { .. }),
        "{err}"
    );

    let aborted = harness.driver().abort_rollout(APP).await.unwrap();
    assert!(aborted.old_serving);
    let status = harness.driver().status(APP).await.unwrap();
    assert!(status.rollout.is_none());
    assert_eq!(status.instance.unwrap().pid, v1.pid);
}

#[tokio::test]
async fn an_interrupted_recreate_resumes_on_the_old_port() {
    let mut harness = Harness::new();
    let v1 = harness
        .driver()
        .start(&dataservice(&harness, "1.0.0", Strategy::Recreate))
        .await
        .unwrap();
    let v2 = dataservice(&harness, "1.0.1", Strategy::Recreate);
    let paused = harness
        .driver()
        .upgrade_until(&v2, Some(RolloutPhase::OldStopped))
        .await
        .unwrap();
    assert_eq!(paused.phase, RolloutPhase::OldStopped);
    assert_eq!(paused.old_stop, Some(StopOutcome::Graceful));
    assert!(paused.new_instance.is_none());
    assert!(process_gone(v1.pid));
    let status = harness.driver().status(APP).await.unwrap();
    assert_eq!(
        status.state,
        ProcessState::Stopped,
        "old instance stopped on purpose"
    );
    assert_eq!(status.rollout.unwrap().phase, RolloutPhase::OldStopped);

    harness.reopen();
    let resumed = harness.driver().upgrade(&v2).await.unwrap();
    assert!(resumed.completed && resumed.service_interrupted);
    assert_eq!(resumed.resumed_from, Some(RolloutPhase::OldStopped));
    assert_eq!(
        resumed.old_stop, None,
        "the old instance was not stopped twice"
    );
    let new = resumed.new_instance.unwrap();
    assert_eq!(new.port, v1.port);
    let status = harness.driver().status(APP).await.unwrap();
    assert_eq!(status.state, ProcessState::Healthy);
    assert_eq!(status.instance.unwrap().version, "1.0.1");
}

/// Crash after each recorded phase, for both strategies: the resumed rollout completes
/// with exactly one new instance started.
#[tokio::test]
async fn every_phase_of_both_strategies_resumes_after_a_crash() {
    let phases = [
        (Strategy::Recreate, RolloutPhase::OldStopped),
        (Strategy::Recreate, RolloutPhase::NewStarted),
        (Strategy::Recreate, RolloutPhase::Switched),
        (Strategy::Rolling, RolloutPhase::NewStarted),
        (Strategy::Rolling, RolloutPhase::Switched),
        (Strategy::Rolling, RolloutPhase::Drained),
    ];
    for (strategy, phase) in phases {
        let mut harness = Harness::new();
        let v1 = harness
            .driver()
            .start(&dataservice(&harness, "1.0.0", strategy))
            .await
            .unwrap();
        let v2 = dataservice(&harness, "1.0.1", strategy);
        let paused = harness
            .driver()
            .upgrade_until(&v2, Some(phase))
            .await
            .unwrap();
        assert_eq!(paused.phase, phase, "{strategy:?}");
        harness.reopen();
        let resumed = harness.driver().upgrade(&v2).await.unwrap();
        assert!(resumed.completed, "{strategy:?} after {phase:?}");
        assert_eq!(resumed.resumed_from, Some(phase));
        let new = resumed.new_instance.unwrap();
        if let Some(candidate) = paused.new_instance {
            assert_eq!(
                candidate.pid, new.pid,
                "{strategy:?} after {phase:?} started twice"
            );
        }
        let logs = std::fs::read_dir(harness.state_dir().join("logs"))
            .unwrap()
            .count();
        assert_eq!(
            logs, 2,
            "{strategy:?} after {phase:?}: one old and one new instance"
        );
        let routes = harness.driver().routes().unwrap();
        assert_eq!(routes.upstream(APP), Some(new.address.as_str()));
        assert!(routes.apps[APP].draining.is_empty());
        assert!(
            process_gone(v1.pid),
            "{strategy:?} after {phase:?}: old survived"
        );
        let status = harness.driver().status(APP).await.unwrap();
        assert_eq!(status.state, ProcessState::Healthy);
        assert_eq!(status.instance.unwrap().version, "1.0.1");
    }
}

/// Two applications rolled at once share `routes.json` without losing each other's entry.
#[tokio::test]
async fn parallel_rollouts_of_two_apps_keep_both_routes() {
    let harness = Harness::new();
    let spec = |name: &str, version: &str| {
        let mut spec = shell_app(name, version, "exec sleep 60", Probe::Alive);
        spec.strategy = Strategy::Rolling;
        spec.drain_ms = 200;
        spec
    };
    let (mgmt1, oltp1) = (spec("mgmt", "1.0.0"), spec("oltp", "1.0.0"));
    let (a1, b1) = tokio::join!(
        harness.driver().start(&mgmt1),
        harness.driver().start(&oltp1)
    );
    let (a1, b1) = (a1.unwrap(), b1.unwrap());
    let (mgmt2, oltp2) = (spec("mgmt", "1.0.1"), spec("oltp", "1.0.1"));
    let (a2, b2) = tokio::join!(
        harness.driver().upgrade(&mgmt2),
        harness.driver().upgrade(&oltp2)
    );
    let (a2, b2) = (a2.unwrap(), b2.unwrap());
    let routes = harness.driver().routes().unwrap();
    assert_eq!(
        routes.upstream("mgmt"),
        Some(a2.new_instance.unwrap().address.as_str())
    );
    assert_eq!(
        routes.upstream("oltp"),
        Some(b2.new_instance.unwrap().address.as_str())
    );
    assert!(process_gone(a1.pid) && process_gone(b1.pid));
    let statuses = harness.driver().statuses().await.unwrap();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|s| s.state == ProcessState::Healthy));
}
