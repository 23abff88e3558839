//! An in-memory platform: a scheduler with instances and toggles, applications with
//! versions, databases and hooks, counting every side effect so tests can assert "once".

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use changeover_engine::Engine;
use changeover_engine::port::*;
use changeover_engine::upgrade::verify::{FailedInstance, StatusCount};
use changeover_engine::upgrade::{ToggleState, UpgradeRecord};

#[derive(Default)]
pub struct World {
    pub toggles: Vec<ToggleState>,
    pub running: Vec<String>,
    pub killed: Vec<String>,
    pub reruns: BTreeMap<String, Vec<(String, String)>>,
    pub rerun_started: Vec<String>,
    pub versions: BTreeMap<String, Option<String>>,
    pub starts: Vec<(String, String, bool)>,
    pub stops: Vec<String>,
    pub backups: Vec<String>,
    pub migrations: u32,
    pub task_runs: BTreeMap<String, u32>,
    pub hooks: Vec<String>,
    pub saves: u32,
    /// Saves fail from this one on: a crash at that save.
    pub die_at_save: Option<u32>,
    pub last: Option<UpgradeRecord>,
    /// toggles seen while each application started: (app, prod scheduling)
    pub scheduling_during_start: Vec<(String, bool)>,
    /// What `failed_today_succeeded_yesterday` answers (verification fails when not empty).
    pub failed_today: Vec<FailedInstance>,
}

#[derive(Clone, Default)]
pub struct Memory(pub Arc<Mutex<World>>);

impl Memory {
    pub fn new(running: &[&str]) -> Self {
        let m = Memory::default();
        {
            let mut w = m.0.lock().unwrap();
            w.toggles = vec![
                ToggleState {
                    environment: "dev".into(),
                    scheduling: false,
                    execution: true,
                },
                ToggleState {
                    environment: "prod".into(),
                    scheduling: true,
                    execution: true,
                },
            ];
            w.running = running.iter().map(|s| s.to_string()).collect();
            for app in ["scheduler", "dataservice"] {
                w.versions.insert(app.into(), Some("1.0.0".into()));
            }
        }
        m
    }

    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.0.lock().unwrap()
    }

    pub fn engine(&self) -> Engine {
        super::file_world::engine_over(Arc::new(self.clone()), Duration::from_millis(1))
    }
}

fn prod_scheduling(w: &World) -> bool {
    w.toggles
        .iter()
        .any(|t| t.environment == "prod" && t.scheduling)
}

#[async_trait]
impl Scheduler for Memory {
    async fn toggles(&self) -> Result<Vec<ToggleState>, PortError> {
        Ok(self.world().toggles.clone())
    }
    async fn set_toggles(
        &self,
        env: &str,
        scheduling: Option<bool>,
        execution: Option<bool>,
    ) -> Result<(), PortError> {
        let mut w = self.world();
        let t = w
            .toggles
            .iter_mut()
            .find(|t| t.environment == env)
            .ok_or("unknown environment")?;
        if env == "dev" && scheduling == Some(true) {
            return Err("dev_scheduling_always_off".into());
        }
        if let Some(s) = scheduling {
            t.scheduling = s;
        }
        if let Some(x) = execution {
            t.execution = x;
        }
        Ok(())
    }
    async fn running(&self) -> Result<Vec<Instance>, PortError> {
        Ok(self
            .world()
            .running
            .iter()
            .map(|id| Instance {
                id: id.clone(),
                workflow: "wf".into(),
                task: "t".into(),
            })
            .collect())
    }
    async fn terminate(&self, ids: &[String]) -> Result<Terminated, PortError> {
        let mut w = self.world();
        let mut answer = Terminated::default();
        for id in ids {
            if let Some(p) = w.running.iter().position(|r| r == id) {
                w.running.remove(p);
                w.killed.push(id.clone());
                answer.terminated.push(id.clone());
            } else {
                answer.already_finished.push(id.clone());
            }
        }
        Ok(answer)
    }
    async fn rerun(&self, request_id: &str, ids: &[String]) -> Result<Rerun, PortError> {
        let mut w = self.world();
        if let Some(done) = w.reruns.get(request_id) {
            return Ok(Rerun {
                rerun: done.clone(),
                skipped: vec![],
            });
        }
        let mut answer = Rerun::default();
        for id in ids {
            if w.killed.contains(id) {
                let new_id = format!("{id}-rerun");
                w.rerun_started.push(id.clone());
                answer.rerun.push((id.clone(), new_id));
            } else {
                answer.skipped.push((id.clone(), "not killed".into()));
            }
        }
        w.reruns.insert(request_id.into(), answer.rerun.clone());
        Ok(answer)
    }
    async fn statistics(
        &self,
        _from: changeover_engine::upgrade::Date,
        _to: changeover_engine::upgrade::Date,
    ) -> Result<Vec<StatusCount>, PortError> {
        Ok(vec![])
    }
    async fn failed_today_succeeded_yesterday(
        &self,
        _today: changeover_engine::upgrade::Date,
    ) -> Result<Vec<FailedInstance>, PortError> {
        Ok(self.world().failed_today.clone())
    }
}

#[async_trait]
impl Applications for Memory {
    async fn prepare(&self, _app: &str, _version: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn running_version(&self, app: &str) -> Result<Option<String>, PortError> {
        Ok(self.world().versions.get(app).cloned().flatten())
    }
    async fn stop(&self, app: &str) -> Result<(), PortError> {
        let mut w = self.world();
        w.stops.push(app.into());
        w.versions.insert(app.into(), None);
        Ok(())
    }
    async fn start(&self, app: &str, version: &str, rolling: bool) -> Result<(), PortError> {
        let mut w = self.world();
        w.starts.push((app.into(), version.into(), rolling));
        let s = prod_scheduling(&w);
        w.scheduling_during_start.push((app.into(), s));
        w.versions.insert(app.into(), Some(version.into()));
        Ok(())
    }
}

#[async_trait]
impl Databases for Memory {
    async fn backup(&self, database: &str, upgrade_id: &str) -> Result<Backup, PortError> {
        self.world()
            .backups
            .push(format!("{upgrade_id}/{database}"));
        Ok(Backup {
            file: format!("/backups/{upgrade_id}/{database}.sql"),
            size: 42,
        })
    }
    async fn dry_run(&self, _database: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn migrate(&self, _database: &str) -> Result<(), PortError> {
        self.world().migrations += 1;
        Ok(())
    }
    async fn restore(&self, _database: &str, _upgrade_id: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn run_data_update(&self, task: &str, run_id: &str) -> Result<TaskRun, PortError> {
        let mut w = self.world();
        // the port's contract: a finished run id returns its outcome and runs nothing
        let key = format!("{task}|{run_id}");
        if w.task_runs.contains_key(&key) {
            return Ok(TaskRun::Succeeded);
        }
        w.task_runs.insert(key, 1);
        Ok(TaskRun::Succeeded)
    }
    async fn finished_data_update(&self, run_id: &str) -> Result<Option<TaskRun>, PortError> {
        let suffix = format!("|{run_id}");
        let w = self.world();
        Ok(w.task_runs
            .keys()
            .any(|k| k.ends_with(&suffix))
            .then_some(TaskRun::Succeeded))
    }
    async fn stop_data_update(&self, _task: &str) -> Result<(), PortError> {
        // tasks here end at once: nothing is ever running to stop
        Ok(())
    }
}

#[async_trait]
impl Hooks for Memory {
    async fn run(&self, hook: &str) -> Result<(), PortError> {
        self.world().hooks.push(format!("run:{hook}"));
        Ok(())
    }
    async fn undo(&self, hook: &str) -> Result<(), PortError> {
        self.world().hooks.push(format!("undo:{hook}"));
        Ok(())
    }
}

#[async_trait]
impl Records for Memory {
    async fn save(&self, record: &UpgradeRecord) -> Result<(), PortError> {
        let mut w = self.world();
        w.saves += 1;
        if w.die_at_save.is_some_and(|n| w.saves >= n) {
            return Err("crashed".into());
        }
        w.last = Some(record.clone());
        Ok(())
    }
}
