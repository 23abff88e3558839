//! The process driver: runs application instances as local processes.
//!
//! # Guarantees
//! - Instances run in their own process group with output appended to a log file per
//!   application, version and instance; they survive changeover's own exit or crash.
//! - Every start, stop and rollout step is recorded in the state dir (JSON, written
//!   atomically) before the call returns, so a new [`ProcessDriver`] opened on the same
//!   dir **re-adopts** running instances instead of starting them twice, and resumes a
//!   rollout at the step after the last recorded one.
//! - `routes.json` always names, per application, the upstream that should receive new
//!   requests; a rolling upgrade switches it only once the new instance is healthy, and
//!   stops the old one only after its drain period.
//!
//! # Assumptions
//! - One driver object per state dir at a time (calls for one application are serialised
//!   inside a driver, not across processes).
//! - Applications listen on `127.0.0.1:{port}`.
//!
//! # Caveats
//! - A crash between spawning a process and recording it leaves that process unrecorded;
//!   the resumed step starts another one (on a fresh port for `rolling`).
//! - The exit code of a re-adopted instance that ends is unknown (reported as such).

mod error;
mod health;
mod inspect;
mod instance;
mod log_tail;
mod rollout;
mod routes;
mod spec;
mod state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use error::ProcessError;
pub use inspect::{AppStatus, ProcessState};
pub use instance::{ExitStatus, StopOutcome};
pub use rollout::{AppStatusAfterAbort, RolloutPhase, RolloutReport, RolloutStatus};
pub use routes::{ROUTES_FILE, Route, RoutingTable};
pub use spec::{AppSpec, HealthCheck, Probe, Strategy};

use instance::{Children, Liveness, liveness};
use state::{AppState, InstanceRecord};

/// One running (or last run) instance, as callers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    pub app: String,
    pub version: String,
    pub instance_id: String,
    pub pid: i32,
    pub port: u16,
    /// `127.0.0.1:port`
    pub address: String,
    pub log_path: PathBuf,
    pub started_at: DateTime<Utc>,
}

impl InstanceInfo {
    fn of(app: &str, record: &InstanceRecord) -> Self {
        Self {
            app: app.to_owned(),
            version: record.version.clone(),
            instance_id: record.instance_id.clone(),
            pid: record.pid,
            port: record.port,
            address: record.address(),
            log_path: record.log_path.clone(),
            started_at: record.started_at,
        }
    }
}

/// What a stop did to each instance of the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopReport {
    pub app: String,
    pub instances: Vec<(String, StopOutcome)>,
}

/// The local process supervisor over one state dir.
pub struct ProcessDriver {
    state_dir: PathBuf,
    children: Children,
    app_locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    routes_lock: std::sync::Mutex<()>,
    http: reqwest::Client,
}

impl ProcessDriver {
    /// Opens (creating if needed) a state dir; running instances recorded there are
    /// re-adopted.
    pub fn open(state_dir: impl Into<PathBuf>) -> Result<Self, ProcessError> {
        let state_dir = state_dir.into();
        for sub in ["apps", "logs"] {
            let dir = state_dir.join(sub);
            std::fs::create_dir_all(&dir).map_err(|e| ProcessError::io("create", &dir, e))?;
        }
        let http = reqwest::Client::builder().no_proxy().build().map_err(|e| {
            ProcessError::InvalidSpec {
                app: String::new(),
                problem: format!("cannot build the health-check HTTP client: {e}"),
            }
        })?;
        let driver = Self {
            state_dir,
            children: Children::default(),
            app_locks: std::sync::Mutex::new(HashMap::new()),
            routes_lock: std::sync::Mutex::new(()),
            http,
        };
        for app in state::known_apps(&driver.state_dir)? {
            let Some(mut app_state) = state::load_app(&driver.state_dir, &app)? else {
                continue;
            };
            if let Some(current) = app_state.current.as_mut()
                && !current.stopped
            {
                match liveness(&driver.children, current) {
                    Liveness::Alive => {
                        tracing::info!(app = %app, instance = %current.instance_id, pid = current.pid, "re-adopted running instance");
                    }
                    Liveness::Ended(exit) => {
                        tracing::warn!(app = %app, instance = %current.instance_id, %exit, "instance ended while changeover was away");
                        state::save_app(&driver.state_dir, &app_state)?;
                    }
                }
            }
        }
        Ok(driver)
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The routing table as last written.
    pub fn routes(&self) -> Result<RoutingTable, ProcessError> {
        RoutingTable::read(&self.state_dir)
    }

    /// Names of every application this state dir knows.
    pub fn apps(&self) -> Result<Vec<String>, ProcessError> {
        state::known_apps(&self.state_dir)
    }

    /// Starts `spec` and waits until it is healthy.
    ///
    /// Idempotent: if the same version already runs (started by this driver or re-adopted),
    /// nothing new is started and its health is awaited again. A different running version
    /// is an error (use [`ProcessDriver::upgrade`]). An instance that fails its health
    /// checks is left running, for a stack dump and its log.
    pub async fn start(&self, spec: &AppSpec) -> Result<InstanceInfo, ProcessError> {
        spec.validate()?;
        let _guard = self.lock_app(&spec.name).await;
        let mut app = self.load_or_new(&spec.name)?;
        if let Some(rollout) = &app.rollout {
            return Err(ProcessError::RolloutInProgress {
                app: spec.name.clone(),
                target: rollout.target_version.clone(),
            });
        }
        let current_alive = app
            .current
            .as_mut()
            .is_some_and(|c| !c.stopped && matches!(liveness(&self.children, c), Liveness::Alive));
        let mut record = match (app.current.take(), current_alive) {
            (Some(current), true) => {
                if current.version != spec.version {
                    let running = current.version.clone();
                    app.current = Some(current);
                    return Err(ProcessError::AlreadyRunning {
                        app: spec.name.clone(),
                        running,
                        requested: spec.version.clone(),
                    });
                }
                tracing::info!(app = %spec.name, instance = %current.instance_id, "already running; not starting again");
                current
            }
            (previous, _) => {
                let preferred = spec.port.or_else(|| previous.as_ref().map(|p| p.port));
                let port = match spec.port {
                    Some(port) => port,
                    None => port_if_free(preferred)?,
                };
                let record = self.spawn(spec, &mut app.next_instance, port)?;
                app.current = Some(record.clone());
                self.save(&app)?;
                record
            }
        };
        let outcome = health::wait_healthy(
            &spec.name,
            &self.http,
            &self.children,
            &spec.health,
            &mut record,
        )
        .await;
        app.current = Some(record.clone());
        self.save(&app)?;
        outcome?;
        self.update_route(&spec.name, |route| {
            route.current = Some(record.address());
            route.draining.clear();
        })?;
        Ok(InstanceInfo::of(&spec.name, &record))
    }

    /// Stops every instance of `app` (SIGTERM, then SIGKILL after its grace period) and
    /// removes it from the routing table. Stopping a stopped (or never started)
    /// application does nothing.
    pub async fn stop(&self, app: &str) -> Result<StopReport, ProcessError> {
        let _guard = self.lock_app(app).await;
        let Some(mut state) = state::load_app(&self.state_dir, app)? else {
            return Ok(StopReport {
                app: app.to_owned(),
                instances: Vec::new(),
            });
        };
        let mut instances = Vec::new();
        if let Some(mut rollout) = state.rollout.take() {
            for record in [rollout.new.as_mut(), rollout.old.as_mut()]
                .into_iter()
                .flatten()
            {
                let outcome = instance::stop(app, &self.children, record).await;
                instances.push((record.instance_id.clone(), outcome));
            }
            if state.current.is_none() {
                state.current = rollout.new.or(rollout.old);
            }
        }
        if let Some(current) = state.current.as_mut()
            && !instances.iter().any(|(id, _)| *id == current.instance_id)
        {
            let outcome = instance::stop(app, &self.children, current).await;
            instances.push((current.instance_id.clone(), outcome));
        }
        self.save(&state)?;
        self.remove_route(app)?;
        Ok(StopReport {
            app: app.to_owned(),
            instances,
        })
    }

    /// Stops the running instance of `spec.name` and starts `spec` again on the same port.
    pub async fn restart(&self, spec: &AppSpec) -> Result<InstanceInfo, ProcessError> {
        spec.validate()?;
        {
            let _guard = self.lock_app(&spec.name).await;
            let mut state = self.load_or_new(&spec.name)?;
            if let Some(rollout) = &state.rollout {
                return Err(ProcessError::RolloutInProgress {
                    app: spec.name.clone(),
                    target: rollout.target_version.clone(),
                });
            }
            if let Some(current) = state.current.as_mut() {
                instance::stop(&spec.name, &self.children, current).await;
                self.save(&state)?;
            }
        }
        self.start(spec).await
    }

    /// Kills every recorded instance at once (SIGKILL to each group), without grace.
    /// For emergencies and test cleanup; prefer [`ProcessDriver::stop`].
    pub fn kill_all(&self) -> Result<(), ProcessError> {
        for name in self.apps()? {
            let Some(mut state) = state::load_app(&self.state_dir, &name)? else {
                continue;
            };
            if let Some(current) = state.current.as_mut() {
                instance::kill_now(&self.children, current);
            }
            if let Some(rollout) = state.rollout.as_mut() {
                for record in [rollout.new.as_mut(), rollout.old.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    instance::kill_now(&self.children, record);
                }
            }
            self.save(&state)?;
        }
        Ok(())
    }

    /// Starts an instance numbered from `next_instance`; the caller records it.
    fn spawn(
        &self,
        spec: &AppSpec,
        next_instance: &mut u64,
        port: u16,
    ) -> Result<InstanceRecord, ProcessError> {
        let number = *next_instance;
        *next_instance += 1;
        let instance_id = format!("{}-{}-{number}", spec.name, spec.version);
        let log_path = self
            .state_dir
            .join("logs")
            .join(format!("{instance_id}.log"));
        instance::spawn(spec, &self.children, &instance_id, port, &log_path)
    }

    async fn lock_app(&self, app: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .app_locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.entry(app.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }

    fn load(&self, app: &str) -> Result<AppState, ProcessError> {
        state::load_app(&self.state_dir, app)?.ok_or_else(|| ProcessError::UnknownApp {
            app: app.to_owned(),
        })
    }

    fn load_or_new(&self, app: &str) -> Result<AppState, ProcessError> {
        Ok(state::load_app(&self.state_dir, app)?.unwrap_or_else(|| AppState::new(app)))
    }

    fn save(&self, app: &AppState) -> Result<(), ProcessError> {
        state::save_app(&self.state_dir, app)
    }

    fn update_route(&self, app: &str, change: impl FnOnce(&mut Route)) -> Result<(), ProcessError> {
        let _guard = self
            .routes_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut table = RoutingTable::read(&self.state_dir)?;
        change(table.apps.entry(app.to_owned()).or_default());
        table.write(&self.state_dir)
    }

    fn remove_route(&self, app: &str) -> Result<(), ProcessError> {
        let _guard = self
            .routes_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut table = RoutingTable::read(&self.state_dir)?;
        if table.apps.remove(app).is_some() {
            table.write(&self.state_dir)?;
        }
        Ok(())
    }
}

/// `preferred` when nothing listens there now, else a free port.
fn port_if_free(preferred: Option<u16>) -> Result<u16, ProcessError> {
    if let Some(port) = preferred
        && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
    {
        return Ok(port);
    }
    instance::free_port()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: T) {}

    /// The engine shares one driver between tasks and spawns its calls.
    #[test]
    fn driver_and_its_futures_can_cross_threads() {
        let dir = tempfile::tempdir().unwrap();
        let driver = ProcessDriver::open(dir.path()).unwrap();
        assert_send_sync(&driver);
        let spec = AppSpec::new("a", "1", vec!["true".into()]);
        assert_send(driver.start(&spec));
        assert_send(driver.upgrade(&spec));
        assert_send(driver.stop("a"));
        assert_send(driver.status("a"));
        assert_send(driver.stack_dump("a", std::time::Duration::ZERO));
    }
}
