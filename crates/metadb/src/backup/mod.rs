//! Backing up one metadata database: optional pruning, the engine's dump tool writing a
//! `.partial` file, size/structure/checksum checks, then an atomic rename and the
//! manifest. A dump that is empty, truncated or unreadable is a failure, never a backup.

mod item;
mod session;

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::conn::{Conn, query_err, server_version};
use crate::dump::{self, DumpOptions};
use crate::error::Error;
use crate::manifest::{BackupSet, Manifest, PruneOutcome, sha256_file};
use crate::target::DbTarget;
use crate::tool::{self, StopSignal};

pub use item::{BackupItem, BackupItemView, BackupStatus, PruneItemView, PruneStatus};
pub use session::BackupSession;

/// A statement run before the dump to make it smaller (seed 003 deletes old heartbeats).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneStatement {
    pub name: String,
    /// SQL for this database's engine.
    pub sql: String,
}

/// What to back up: one database of the bundle.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    /// The database's name in the bundle; also the dump's file stem.
    pub database: String,
    pub target: DbTarget,
    pub prune: Vec<PruneStatement>,
    pub options: DumpOptions,
}

impl BackupRequest {
    pub fn new(database: impl Into<String>, target: DbTarget) -> Self {
        Self {
            database: database.into(),
            target,
            prune: Vec::new(),
            options: DumpOptions::default(),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        check_file_stem("database name", &self.database)
    }
}

/// `<data_dir>/backups/<upgrade-id>` or `<data_dir>/backups/adhoc-<UTC timestamp>`.
pub fn backup_dir(data_dir: &Path, upgrade_id: Option<&str>) -> Result<PathBuf, Error> {
    Ok(data_dir.join("backups").join(backup_leaf(upgrade_id)?))
}

/// The directory name of a backup: the upgrade id (checked to be a plain file name) or
/// `adhoc-<UTC timestamp>`.
pub fn backup_leaf(upgrade_id: Option<&str>) -> Result<String, Error> {
    match upgrade_id {
        Some(id) => {
            check_file_stem("upgrade id", id)?;
            Ok(id.to_owned())
        }
        None => Ok(format!("adhoc-{}", Utc::now().format("%Y%m%dT%H%M%S%.3fZ"))),
    }
}

fn check_file_stem(what: &str, s: &str) -> Result<(), Error> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Manifest {
            path: PathBuf::from(s),
            reason: format!(
                "{what} `{s}` must be 1-128 letters, digits, `_`, `-` or `.`, not starting with `.`"
            ),
        })
    }
}

/// Backs up one database into `dir`, reporting into `item`; records the manifest in
/// `<dir>/manifest.json`. `stop` ends the dump (status Stopped, no manifest). The item's
/// log (tool output, outcome) is also written to `<dir>/<database>.log`, success or not.
pub async fn backup_database(
    req: &BackupRequest,
    dir: &Path,
    upgrade_id: Option<&str>,
    item: &BackupItem,
    stop: &StopSignal,
) -> Result<Manifest, Error> {
    req.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create backup directory", dir, e))?;
    let result = backup_inner(req, dir, upgrade_id, item, stop).await;
    let mut lines = item.view().log;
    if let Err(e) = &result {
        lines.push(format!("error: {e}"));
    }
    let log = dir.join(format!("{}.log", req.database));
    if let Err(e) = std::fs::write(&log, lines.join("\n") + "\n") {
        tracing::warn!(log = %log.display(), error = %e, "could not write the backup log");
    }
    result
}

async fn backup_inner(
    req: &BackupRequest,
    dir: &Path,
    upgrade_id: Option<&str>,
    item: &BackupItem,
    stop: &StopSignal,
) -> Result<Manifest, Error> {
    let target = &req.target;
    let started_at = Utc::now();
    item.log(&format!("connecting to {target}"));
    let mut conn = Conn::open(target).await?;
    let version = server_version(&mut conn)
        .await
        .map_err(query_err(target, "read server version"))?;
    let mut pruned = Vec::new();
    for p in &req.prune {
        item.prune_status(&p.name, PruneStatus::Running, None, None);
        match conn.execute(&p.sql).await {
            Ok(n) => {
                item.prune_status(&p.name, PruneStatus::Done, Some(n), None);
                item.log(&format!("prune `{}` deleted {n} rows", p.name));
                pruned.push(PruneOutcome {
                    name: p.name.clone(),
                    rows_deleted: n,
                });
            }
            Err(e) => {
                let err = query_err(target, format!("prune `{}`", p.name))(e);
                item.prune_status(&p.name, PruneStatus::Failed, None, Some(err.to_string()));
                conn.close().await;
                return Err(err);
            }
        }
    }
    conn.close().await;

    let file = format!("{}.{}", req.database, target.engine.dump_extension());
    let final_path = dir.join(&file);
    let partial = dir.join(format!("{file}.partial"));
    let _ = std::fs::remove_file(&partial);
    item.set_status(BackupStatus::BackingUp);
    let program = match dump::dump(target, &partial, &req.options, item, stop).await {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let checked = check_new_dump(target, &partial).await;
    let (size, sha256) = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &final_path)
        .map_err(|e| Error::io("rename dump to", &final_path, e))?;
    let manifest = Manifest {
        database: req.database.clone(),
        engine: target.engine,
        source: target.redacted(),
        server_version: version,
        file,
        size_bytes: size,
        sha256,
        started_at,
        finished_at: Utc::now(),
        upgrade_id: upgrade_id.map(str::to_owned),
        tool: program.to_owned(),
        tool_version: match target.engine {
            crate::target::Engine::Sqlite => "sqlx sqlite".to_owned(),
            _ => tool::version(program).await,
        },
        pruned,
    };
    BackupSet::record(dir, &manifest)?;
    item.log(&format!(
        "backup complete: {} bytes, sha256 {}",
        manifest.size_bytes, manifest.sha256
    ));
    tracing::info!(database = %req.database, size = manifest.size_bytes, "backup complete");
    Ok(manifest)
}

/// Size > 0, structurally complete; returns (size, sha256).
async fn check_new_dump(target: &DbTarget, path: &Path) -> Result<(u64, String), Error> {
    let size = tool::output_size(path);
    if size == 0 {
        return Err(Error::DumpInvalid {
            path: path.into(),
            reason: "the dump is empty (0 bytes)".into(),
        });
    }
    // The structural read and the checksum run side by side (two cores, one pass each).
    let p = path.to_owned();
    let (structure, sha) = tokio::join!(
        dump::check_structure(target.engine, path, false),
        tokio::task::spawn_blocking(move || sha256_file(&p))
    );
    structure.map_err(|reason| Error::DumpInvalid {
        path: path.into(),
        reason,
    })?;
    let sha =
        sha.map_err(|e| Error::io("checksum", path, std::io::Error::other(e.to_string())))??;
    Ok((size, sha))
}

/// Checks a recorded backup before anything uses it: the file exists, its size and
/// SHA-256 match the manifest, and it is structurally complete.
pub async fn check_backup(dir: &Path, manifest: &Manifest) -> Result<PathBuf, Error> {
    let path = dir.join(&manifest.file);
    let invalid = |reason: String| Error::DumpInvalid {
        path: path.clone(),
        reason,
    };
    let size = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) => return Err(invalid(format!("cannot read it: {e}"))),
    };
    if size == 0 {
        return Err(invalid("the dump is empty (0 bytes)".into()));
    }
    if size != manifest.size_bytes {
        return Err(invalid(format!(
            "its size is {size} bytes but the manifest says {} (truncated or altered)",
            manifest.size_bytes
        )));
    }
    let p = path.clone();
    let (structure, sha) = tokio::join!(
        dump::check_structure(manifest.engine, &path, true),
        tokio::task::spawn_blocking(move || sha256_file(&p))
    );
    let sha = sha.map_err(|e| invalid(e.to_string()))??;
    if sha != manifest.sha256 {
        return Err(invalid(format!(
            "its SHA-256 {sha} differs from the manifest's {} (altered)",
            manifest.sha256
        )));
    }
    structure.map_err(invalid)?;
    Ok(path)
}
