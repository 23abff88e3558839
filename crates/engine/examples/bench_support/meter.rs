//! The benchmark's meter: wraps the engine's ports and splits each step's wall time into
//! waiting on the platform (a port call in flight, or the driver's pause between two runs
//! of a waiting step), saving the record in the store, and changeover's own code (the rest).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use changeover_engine::port::*;
use changeover_engine::upgrade::verify::{FailedInstance, StatusCount};
use changeover_engine::upgrade::{Date, StepKind, StepPhase, ToggleState, UpgradeRecord};
use changeover_engine::{Engine, Platform};

/// Time per step.
#[derive(Debug, Default, Clone, Copy)]
pub struct Split {
    /// The step under the cursor: from the save that made it current to the save that
    /// moved the cursor on (saves included).
    pub wall: Duration,
    /// A platform call in flight (overlapping calls counted once).
    pub platform: Duration,
    /// The driver pausing before it runs a waiting step again.
    pub paused: Duration,
    /// Saving the record.
    pub store: Duration,
}

#[derive(Default)]
struct State {
    step: Option<StepKind>,
    in_flight: u32,
    since: Option<Instant>,
    /// Set by a save that leaves the step waiting: the driver sleeps until the next save.
    paused_since: Option<Instant>,
    /// End of the last save.
    mark: Option<Instant>,
    splits: HashMap<StepKind, Split>,
}

/// Shared by every wrapped port.
#[derive(Clone, Default)]
pub struct Meter(Arc<Mutex<State>>);

impl Meter {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enter(&self) {
        let mut s = self.state();
        if s.in_flight == 0 {
            s.since = Some(Instant::now());
        }
        s.in_flight += 1;
    }

    fn leave(&self) {
        let mut s = self.state();
        s.in_flight -= 1;
        if s.in_flight == 0
            && let (Some(since), Some(step)) = (s.since.take(), s.step)
        {
            s.splits.entry(step).or_default().platform += since.elapsed();
        }
    }

    async fn platform<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        self.enter();
        let out = call.await;
        self.leave();
        out
    }

    /// The split of every step metered.
    pub fn splits(&self) -> HashMap<StepKind, Split> {
        self.state().splits.clone()
    }

    /// `engine` with every port metered.
    pub fn wrap(&self, engine: Engine) -> Engine {
        let p = engine.platform.clone();
        Engine {
            platform: Platform {
                scheduler: Arc::new(Metered(self.clone(), p.scheduler)),
                applications: Arc::new(Metered(self.clone(), p.applications)),
                databases: Arc::new(Metered(self.clone(), p.databases)),
                hooks: Arc::new(Metered(self.clone(), p.hooks)),
            },
            records: Arc::new(Metered(self.clone(), engine.records.clone())),
            ..engine
        }
    }
}

struct Metered<P: ?Sized>(Meter, Arc<P>);

#[async_trait]
impl Scheduler for Metered<dyn Scheduler> {
    async fn toggles(&self) -> Result<Vec<ToggleState>, PortError> {
        self.0.platform(self.1.toggles()).await
    }
    async fn set_toggles(
        &self,
        env: &str,
        scheduling: Option<bool>,
        execution: Option<bool>,
    ) -> Result<(), PortError> {
        self.0
            .platform(self.1.set_toggles(env, scheduling, execution))
            .await
    }
    async fn running(&self) -> Result<Vec<Instance>, PortError> {
        self.0.platform(self.1.running()).await
    }
    async fn terminate(&self, ids: &[String]) -> Result<Terminated, PortError> {
        self.0.platform(self.1.terminate(ids)).await
    }
    async fn rerun(&self, request_id: &str, ids: &[String]) -> Result<Rerun, PortError> {
        self.0.platform(self.1.rerun(request_id, ids)).await
    }
    async fn statistics(&self, from: Date, to: Date) -> Result<Vec<StatusCount>, PortError> {
        self.0.platform(self.1.statistics(from, to)).await
    }
    async fn failed_today_succeeded_yesterday(
        &self,
        today: Date,
    ) -> Result<Vec<FailedInstance>, PortError> {
        self.0
            .platform(self.1.failed_today_succeeded_yesterday(today))
            .await
    }
}

#[async_trait]
impl Applications for Metered<dyn Applications> {
    async fn prepare(&self, app: &str, version: &str) -> Result<(), PortError> {
        self.0.platform(self.1.prepare(app, version)).await
    }
    async fn running_version(&self, app: &str) -> Result<Option<String>, PortError> {
        self.0.platform(self.1.running_version(app)).await
    }
    async fn stop(&self, app: &str) -> Result<(), PortError> {
        self.0.platform(self.1.stop(app)).await
    }
    async fn start(&self, app: &str, version: &str, rolling: bool) -> Result<(), PortError> {
        self.0.platform(self.1.start(app, version, rolling)).await
    }
}

#[async_trait]
impl Databases for Metered<dyn Databases> {
    async fn backup(&self, database: &str, upgrade_id: &str) -> Result<Backup, PortError> {
        self.0.platform(self.1.backup(database, upgrade_id)).await
    }
    async fn dry_run(&self, database: &str) -> Result<(), PortError> {
        self.0.platform(self.1.dry_run(database)).await
    }
    async fn migrate(&self, database: &str) -> Result<(), PortError> {
        self.0.platform(self.1.migrate(database)).await
    }
    async fn restore(&self, database: &str, upgrade_id: &str) -> Result<(), PortError> {
        self.0.platform(self.1.restore(database, upgrade_id)).await
    }
    async fn run_data_update(&self, task: &str, run_id: &str) -> Result<TaskRun, PortError> {
        self.0.platform(self.1.run_data_update(task, run_id)).await
    }
    async fn finished_data_update(&self, run_id: &str) -> Result<Option<TaskRun>, PortError> {
        self.0.platform(self.1.finished_data_update(run_id)).await
    }
    async fn stop_data_update(&self, task: &str) -> Result<(), PortError> {
        self.0.platform(self.1.stop_data_update(task)).await
    }
}

#[async_trait]
impl Hooks for Metered<dyn Hooks> {
    async fn run(&self, hook: &str) -> Result<(), PortError> {
        self.0.platform(self.1.run(hook)).await
    }
    async fn undo(&self, hook: &str) -> Result<(), PortError> {
        self.0.platform(self.1.undo(hook)).await
    }
}

#[async_trait]
impl Records for Metered<dyn Records> {
    async fn save(&self, record: &UpgradeRecord) -> Result<(), PortError> {
        let started = Instant::now();
        {
            let mut s = self.0.state();
            if let Some(step) = s.step {
                let paused = s.paused_since.take().map(|p| p.elapsed());
                let since_mark = s.mark.map(|m| m.elapsed());
                let split = s.splits.entry(step).or_default();
                split.paused += paused.unwrap_or_default();
                split.wall += since_mark.unwrap_or_default();
            }
        }
        let out = self.1.save(record).await;
        let mut s = self.0.state();
        let took = started.elapsed();
        if let Some(step) = s.step {
            let split = s.splits.entry(step).or_default();
            split.store += took;
            split.wall += took;
        }
        let current = record.current();
        s.step = current.map(|c| c.kind);
        s.paused_since = current
            .is_some_and(|c| matches!(c.phase, StepPhase::Waiting { .. }))
            .then(Instant::now);
        s.mark = Some(Instant::now());
        out
    }
}
