//! The applications adapter over the real process driver: python http servers as the
//! application at two versions.

use std::sync::Arc;

use changeover_drivers::process::{AppSpec, HealthCheck, Probe, ProcessDriver};
use changeover_engine::adapter::drivers::Processes;
use changeover_engine::port::Applications;

/// Application `name` at `version`: a python http server serving the version as its page
/// from `dir/version`, healthy when it answers `/`.
pub fn web_app(dir: &std::path::Path, name: &str, version: &str) -> AppSpec {
    let www = dir.join(version);
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), version).unwrap();
    let mut spec = AppSpec::new(
        name,
        version,
        [
            "python3",
            "-m",
            "http.server",
            "{port}",
            "--bind",
            "127.0.0.1",
            "--directory",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain([www.display().to_string()])
        .collect(),
    );
    spec.health = HealthCheck {
        probe: Probe::Http { path: "/".into() },
        timeout_ms: 1_000,
        retries: 100,
        interval_ms: 100,
    };
    spec.drain_ms = 200;
    spec
}

fn web(dir: &std::path::Path, version: &str) -> AppSpec {
    web_app(dir, "web", version)
}

struct Killed(Arc<ProcessDriver>);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill_all();
    }
}

#[tokio::test]
async fn applications_start_upgrade_and_report_their_version() {
    let dir = tempfile::tempdir().unwrap();
    let driver = Arc::new(ProcessDriver::open(dir.path().join("state")).unwrap());
    let _cleanup = Killed(driver.clone());
    let mut broken = web(dir.path(), "9.9.9");
    broken.command[0] = "/nonexistent/bin/web".into();
    let apps = Processes {
        driver: driver.clone(),
        from: vec![web(dir.path(), "1.0.0")],
        to: vec![web(dir.path(), "1.0.1"), broken],
    };
    assert_eq!(apps.running_version("web").await.unwrap(), None);
    apps.start("web", "1.0.0", false).await.unwrap();
    assert_eq!(
        apps.running_version("web").await.unwrap().as_deref(),
        Some("1.0.0")
    );
    apps.prepare("web", "1.0.1").await.unwrap();
    let err = apps.prepare("web", "9.9.9").await.unwrap_err().to_string();
    assert_eq!(
        err,
        "the program of `web` 9.9.9 is missing: /nonexistent/bin/web"
    );
    let err = apps.prepare("web", "2.0.0").await.unwrap_err().to_string();
    assert_eq!(err, "no application `web` at version 2.0.0 in the bundles");

    apps.start("web", "1.0.1", true).await.unwrap();
    assert_eq!(
        apps.running_version("web").await.unwrap().as_deref(),
        Some("1.0.1")
    );
    let address = driver.routes().unwrap().upstream("web").unwrap().to_owned();
    let body = reqwest::get(format!("http://{address}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "1.0.1");
    // starting the running version again starts nothing
    apps.start("web", "1.0.1", true).await.unwrap();
    apps.stop("web").await.unwrap();
    apps.stop("web").await.unwrap();
    assert_eq!(apps.running_version("web").await.unwrap(), None);
    apps.start("web", "1.0.0", false).await.unwrap();
    assert_eq!(
        apps.running_version("web").await.unwrap().as_deref(),
        Some("1.0.0")
    );
}
