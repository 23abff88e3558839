//! Backups running in the background (partial downtime: "start it and move on").
//!
//! # Guarantees
//! - A backup item left `running` (by this process or by one that died) has a backup task
//!   in this process once [`Background::spawn_missing`] ran; the metadb port returns an
//!   already complete backup instead of taking it again.
//! - Outcomes are recorded on the backup step's items by [`Background::collect`], which the
//!   driver calls on every turn and, waiting, before it returns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use crate::driver::Engine;
use crate::error::EngineError;
use crate::port::{Backup, PortError};
use crate::step::record_backup;
use crate::upgrade::{ItemState, StepKind, UpgradeRecord};

type Task = JoinHandle<Result<Backup, PortError>>;

/// The backup tasks of this process, by database.
#[derive(Clone, Default)]
pub struct Background(Arc<Mutex<HashMap<String, Task>>>);

impl Background {
    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Task>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a task for every backup item recorded `running` that has none here.
    pub(crate) fn spawn_missing(&self, e: &Engine, r: &UpgradeRecord) {
        let Some(step) = r.step(StepKind::Backup) else {
            return;
        };
        let mut tasks = self.tasks();
        for item in step.items.iter().filter(|i| i.state == ItemState::Running) {
            if tasks.contains_key(&item.name) {
                continue;
            }
            let databases = e.platform.databases.clone();
            let (db, id) = (item.name.clone(), r.id.clone());
            tracing::info!(upgrade = %id, database = %db, "backup started in the background");
            let task = tokio::spawn(async move { databases.backup(&db, &id).await });
            tasks.insert(item.name.clone(), task);
        }
    }

    /// Records the outcome of finished backups (all of them, waiting, when `wait`).
    pub(crate) async fn collect(
        &self,
        e: &Engine,
        r: &mut UpgradeRecord,
        wait: bool,
    ) -> Result<(), EngineError> {
        if r.mode == crate::upgrade::Mode::Partial
            && r.step(StepKind::Backup)
                .is_some_and(|s| s.phase.is_settled())
        {
            self.spawn_missing(e, r);
        }
        let finished: Vec<(String, Task)> = {
            let mut tasks = self.tasks();
            let names: Vec<String> = tasks
                .iter()
                .filter(|(_, t)| wait || t.is_finished())
                .map(|(n, _)| n.clone())
                .collect();
            names
                .into_iter()
                .filter_map(|n| tasks.remove(&n).map(|t| (n, t)))
                .collect()
        };
        if finished.is_empty() {
            return Ok(());
        }
        for (db, task) in finished {
            let result = task.await.unwrap_or_else(|err| {
                Err(format!("the backup task ended abnormally: {err}").into())
            });
            record_backup(r, &db, result, e.now());
        }
        e.save(r).await
    }
}
