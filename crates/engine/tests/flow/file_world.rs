//! A platform stub whose whole state is one JSON file, so that a changeover process killed
//! with SIGKILL leaves it behind for the next one (the crash test's world). It keeps the
//! scheduler contract's semantics: terminate is idempotent, a re-run request id answers
//! the same twice, a data-update run id runs once, starting the running version starts
//! nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use changeover_engine::port::*;
use changeover_engine::upgrade::verify::{FailedInstance, StatusCount};
use changeover_engine::upgrade::{Date, ToggleState, UpgradeRecord};
use changeover_engine::{AppSpec, Engine, Platform, Target, TaskSpec};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct World {
    pub toggles: Vec<ToggleState>,
    pub running: Vec<String>,
    /// every terminate that killed an instance
    pub killed: Vec<String>,
    pub reruns: BTreeMap<String, Vec<(String, String)>>,
    /// every instance a re-run started
    pub rerun_started: Vec<String>,
    pub versions: BTreeMap<String, Option<String>>,
    /// every start that started a process: (app, version)
    pub starts: Vec<(String, String)>,
    pub backups: BTreeMap<String, u32>,
    pub migrations: u32,
    /// every data-update run that ran: run id
    pub task_runs: Vec<String>,
    pub hooks: Vec<String>,
}

impl World {
    #[allow(dead_code)] // used by the test, not the example
    pub fn sample(running: &[&str]) -> Self {
        World {
            toggles: vec![
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
            ],
            running: running.iter().map(|s| s.to_string()).collect(),
            versions: [("scheduler", "1.0.0"), ("dataservice", "1.0.0")]
                .into_iter()
                .map(|(a, v)| (a.to_owned(), Some(v.to_owned())))
                .collect(),
            ..World::default()
        }
    }
}

/// The world file, and the record file.
pub struct FileWorld {
    pub world: PathBuf,
    pub record: PathBuf,
    lock: Mutex<()>,
}

fn write_atomic(path: &PathBuf, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

impl FileWorld {
    pub fn new(world: PathBuf, record: PathBuf) -> Self {
        Self {
            world,
            record,
            lock: Mutex::new(()),
        }
    }

    pub fn read(&self) -> World {
        serde_json::from_slice(&std::fs::read(&self.world).expect("world file"))
            .expect("world json")
    }

    pub fn write(&self, world: &World) {
        write_atomic(&self.world, &serde_json::to_vec_pretty(world).unwrap()).expect("write world");
    }

    pub fn load_record(&self) -> UpgradeRecord {
        serde_json::from_slice(&std::fs::read(&self.record).expect("record file"))
            .expect("record json")
    }

    fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut w = self.read();
        let r = f(&mut w);
        self.write(&w);
        r
    }
}

#[async_trait]
impl Scheduler for FileWorld {
    async fn toggles(&self) -> Result<Vec<ToggleState>, PortError> {
        Ok(self.read().toggles)
    }
    async fn set_toggles(
        &self,
        env: &str,
        scheduling: Option<bool>,
        execution: Option<bool>,
    ) -> Result<(), PortError> {
        self.with(|w| {
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
        })
    }
    async fn running(&self) -> Result<Vec<Instance>, PortError> {
        Ok(self
            .read()
            .running
            .into_iter()
            .map(|id| Instance {
                id,
                workflow: "wf".into(),
                task: "t".into(),
            })
            .collect())
    }
    async fn terminate(&self, ids: &[String]) -> Result<Terminated, PortError> {
        Ok(self.with(|w| {
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
            answer
        }))
    }
    async fn rerun(&self, request_id: &str, ids: &[String]) -> Result<Rerun, PortError> {
        Ok(self.with(|w| {
            if let Some(done) = w.reruns.get(request_id) {
                return Rerun {
                    rerun: done.clone(),
                    skipped: vec![],
                };
            }
            let mut answer = Rerun::default();
            for id in ids {
                let already = w.reruns.values().flatten().any(|(old, _)| old == id);
                if w.killed.contains(id) && !already {
                    w.rerun_started.push(id.clone());
                    answer.rerun.push((id.clone(), format!("{id}-rerun")));
                } else {
                    answer
                        .skipped
                        .push((id.clone(), "not killed or already re-run".into()));
                }
            }
            w.reruns.insert(request_id.into(), answer.rerun.clone());
            answer
        }))
    }
    async fn statistics(&self, _from: Date, _to: Date) -> Result<Vec<StatusCount>, PortError> {
        Ok(vec![])
    }
    async fn failed_today_succeeded_yesterday(
        &self,
        _today: Date,
    ) -> Result<Vec<FailedInstance>, PortError> {
        Ok(vec![])
    }
}

#[async_trait]
impl Applications for FileWorld {
    async fn prepare(&self, _app: &str, _version: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn running_version(&self, app: &str) -> Result<Option<String>, PortError> {
        Ok(self.read().versions.get(app).cloned().flatten())
    }
    async fn stop(&self, app: &str) -> Result<(), PortError> {
        self.with(|w| w.versions.insert(app.into(), None));
        Ok(())
    }
    async fn start(&self, app: &str, version: &str, _rolling: bool) -> Result<(), PortError> {
        self.with(|w| {
            if w.versions.get(app).cloned().flatten().as_deref() != Some(version) {
                w.starts.push((app.into(), version.into()));
                w.versions.insert(app.into(), Some(version.into()));
            }
        });
        Ok(())
    }
}

#[async_trait]
impl Databases for FileWorld {
    async fn backup(&self, database: &str, upgrade_id: &str) -> Result<Backup, PortError> {
        self.with(|w| {
            *w.backups
                .entry(format!("{upgrade_id}/{database}"))
                .or_insert(0) += 1
        });
        Ok(Backup {
            file: format!("/backups/{upgrade_id}/{database}.sql"),
            size: 42,
        })
    }
    async fn dry_run(&self, _database: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn migrate(&self, _database: &str) -> Result<(), PortError> {
        self.with(|w| w.migrations += 1);
        Ok(())
    }
    async fn restore(&self, _database: &str, _upgrade_id: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn run_data_update(&self, _task: &str, run_id: &str) -> Result<TaskRun, PortError> {
        self.with(|w| {
            if !w.task_runs.iter().any(|r| r == run_id) {
                w.task_runs.push(run_id.into());
            }
        });
        Ok(TaskRun::Succeeded)
    }
    async fn finished_data_update(&self, run_id: &str) -> Result<Option<TaskRun>, PortError> {
        Ok(self
            .read()
            .task_runs
            .iter()
            .any(|r| r == run_id)
            .then_some(TaskRun::Succeeded))
    }
    async fn stop_data_update(&self, _task: &str) -> Result<(), PortError> {
        // tasks here end at once: nothing is ever running to stop
        Ok(())
    }
}

#[async_trait]
impl Hooks for FileWorld {
    async fn run(&self, hook: &str) -> Result<(), PortError> {
        self.with(|w| w.hooks.push(format!("run:{hook}")));
        Ok(())
    }
    async fn undo(&self, hook: &str) -> Result<(), PortError> {
        self.with(|w| w.hooks.push(format!("undo:{hook}")));
        Ok(())
    }
}

#[async_trait]
impl Records for FileWorld {
    async fn save(&self, record: &UpgradeRecord) -> Result<(), PortError> {
        write_atomic(&self.record, &serde_json::to_vec(record)?)?;
        Ok(())
    }
}

/// The engine of the flow tests over `port`, a stub that is the whole platform and the
/// record store: the target of every flow test (a scheduler and a rolling always-on data
/// service, one metadata database, a blocking and a non-blocking data update, one hook
/// each side), waiting at most `max_wait` between looks.
pub fn engine_over<P>(port: Arc<P>, max_wait: Duration) -> Engine
where
    P: Scheduler + Applications + Databases + Hooks + Records + 'static,
{
    let app = |name: &str, rolling: bool| AppSpec {
        name: name.into(),
        always_on: rolling,
        rolling,
    };
    let task = |name: &str, blocking: bool| TaskSpec {
        name: name.into(),
        blocking,
        skippable: true,
        manual_start: false,
    };
    Engine {
        platform: Platform {
            scheduler: port.clone(),
            applications: port.clone(),
            databases: port.clone(),
            hooks: port.clone(),
        },
        target: Target {
            applications: vec![app("scheduler", false), app("dataservice", true)],
            previous_applications: Vec::new(),
            databases: vec!["metadata".into()],
            data_updates: vec![task("backfill_owner", true), task("refresh_stats", false)],
            before_hooks: vec!["ha-off".into()],
            after_hooks: vec!["ha-on".into()],
            rule: Default::default(),
        },
        records: port,
        requests: Arc::new(NoRequests),
        max_wait,
        background: Default::default(),
    }
}
