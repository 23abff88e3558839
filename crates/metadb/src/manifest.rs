//! The record of a backup: `manifest.json` in the backup directory lists one
//! [`Manifest`] per database. The file is the record; no store table is needed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::target::Engine;

/// Name of the record file in a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Format marker written into every manifest.
pub const MANIFEST_FORMAT: &str = "changeover-backup/v1";

/// Serialises read-modify-write of manifest files within this process.
static MANIFEST_LOCK: Mutex<()> = Mutex::new(());

/// One database's backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The database's name in the bundle (`metadata`).
    pub database: String,
    pub engine: Engine,
    /// Redacted URL of the database that was dumped.
    pub source: String,
    pub server_version: String,
    /// Dump file name, relative to the backup directory.
    pub file: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The upgrade this backup belongs to; `None` for an ad-hoc backup.
    pub upgrade_id: Option<String>,
    pub tool: String,
    pub tool_version: String,
    /// Prune statements run before the dump, with rows deleted.
    #[serde(default)]
    pub pruned: Vec<PruneOutcome>,
    /// A directory dump (PostgreSQL `--format=directory`): every file in it, by name, with
    /// its size and SHA-256; `sha256` is then the SHA-256 of the lines `<sha256>  <name>`
    /// (the `sha256sum` format) and `size_bytes` their total. Empty for a one-file dump.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<DumpFile>,
}

/// One file of a directory dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpFile {
    pub name: String,
    pub size_bytes: u64,
    pub sha256: String,
}

/// The result of one prune statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneOutcome {
    pub name: String,
    pub rows_deleted: u64,
}

/// The content of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSet {
    pub format: String,
    pub upgrade_id: Option<String>,
    pub databases: Vec<Manifest>,
}

impl BackupSet {
    /// Reads `<dir>/manifest.json`.
    pub fn read(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
        let set: BackupSet = serde_json::from_str(&text).map_err(|e| Error::Manifest {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if set.format != MANIFEST_FORMAT {
            return Err(Error::Manifest {
                path,
                reason: format!("format `{}` is not `{MANIFEST_FORMAT}`", set.format),
            });
        }
        let plain = |name: &str| !(name.contains('/') || name.contains("..") || name.is_empty());
        for m in &set.databases {
            if !plain(&m.file) {
                return Err(Error::Manifest {
                    path,
                    reason: format!(
                        "file `{}` of {} must be a plain name in the backup directory",
                        m.file, m.database
                    ),
                });
            }
            if let Some(f) = m.files.iter().find(|f| !plain(&f.name)) {
                return Err(Error::Manifest {
                    path,
                    reason: format!(
                        "file `{}` of {}'s directory dump must be a plain name",
                        f.name, m.database
                    ),
                });
            }
        }
        Ok(set)
    }

    /// The manifest of one database.
    pub fn get(&self, database: &str) -> Option<&Manifest> {
        self.databases.iter().find(|m| m.database == database)
    }

    /// Adds or replaces `manifest` in `<dir>/manifest.json` (atomic rename).
    pub fn record(dir: &Path, manifest: &Manifest) -> Result<(), Error> {
        let _guard = MANIFEST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut set = if dir.join(MANIFEST_FILE).exists() {
            Self::read(dir)?
        } else {
            BackupSet {
                format: MANIFEST_FORMAT.into(),
                upgrade_id: manifest.upgrade_id.clone(),
                databases: Vec::new(),
            }
        };
        set.databases.retain(|m| m.database != manifest.database);
        set.databases.push(manifest.clone());
        set.databases.sort_by(|a, b| a.database.cmp(&b.database));
        let path = dir.join(MANIFEST_FILE);
        let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let text = serde_json::to_string_pretty(&set).map_err(|e| Error::Manifest {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        // Written, synced, renamed into place, and the directory synced: after a power
        // loss the manifest is the old one or the new one, and a dump renamed into this
        // directory before it is there too.
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        std::io::Write::write_all(&mut f, text.as_bytes())
            .map_err(|e| Error::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| Error::io("sync", &tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename into", &path, e))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("sync directory", dir, e))
    }
}

/// Lists the backup directories under `root` (each holding a `manifest.json`), newest first.
pub fn list_backups(root: &Path) -> Result<Vec<(PathBuf, BackupSet)>, Error> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io("list", root, e)),
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if dir.join(MANIFEST_FILE).is_file() {
            out.push((dir.clone(), BackupSet::read(&dir)?));
        }
    }
    out.sort_by_key(|(_, s)| std::cmp::Reverse(s.databases.iter().map(|m| m.finished_at).max()));
    Ok(out)
}

/// SHA-256 of a file, hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String, Error> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::io("read", path, e))?;
    Ok(hex::encode(h.finalize()))
}

/// The files of a directory dump, sorted by name, with their sizes. `Err` holds the reason
/// (unreadable, or something in it that is not a regular file).
pub(crate) fn dump_dir_listing(dir: &Path) -> Result<Vec<(String, u64)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list it: {e}"))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list it: {e}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = entry
            .metadata()
            .map_err(|e| format!("cannot read its file `{name}`: {e}"))?;
        if !meta.is_file() {
            return Err(format!("`{name}` in it is not a regular file"));
        }
        out.push((name, meta.len()));
    }
    out.sort();
    Ok(out)
}

/// SHA-256 of a directory dump's file list (see [`Manifest::files`]).
pub(crate) fn list_sha256(files: &[DumpFile]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(format!("{}  {}\n", f.sha256, f.name).as_bytes());
    }
    hex::encode(h.finalize())
}

/// Size, SHA-256 and (for a directory dump) the file list of a dump at `path`.
pub(crate) fn digest_dump(path: &Path) -> Result<(u64, String, Vec<DumpFile>), Error> {
    if !path.is_dir() {
        let size = std::fs::metadata(path)
            .map_err(|e| Error::io("read", path, e))?
            .len();
        return Ok((size, sha256_file(path)?, Vec::new()));
    }
    let listing = dump_dir_listing(path).map_err(|reason| Error::DumpInvalid {
        path: path.into(),
        reason,
    })?;
    let mut files = Vec::with_capacity(listing.len());
    for (name, size_bytes) in listing {
        files.push(DumpFile {
            sha256: sha256_file(&path.join(&name))?,
            name,
            size_bytes,
        });
    }
    let size = files.iter().map(|f| f.size_bytes).sum();
    Ok((size, list_sha256(&files), files))
}
