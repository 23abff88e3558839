//! Database backup (full: the upgrade waits for it; partial: never blocks) and the
//! rollback's restore from this upgrade's backups.

use super::{failed, intent, outcome, settled};
use crate::crash;
use crate::driver::Engine;
use crate::error::EngineError;
use crate::port::{Backup, PortError};
use crate::upgrade::{
    Item, ItemState, LogLevel, Mode, StepKind, StepOutcome, Timestamp, UpgradeRecord,
};

pub(super) async fn run(e: &Engine, r: &mut UpgradeRecord) -> Result<StepOutcome, EngineError> {
    let kind = StepKind::Backup;
    if r.mode == Mode::Partial {
        // partial downtime: start the backups and move on; their state never blocks
        for db in &e.target.databases {
            if !settled(r, db) {
                intent(e, r, kind, db).await?;
            }
        }
        e.background.spawn_missing(e, r);
        return Ok(StepOutcome::Done);
    }
    let mut failures = Vec::new();
    for db in &e.target.databases {
        if settled(r, db) {
            continue;
        }
        intent(e, r, kind, db).await?;
        // the backup belongs to this upgrade: a retry or a rollback finds it by the id
        let result = e.platform.databases.backup(db, &r.id).await;
        crash::point(&format!("{kind}:effect"));
        if let Some(failure) = record_backup(r, db, result, e.now()) {
            failures.push(failure);
        }
        e.save(r).await?;
    }
    if failures.is_empty() {
        return Ok(StepOutcome::Done);
    }
    Ok(StepOutcome::Failed(format!(
        "backup failed: {}; back up again with `changeover upgrade retry`, or skip with `changeover upgrade skip --accept-risk`",
        failures.join("; ")
    )))
}

/// Records a backup's outcome on the backup step's item; returns the failure sentence.
pub(crate) fn record_backup(
    r: &mut UpgradeRecord,
    db: &str,
    result: Result<Backup, PortError>,
    now: Timestamp,
) -> Option<String> {
    let item = r
        .step_mut(StepKind::Backup)
        .expect("a backup step")
        .ensure_item(Item::new(db));
    let (state, failure) = match result {
        Ok(backup) if backup.size == 0 => {
            let reason = format!("backup file {} is empty (size 0)", backup.file);
            (
                ItemState::Failed {
                    reason: reason.clone(),
                },
                Some(format!("{db}: {reason}")),
            )
        }
        Ok(backup) => {
            item.facts.insert("file".into(), backup.file);
            item.facts.insert("size".into(), backup.size.to_string());
            (ItemState::Succeeded, None)
        }
        Err(err) => (failed(&err), Some(format!("{db}: {err}"))),
    };
    item.finish(state, now);
    if let Some(failure) = &failure
        && r.mode == Mode::Partial
    {
        r.note(
            LogLevel::Warn,
            Some(StepKind::Backup),
            format!("backup incomplete ({failure}); the upgrade went on, rollback will be refused"),
            now,
        );
    }
    failure
}

/// Rollback 2: restore every database from the file this upgrade's backup recorded.
pub(super) async fn restore(e: &Engine, r: &mut UpgradeRecord) -> Result<StepOutcome, EngineError> {
    let kind = StepKind::RestoreBackups;
    let backups: Vec<(String, String)> = r
        .step(StepKind::Backup)
        .map(|s| {
            s.items
                .iter()
                .filter_map(|i| Some((i.name.clone(), i.fact("file")?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    for (db, file) in backups {
        if settled(r, &db) {
            continue;
        }
        intent(e, r, kind, &db).await?;
        match e.platform.databases.restore(&db, &r.id).await {
            Ok(()) => outcome(e, r, kind, &db, ItemState::Succeeded).await?,
            Err(err) => {
                outcome(e, r, kind, &db, failed(&err)).await?;
                return Ok(StepOutcome::Failed(format!(
                    "restoring `{db}` from {file} failed: {err}; retry with `changeover upgrade retry`"
                )));
            }
        }
    }
    Ok(StepOutcome::Done)
}
