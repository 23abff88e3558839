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
use crate::manifest::{
    BackupSet, Manifest, PruneOutcome, digest_dump, dump_dir_listing, list_sha256,
};
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
    let clock = std::time::Instant::now();
    if target.engine == crate::target::Engine::Postgres {
        dump::drop_leftover_replaced(target);
    }
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
    let connected = clock.elapsed();

    let extension = if req.options.directory(target.engine) {
        "dir"
    } else {
        target.engine.dump_extension()
    };
    let file = format!("{}.{extension}", req.database);
    let final_path = dir.join(&file);
    let partial = dir.join(format!("{file}.partial"));
    remove_path(&partial);
    item.set_status(BackupStatus::BackingUp);
    let (program, streamed_sha256) =
        match dump::dump(target, &partial, &req.options, item, stop).await {
            Ok(p) => p,
            Err(e) => {
                remove_path(&partial);
                return Err(e);
            }
        };
    let dumped = clock.elapsed();
    let checked = check_new_dump(target, &partial, streamed_sha256).await;
    let checked_at = clock.elapsed();
    let (size, sha256, files) = match checked {
        Ok(v) => v,
        Err(e) => {
            remove_path(&partial);
            return Err(e);
        }
    };
    if partial.is_dir() {
        // A directory does not replace another by rename: the previous dump goes first.
        remove_path(&final_path);
    }
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
        files,
    };
    BackupSet::record(dir, &manifest)?;
    item.log(&format!(
        "backup complete: {} bytes, sha256 {}",
        manifest.size_bytes, manifest.sha256
    ));
    tracing::info!(database = %req.database, size = manifest.size_bytes, "backup complete");
    tracing::debug!(
        database = %req.database,
        connect_prune_ms = connected.as_millis() as u64,
        dump_ms = (dumped - connected).as_millis() as u64,
        check_ms = (checked_at - dumped).as_millis() as u64,
        record_ms = (clock.elapsed() - checked_at).as_millis() as u64,
        "backup phases"
    );
    Ok(manifest)
}

/// Removes a dump file or directory if it is there.
fn remove_path(path: &Path) {
    let _ = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
}

/// Size > 0, structurally complete; returns (size, sha256, files of a directory dump).
/// `streamed_sha256` is the SHA-256 taken while the dump was written, if it was.
async fn check_new_dump(
    target: &DbTarget,
    path: &Path,
    streamed_sha256: Option<String>,
) -> Result<(u64, String, Vec<crate::manifest::DumpFile>), Error> {
    let size = tool::output_size(path);
    if size == 0 {
        return Err(Error::DumpInvalid {
            path: path.into(),
            reason: "the dump is empty (0 bytes)".into(),
        });
    }
    if let Some(sha256) = streamed_sha256 {
        dump::check_structure(target.engine, path, false)
            .await
            .map_err(|reason| Error::DumpInvalid {
                path: path.into(),
                reason,
            })?;
        return Ok((size, sha256, Vec::new()));
    }
    // The structural read and the checksum run side by side (two cores, one pass each).
    let p = path.to_owned();
    let (structure, sha) = tokio::join!(
        dump::check_structure(target.engine, path, false),
        tokio::task::spawn_blocking(move || digest_dump(&p))
    );
    structure.map_err(|reason| Error::DumpInvalid {
        path: path.into(),
        reason,
    })?;
    sha.map_err(|e| Error::io("checksum", path, std::io::Error::other(e.to_string())))?
}

/// Checks a recorded backup before anything uses it: the file exists, its size and
/// SHA-256 match the manifest, and it is structurally complete (for PostgreSQL the whole
/// archive is read through).
pub async fn check_backup(dir: &Path, manifest: &Manifest) -> Result<PathBuf, Error> {
    check_recorded(dir, manifest, true).await
}

/// [`check_backup`]; with `full_read` off, PostgreSQL's structure is checked through its
/// table of contents only (a restore reads the rest into a scratch database before it
/// touches the target).
pub(crate) async fn check_recorded(
    dir: &Path,
    manifest: &Manifest,
    full_read: bool,
) -> Result<PathBuf, Error> {
    let path = check_listed(dir, manifest)?;
    check_content(dir, manifest, full_read).await?;
    Ok(path)
}

/// The cheap half of [`check_recorded`], from file metadata only: the dump exists, is not
/// empty, and its size (a directory's file names and sizes) matches the manifest.
pub(crate) fn check_listed(dir: &Path, manifest: &Manifest) -> Result<PathBuf, Error> {
    let path = dir.join(&manifest.file);
    let invalid = |reason: String| Error::DumpInvalid {
        path: path.clone(),
        reason,
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => return Err(invalid(format!("cannot read it: {e}"))),
    };
    let listing = match (meta.is_dir(), manifest.files.is_empty()) {
        (false, true) => None,
        (true, false) => Some(dump_dir_listing(&path).map_err(invalid)?),
        (true, true) => {
            return Err(invalid(
                "it is a directory but the manifest lists no files in it".into(),
            ));
        }
        (false, false) => {
            return Err(invalid(
                "the manifest lists the files of a directory dump but it is not a directory".into(),
            ));
        }
    };
    let size = match &listing {
        Some(files) => files.iter().map(|(_, len)| len).sum(),
        None => meta.len(),
    };
    if size == 0 {
        return Err(invalid("the dump is empty (0 bytes)".into()));
    }
    if let Some(files) = &listing {
        for f in &manifest.files {
            match files.iter().find(|(name, _)| *name == f.name) {
                None => return Err(invalid(format!("its file `{}` is missing", f.name))),
                Some((_, len)) if *len != f.size_bytes => {
                    return Err(invalid(format!(
                        "its file `{}` is {len} bytes but the manifest says {} (truncated or altered)",
                        f.name, f.size_bytes
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some((name, _)) = files
            .iter()
            .find(|(name, _)| !manifest.files.iter().any(|f| f.name == *name))
        {
            return Err(invalid(format!(
                "it holds `{name}`, which the manifest does not list (altered)"
            )));
        }
        if list_sha256(&manifest.files) != manifest.sha256 {
            return Err(invalid(
                "the manifest's SHA-256 does not match its own file list (altered manifest)".into(),
            ));
        }
    }
    if size != manifest.size_bytes {
        return Err(invalid(format!(
            "its size is {size} bytes but the manifest says {} (truncated or altered)",
            manifest.size_bytes
        )));
    }
    Ok(path)
}

/// The half of [`check_recorded`] that reads the whole dump: SHA-256 (per file of a
/// directory) against the manifest, and the structural check, side by side.
pub(crate) async fn check_content(
    dir: &Path,
    manifest: &Manifest,
    full_read: bool,
) -> Result<(), Error> {
    let path = dir.join(&manifest.file);
    let invalid = |reason: String| Error::DumpInvalid {
        path: path.clone(),
        reason,
    };
    let p = path.clone();
    let (structure, sha) = tokio::join!(
        dump::check_structure(manifest.engine, &path, full_read),
        tokio::task::spawn_blocking(move || digest_dump(&p))
    );
    let (_, sha, files) = sha.map_err(|e| invalid(e.to_string()))??;
    for got in &files {
        let want = manifest.files.iter().find(|f| f.name == got.name);
        if let Some(want) = want
            && want.sha256 != got.sha256
        {
            return Err(invalid(format!(
                "its file `{}` has SHA-256 {} but the manifest says {} (altered)",
                want.name, got.sha256, want.sha256
            )));
        }
    }
    if sha != manifest.sha256 {
        return Err(invalid(format!(
            "its SHA-256 {sha} differs from the manifest's {} (altered)",
            manifest.sha256
        )));
    }
    structure.map_err(invalid)?;
    Ok(())
}
