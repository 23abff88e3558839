//! The backup step of an upgrade: every database of the bundle backed up in parallel,
//! each with its own status, progress and log; re-backup one; force-stop one while the
//! others go on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::{BackupItem, BackupItemView, BackupRequest, backup_database};
use crate::error::Error;
use crate::tool::StopSignal;

struct Running {
    stop: StopSignal,
}

/// The backups of one upgrade (or one ad-hoc run) into one directory.
pub struct BackupSession {
    dir: PathBuf,
    upgrade_id: Option<String>,
    requests: Vec<BackupRequest>,
    items: Vec<Arc<BackupItem>>,
    running: Mutex<HashMap<String, Running>>,
    /// Backup tasks not yet ended, and the wake-up of `wait` when one ends.
    active: AtomicUsize,
    ended: Notify,
}

/// Counts a backup task as ended when it is dropped: at its end, or if it panics or is
/// aborted.
struct Ending<'a>(&'a BackupSession);

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
        self.0.ended.notify_waiters();
    }
}

impl BackupSession {
    /// A session over `requests` (database names must be unique), writing into `dir`.
    pub fn new(
        dir: &Path,
        upgrade_id: Option<&str>,
        requests: Vec<BackupRequest>,
    ) -> Result<Arc<Self>, Error> {
        let mut seen = std::collections::HashSet::new();
        for r in &requests {
            r.validate()?;
            if !seen.insert(r.database.clone()) {
                return Err(Error::Manifest {
                    path: dir.into(),
                    reason: format!("database `{}` is listed twice", r.database),
                });
            }
        }
        // Resume: a database whose dump is already recorded in the directory (same size
        // on disk) is complete; `start_all` will not dump it again.
        let recorded = crate::manifest::BackupSet::read(dir).ok();
        let items = requests
            .iter()
            .map(|r| {
                let names: Vec<String> = r.prune.iter().map(|p| p.name.clone()).collect();
                let item = BackupItem::new(&r.database, &names);
                if let Some(m) = recorded.as_ref().and_then(|s| s.get(&r.database))
                    && std::fs::metadata(dir.join(&m.file)).is_ok_and(|md| md.len() == m.size_bytes)
                {
                    item.log("found a recorded backup in the directory");
                    item.finish(Ok(m.clone()));
                }
                Arc::new(item)
            })
            .collect();
        Ok(Arc::new(Self {
            dir: dir.to_owned(),
            upgrade_id: upgrade_id.map(str::to_owned),
            requests,
            items,
            running: Mutex::new(HashMap::new()),
            active: AtomicUsize::new(0),
            ended: Notify::new(),
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn index(&self, database: &str) -> Result<usize, Error> {
        self.requests
            .iter()
            .position(|r| r.database == database)
            .ok_or_else(|| Error::Unknown {
                kind: "database",
                name: database.to_owned(),
                known: self
                    .requests
                    .iter()
                    .map(|r| r.database.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Starts every backup that is not complete and not running.
    pub fn start_all(self: &Arc<Self>) {
        for r in &self.requests {
            let i = self.index(&r.database).unwrap_or_default();
            let status = self.items[i].status();
            if !status.is_running() && status != super::BackupStatus::Complete {
                let _ = self.start(&r.database);
            }
        }
    }

    /// Starts (or re-starts: "re-backup") one database's backup; its status resets.
    /// A running backup is left alone.
    pub fn start(self: &Arc<Self>, database: &str) -> Result<(), Error> {
        let i = self.index(database)?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if self.items[i].status().is_running() {
            return Ok(());
        }
        self.items[i].reset();
        let stop = StopSignal::default();
        let me = Arc::clone(self);
        let stop2 = stop.clone();
        self.active.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            let _ending = Ending(&me);
            let req = &me.requests[i];
            let item = &me.items[i];
            let result =
                backup_database(req, &me.dir, me.upgrade_id.as_deref(), item, &stop2).await;
            if let Err(e) = &result {
                tracing::warn!(database = %req.database, error = %e, "backup did not complete");
            }
            item.finish(result);
        });
        running.insert(database.to_owned(), Running { stop });
        Ok(())
    }

    /// Force-stops one database's backup; the others go on.
    pub fn stop(&self, database: &str) -> Result<(), Error> {
        self.index(database)?;
        if let Some(r) = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(database)
        {
            r.stop.stop();
        }
        Ok(())
    }

    /// Waits until no backup of this session runs.
    pub async fn wait(&self) {
        loop {
            // Registered before the count is read, so that an end in between still wakes.
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.active.load(Ordering::Acquire) == 0 {
                return;
            }
            ended.await;
        }
    }

    /// A snapshot of every item, in request order.
    pub fn items(&self) -> Vec<BackupItemView> {
        self.items.iter().map(|i| i.view()).collect()
    }

    /// The live item of one database.
    pub fn item(&self, database: &str) -> Result<Arc<BackupItem>, Error> {
        Ok(Arc::clone(&self.items[self.index(database)?]))
    }

    /// True when every database's backup is complete.
    pub fn all_complete(&self) -> bool {
        self.items
            .iter()
            .all(|i| i.status() == super::BackupStatus::Complete)
    }
}
