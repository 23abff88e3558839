//! Restoring a backup into a database, and verifying a backup by restoring it into a
//! scratch database and comparing every table with the source. A backup is checked
//! (size, SHA-256, structure) before anything touches the target. A PostgreSQL backup is
//! restored into a scratch database while its SHA-256 and structure are checked; the
//! scratch replaces the target only once both succeeded and `pg_restore` has read and
//! loaded all of it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::backup::{check_content, check_listed};
use crate::checksum::{TableChecksum, table_checksums};
use crate::dump::{self, DumpOptions};
use crate::error::Error;
use crate::manifest::{BackupSet, Manifest};
use crate::target::{DbTarget, Engine};

/// Replaces `target`'s content with the backup described by `manifest` in `dir`.
/// The backup is checked first; if it is unusable, `target` is not touched. PostgreSQL:
/// the restore goes into a scratch database on the same server (room for a second copy
/// is needed while it runs) while the dump's checksum and structure are checked; then, in
/// one transaction, the target is renamed `changeover_replaced_<random>` and the scratch
/// takes its name. A dump that fails a check or fails to load part-way leaves the target
/// as it was. The replaced database is dropped in the background (see
/// [`crate::finish_background_drops`]); one left by a crash is dropped by the next backup
/// or restore on the same server.
pub async fn restore(
    dir: &Path,
    manifest: &Manifest,
    target: &DbTarget,
    opts: &DumpOptions,
) -> Result<(), Error> {
    if manifest.engine != target.engine {
        return Err(Error::Manifest {
            path: dir.join(&manifest.file),
            reason: format!(
                "the backup of {} is a {} dump but the target {target} is {}",
                manifest.database, manifest.engine, target.engine
            ),
        });
    }
    let file = check_listed(dir, manifest)?;
    let check = check_content(dir, manifest, false);
    tracing::info!(database = %manifest.database, target = %target, "restoring backup");
    dump::stage(target, &file, opts, check)
        .await?
        .commit()
        .await?;
    tracing::info!(database = %manifest.database, target = %target, "restore complete");
    Ok(())
}

/// Restores several databases from one backup directory (the rollback of an upgrade).
/// Every backup's size is checked first, then each is checked in full (for PostgreSQL
/// while it is restored into its scratch database); if any is missing, unusable or fails
/// to load, no database is touched.
/// `targets` pairs each database name of the manifest with where to restore it.
pub async fn restore_set(
    dir: &Path,
    targets: &[(String, DbTarget)],
    opts: &DumpOptions,
) -> Result<(), Error> {
    let set = BackupSet::read(dir)?;
    let mut plan = Vec::new();
    for (name, target) in targets {
        let m = set.get(name).ok_or_else(|| Error::Unknown {
            kind: "database in the backup",
            name: name.clone(),
            known: set
                .databases
                .iter()
                .map(|m| m.database.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        if m.engine != target.engine {
            return Err(Error::Manifest {
                path: dir.join(&m.file),
                reason: format!(
                    "the backup of {name} is a {} dump but the target {target} is {}",
                    m.engine, target.engine
                ),
            });
        }
        let file = check_listed(dir, m)?;
        plan.push((m, target, file));
    }
    let mut staged = Vec::new();
    for (m, target, file) in &plan {
        tracing::info!(database = %m.database, target = %target, "restoring backup");
        match dump::stage(target, file, opts, check_content(dir, m, false)).await {
            Ok(s) => staged.push(s),
            Err(e) => {
                for s in staged {
                    s.discard().await;
                }
                return Err(e);
            }
        }
    }
    let mut staged = staged.into_iter();
    while let Some(s) = staged.next() {
        if let Err(e) = s.commit().await {
            for rest in staged {
                rest.discard().await;
            }
            return Err(e);
        }
    }
    Ok(())
}

/// One table compared between the source and the restored copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableComparison {
    pub table: String,
    pub source: Option<TableChecksum>,
    pub restored: Option<TableChecksum>,
}

impl TableComparison {
    pub fn equal(&self) -> bool {
        match (&self.source, &self.restored) {
            (Some(a), Some(b)) => a.rows == b.rows && a.sha256 == b.sha256,
            _ => false,
        }
    }
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub database: String,
    pub tables: Vec<TableComparison>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.tables.iter().all(TableComparison::equal)
    }

    /// One line per differing table.
    pub fn differences(&self) -> Vec<String> {
        self.tables
            .iter()
            .filter(|t| !t.equal())
            .map(|t| match (&t.source, &t.restored) {
                (Some(a), Some(b)) => format!(
                    "{}: source {} rows sha256 {}, backup {} rows sha256 {}",
                    t.table, a.rows, a.sha256, b.rows, b.sha256
                ),
                (Some(_), None) => format!("{}: missing from the backup", t.table),
                _ => format!("{}: only in the backup", t.table),
            })
            .collect()
    }
}

/// Restores the backup into a scratch database (random name, dropped afterwards) on the
/// same server as `source` and compares every table's row count and checksum.
pub async fn verify(
    dir: &Path,
    manifest: &Manifest,
    source: &DbTarget,
    opts: &DumpOptions,
) -> Result<VerifyReport, Error> {
    let suffix: u64 = rand::random();
    let scratch_dir;
    let scratch = match source.engine {
        Engine::Sqlite => {
            scratch_dir = tempfile::tempdir()
                .map_err(|e| Error::io("create scratch directory in", std::env::temp_dir(), e))?;
            DbTarget::sqlite(scratch_dir.path().join("verify.sqlite"))
        }
        _ => source.with_database(&format!("changeover_verify_{suffix:016x}")),
    };
    let restored = async {
        restore(dir, manifest, &scratch, opts).await?;
        table_checksums(&scratch).await
    }
    .await;
    if source.engine != Engine::Sqlite
        && let Err(e) = dump::drop_database(&scratch).await
    {
        tracing::warn!(scratch = %scratch, error = %e, "could not drop the scratch database");
    }
    let restored = restored?;
    let original = table_checksums(source).await?;
    let mut names: Vec<String> = original
        .iter()
        .chain(restored.iter())
        .map(|t| t.table.clone())
        .collect();
    names.sort();
    names.dedup();
    let tables = names
        .into_iter()
        .map(|n| TableComparison {
            source: original.iter().find(|t| t.table == n).cloned(),
            restored: restored.iter().find(|t| t.table == n).cloned(),
            table: n,
        })
        .collect();
    Ok(VerifyReport {
        database: manifest.database.clone(),
        tables,
    })
}
