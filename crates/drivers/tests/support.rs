//! A process driver over a temporary state dir, killed on drop, and spec builders.

use changeover_drivers::process::{AppSpec, HealthCheck, Probe, ProcessDriver};
use tempfile::TempDir;

/// A driver whose instances are all killed when the test ends, pass or fail.
pub struct Harness {
    pub dir: TempDir,
    pub driver: Option<ProcessDriver>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let driver = ProcessDriver::open(dir.path().join("state")).expect("open driver");
        Self {
            dir,
            driver: Some(driver),
        }
    }

    pub fn driver(&self) -> &ProcessDriver {
        self.driver.as_ref().expect("driver is open")
    }

    pub fn state_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("state")
    }

    /// Drops the driver object (as a crash of changeover would) and opens a new one on
    /// the same state dir.
    pub fn reopen(&mut self) {
        self.driver = None;
        self.driver = Some(ProcessDriver::open(self.state_dir()).expect("reopen driver"));
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(driver) = &self.driver {
            let _ = driver.kill_all();
        }
    }
}

/// A `sh -c script` application checked with `probe`, quick to give up.
pub fn shell_app(name: &str, version: &str, script: &str, probe: Probe) -> AppSpec {
    let mut spec = AppSpec::new(name, version, vec!["sh".into(), "-c".into(), script.into()]);
    spec.health = HealthCheck {
        probe,
        timeout_ms: 1_000,
        retries: 50,
        interval_ms: 100,
    };
    spec.stop_grace_ms = 3_000;
    spec
}

/// Whether a pid no longer runs (gone, or a zombie nobody reaped yet).
pub fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            matches!(state, Some('Z' | 'X'))
        }
    }
}
