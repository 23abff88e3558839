//! changeover's metadata databases: backup (with progress, force-stop and a checked
//! manifest), restore, verify, Flyway-style migrations under an advisory lock, and
//! data-update tasks, for PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! **Invariant:** no password is ever put on a command line, in a log, a manifest or an
//! error: targets print redacted, tools read credentials from 0600 files.

mod backup;
mod checksum;
mod conn;
mod data_update;
mod dump;
mod error;
mod manifest;
mod migration;
mod restore;
mod secret;
mod target;
mod tool;

pub use backup::{
    BackupItem, BackupItemView, BackupRequest, BackupSession, BackupStatus, PruneItemView,
    PruneStatement, PruneStatus, backup_database, backup_dir, backup_leaf, check_backup,
};
pub use checksum::{TableChecksum, table_checksums};
pub use data_update::{DataUpdateTask, DataUpdates, Progress, TaskKind, TaskRecord, TaskState};
pub use dump::{DumpOptions, PgFormat, REPLACED_PREFIX, RESTORE_PREFIX, finish_background_drops};
pub use error::Error;
pub use manifest::{BackupSet, DumpFile, MANIFEST_FILE, Manifest, PruneOutcome, list_backups};
pub use migration::{
    AppliedMigration, CRASH_BEFORE_RECORD, DEFAULT_LOCK_TIMEOUT, HISTORY_TABLE, HistoryEntry,
    MigrateOptions, Migration, MigrationReport, dry_run, history, migrate, pending,
};
pub use restore::{TableComparison, VerifyReport, restore, restore_set, verify};
pub use secret::Secret;
pub use target::{DbTarget, Engine, redact_url};
pub use tool::StopSignal;
