//! Zero downtime through the engine with real processes: the data service (a python http
//! server at two versions) answers every request of a steady loop during the rolling
//! upgrade.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use changeover_drivers::process::{AppSpec, ProcessDriver};
use changeover_engine::adapter::drivers::Processes;
use changeover_engine::upgrade::plan::PlanShape;
use changeover_engine::upgrade::*;
use changeover_engine::{AppSpec as App, Engine, Platform, Stop, Target, now};

use crate::flow::memory::Memory;

/// The always-on data service at `version`, drained for 500 ms on the way out.
fn web(dir: &std::path::Path, version: &str) -> AppSpec {
    let mut spec = super::processes::web_app(dir, "dataservice", version);
    spec.always_on = true;
    spec.drain_ms = 500;
    spec
}

#[tokio::test]
async fn zero_downtime_serves_every_request_of_a_steady_loop() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let driver = Arc::new(ProcessDriver::open(&state).unwrap());
    driver.start(&web(dir.path(), "1.0.0")).await.unwrap();
    let apps = Processes {
        driver: driver.clone(),
        from: vec![web(dir.path(), "1.0.0")],
        to: vec![web(dir.path(), "1.0.1")],
    };
    let mem = Memory::new(&["i1"]);
    let port = Arc::new(mem.clone());
    let engine = Engine {
        platform: Platform {
            scheduler: port.clone(),
            applications: Arc::new(apps),
            databases: port.clone(),
            hooks: port.clone(),
        },
        target: Target {
            applications: vec![App {
                name: "dataservice".into(),
                always_on: true,
                rolling: true,
            }],
            ..Target::default()
        },
        records: port,
        requests: std::sync::Arc::new(changeover_engine::port::NoRequests),
        max_wait: std::time::Duration::from_millis(50),
        background: Default::default(),
    };

    let (ok, failed, stop) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let requests = {
        let (ok, failed, stop, state) = (ok.clone(), failed.clone(), stop.clone(), state.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut versions = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let upstream = changeover_drivers::RoutingTable::read(&state)
                    .ok()
                    .and_then(|t| t.upstream("dataservice").map(str::to_owned));
                let answer = match upstream {
                    Some(u) => client.get(format!("http://{u}/")).send().await.ok(),
                    None => None,
                };
                match answer {
                    Some(a) if a.status().is_success() => {
                        ok.fetch_add(1, Ordering::SeqCst);
                        let body = a.text().await.unwrap_or_default();
                        if versions.last() != Some(&body) {
                            versions.push(body);
                        }
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            versions
        })
    };

    let mut r = UpgradeRecord::configure(
        NewUpgrade {
            id: "z1".into(),
            platform: "sample".into(),
            from_version: "1.0.0".into(),
            to_version: "1.0.1".into(),
            mode: Mode::Zero,
            shape: PlanShape::default(),
            announcement: Announcement::new(None, None, None).unwrap(),
            risk_accepted: true,
            auto_advance: true,
            configuration: Default::default(),
        },
        now(),
    );
    r.apply(Action::Start, now()).unwrap();
    let end = engine.drive(&mut r).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let versions = requests.await.unwrap();
    let _ = driver.kill_all();
    assert_eq!(
        end,
        Stop::Ended(Status::Succeeded),
        "{}",
        changeover_engine::view::status(&r)
    );
    assert_eq!(failed.load(Ordering::SeqCst), 0, "no request failed");
    assert!(ok.load(Ordering::SeqCst) > 10);
    assert_eq!(
        versions,
        ["1.0.0", "1.0.1"],
        "served by the old, then the new version"
    );
    assert!(
        r.milestones.entered_maintenance_at.is_none() && r.milestones.dispatch_paused_at.is_none()
    );
}
