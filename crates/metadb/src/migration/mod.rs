//! Flyway-style migrations of a platform's metadata database: ordered, checksummed SQL
//! per engine, recorded in `changeover_schema_history`, applied under a lock so two
//! runners never apply the same migration, with a dry-run that leaves no trace.
//!
//! # Guarantees
//! - a migration already applied with another checksum is an error naming it;
//! - a failing migration is not recorded; on PostgreSQL and SQLite (transactional DDL)
//!   its changes are rolled back too;
//! - a second runner waits for the lock up to `lock_timeout`, then fails naming the holder;
//!   after getting the lock it re-reads the history, so nothing is applied twice.
//!
//! # Caveats
//! MySQL/MariaDB commit DDL implicitly: a migration failing halfway leaves what it did.

mod history;
mod lock;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::conn::{Conn, query_err};
use crate::error::Error;
use crate::target::{DbTarget, Engine};

pub use history::{HISTORY_TABLE, HistoryEntry};

/// How long a runner waits for another runner's lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);
/// Named crash point between applying a migration and recording it (tests; the
/// `failpoints` feature of the `fail` crate). Suffixed with `:<database>`.
pub const CRASH_BEFORE_RECORD: &str = "metadb::migration::before_record";
/// How often a waiting runner retries the lock.
const LOCK_POLL: Duration = Duration::from_millis(100);

/// One migration, with the SQL for the target's engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub sql: String,
}

impl Migration {
    pub fn new(version: i64, name: impl Into<String>, sql: impl Into<String>) -> Self {
        Self {
            version,
            name: name.into(),
            sql: sql.into(),
        }
    }

    /// Picks the SQL for `engine` from a bundle's per-engine map
    /// (`sql: { sqlite: …, postgres: …, mysql: … }`).
    pub fn for_engine(
        version: i64,
        name: &str,
        sql: &std::collections::BTreeMap<String, String>,
        engine: Engine,
    ) -> Result<Self, Error> {
        match sql.get(engine.as_str()) {
            Some(text) => Ok(Self::new(version, name, text.clone())),
            None => Err(Error::MigrationList {
                reason: format!(
                    "migration V{version} `{name}` has no SQL for {engine} (it has: {})",
                    sql.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }

    /// SHA-256 (hex) of the SQL text.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

/// Options of a migration run.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// How long to wait for another runner's lock before failing.
    pub lock_timeout: Duration,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self {
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

/// A migration applied by this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedMigration {
    pub version: i64,
    pub name: String,
    pub execution_ms: i64,
}

/// What a run did (or, for a dry-run, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationReport {
    pub applied: Vec<AppliedMigration>,
    /// Versions found already applied (checksums matched).
    pub already_applied: Vec<i64>,
    pub dry_run: bool,
}

fn validate_list(migrations: &[Migration]) -> Result<(), Error> {
    for w in migrations.windows(2) {
        if w[1].version <= w[0].version {
            return Err(Error::MigrationList {
                reason: format!(
                    "versions must increase strictly: V{} `{}` comes after V{} `{}`",
                    w[1].version, w[1].name, w[0].version, w[0].name
                ),
            });
        }
    }
    if let Some(m) = migrations
        .iter()
        .find(|m| m.name.trim().is_empty() || m.sql.trim().is_empty())
    {
        return Err(Error::MigrationList {
            reason: format!("V{} has an empty name or empty SQL", m.version),
        });
    }
    Ok(())
}

/// Checks the recorded history against the list; returns the first migration not applied.
fn next_pending<'a>(
    migrations: &'a [Migration],
    applied: &[HistoryEntry],
    already: &mut Vec<i64>,
) -> Result<Option<&'a Migration>, Error> {
    for m in migrations {
        match applied.iter().find(|h| h.version == m.version) {
            Some(h) if h.checksum != m.checksum() => {
                return Err(Error::MigrationChanged {
                    version: m.version,
                    name: m.name.clone(),
                    applied: h.checksum.clone(),
                    bundle: m.checksum(),
                });
            }
            Some(_) => {
                if !already.contains(&m.version) {
                    already.push(m.version);
                }
            }
            None => return Ok(Some(m)),
        }
    }
    Ok(None)
}

/// Applies every pending migration, in order, under the migration lock.
pub async fn migrate(
    target: &DbTarget,
    migrations: &[Migration],
    opts: &MigrateOptions,
) -> Result<MigrationReport, Error> {
    validate_list(migrations)?;
    let mut conn = Conn::open_with(target, target.engine == Engine::Sqlite).await?;
    let r = migrate_on(&mut conn, target, migrations, opts).await;
    conn.close().await;
    r
}

async fn migrate_on(
    conn: &mut Conn,
    target: &DbTarget,
    migrations: &[Migration],
    opts: &MigrateOptions,
) -> Result<MigrationReport, Error> {
    let guard = lock::acquire(conn, target, opts.lock_timeout).await?;
    let result = async {
        history::ensure_table(conn, target).await?;
        let mut report = MigrationReport {
            applied: Vec::new(),
            already_applied: Vec::new(),
            dry_run: false,
        };
        loop {
            // SQLite: the write lock is the transaction itself, taken before reading history.
            let begin = match target.engine {
                Engine::Sqlite => "BEGIN IMMEDIATE",
                Engine::Postgres => "BEGIN",
                Engine::Mysql => "",
            };
            if !begin.is_empty() {
                lock::begin(conn, target, begin, opts.lock_timeout).await?;
            }
            let applied = match history::read_on(conn, target).await {
                Ok(a) => a,
                Err(e) => {
                    rollback(conn, target).await;
                    return Err(e);
                }
            };
            let next = match next_pending(migrations, &applied, &mut report.already_applied) {
                Ok(Some(m)) => m,
                Ok(None) => {
                    rollback(conn, target).await;
                    let applied_now: Vec<i64> = report.applied.iter().map(|a| a.version).collect();
                    report.already_applied.retain(|v| !applied_now.contains(v));
                    return Ok(report);
                }
                Err(e) => {
                    rollback(conn, target).await;
                    return Err(e);
                }
            };
            let started = Instant::now();
            tracing::info!(version = next.version, name = %next.name, target = %target, "applying migration");
            if let Err(e) = conn.execute(&next.sql).await {
                rollback(conn, target).await;
                return Err(Error::MigrationFailed {
                    version: next.version,
                    name: next.name.clone(),
                    target: target.redacted(),
                    message: target.scrub(&e.to_string()),
                });
            }
            let execution_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            // Crash point between the migration and its history row, per database:
            // `metadb::migration::before_record:<database>`.
            fail::fail_point!(&format!("{CRASH_BEFORE_RECORD}:{}", target.database), |_| {
                Err(Error::MigrationFailed {
                    version: next.version,
                    name: next.name.clone(),
                    target: target.redacted(),
                    message: format!("crash point {CRASH_BEFORE_RECORD}"),
                })
            });
            history::insert(conn, target, next, execution_ms).await?;
            if !begin.is_empty() {
                conn.execute("COMMIT").await.map_err(query_err(target, "commit migration"))?;
            }
            tracing::info!(version = next.version, name = %next.name, execution_ms, "migration applied");
            report.applied.push(AppliedMigration {
                version: next.version,
                name: next.name.clone(),
                execution_ms,
            });
        }
    }
    .await;
    lock::release(conn, guard).await;
    result
}

async fn rollback(conn: &mut Conn, target: &DbTarget) {
    if target.engine != Engine::Mysql {
        let _ = conn.execute("ROLLBACK").await;
    }
}

/// Applies the pending migrations and undoes them: PostgreSQL and SQLite inside one
/// transaction rolled back; MySQL/MariaDB on a scratch copy of the schema, dropped after.
/// Leaves no trace in `target` (not even the history table).
pub async fn dry_run(
    target: &DbTarget,
    migrations: &[Migration],
    opts: &MigrateOptions,
) -> Result<MigrationReport, Error> {
    validate_list(migrations)?;
    match target.engine {
        Engine::Mysql => dry_run_mysql(target, migrations, opts).await,
        _ => {
            let mut conn = Conn::open(target).await?;
            let r = dry_run_transactional(&mut conn, target, migrations, opts).await;
            conn.close().await;
            r
        }
    }
}

async fn dry_run_transactional(
    conn: &mut Conn,
    target: &DbTarget,
    migrations: &[Migration],
    opts: &MigrateOptions,
) -> Result<MigrationReport, Error> {
    let guard = lock::acquire(conn, target, opts.lock_timeout).await?;
    let begin = if target.engine == Engine::Sqlite {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    };
    let result = async {
        lock::begin(conn, target, begin, opts.lock_timeout).await?;
        history::ensure_table(conn, target).await?;
        let applied = history::read_on(conn, target).await?;
        let mut report = MigrationReport {
            applied: Vec::new(),
            already_applied: Vec::new(),
            dry_run: true,
        };
        apply_in_order(conn, target, migrations, &applied, &mut report).await?;
        Ok(report)
    }
    .await;
    rollback(conn, target).await;
    lock::release(conn, guard).await;
    result
}

/// Applies every pending migration without recording history (dry-runs).
async fn apply_in_order(
    conn: &mut Conn,
    target: &DbTarget,
    migrations: &[Migration],
    applied: &[HistoryEntry],
    report: &mut MigrationReport,
) -> Result<(), Error> {
    for m in migrations {
        if next_pending(
            std::slice::from_ref(m),
            applied,
            &mut report.already_applied,
        )?
        .is_none()
        {
            continue;
        }
        let started = Instant::now();
        conn.execute(&m.sql)
            .await
            .map_err(|e| Error::MigrationFailed {
                version: m.version,
                name: m.name.clone(),
                target: target.redacted(),
                message: target.scrub(&e.to_string()),
            })?;
        report.applied.push(AppliedMigration {
            version: m.version,
            name: m.name.clone(),
            execution_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        });
    }
    Ok(())
}

async fn dry_run_mysql(
    target: &DbTarget,
    migrations: &[Migration],
    opts: &MigrateOptions,
) -> Result<MigrationReport, Error> {
    let applied = history::read(target).await?;
    let suffix: u64 = rand::random();
    let scratch = target.with_database(&format!("changeover_dryrun_{suffix:016x}"));
    let work = tempfile::tempdir()
        .map_err(|e| Error::io("create work directory in", std::env::temp_dir(), e))?;
    let result = async {
        crate::dump::copy_mysql_schema(target, &scratch, work.path()).await?;
        let mut conn = Conn::open(&scratch).await?;
        let mut report = MigrationReport {
            applied: Vec::new(),
            already_applied: Vec::new(),
            dry_run: true,
        };
        let r = apply_in_order(&mut conn, &scratch, migrations, &applied, &mut report).await;
        conn.close().await;
        r.map(|()| report)
    }
    .await;
    if let Err(e) = crate::dump::drop_database(&scratch).await {
        tracing::warn!(scratch = %scratch, error = %e, "could not drop the dry-run scratch database");
    }
    let _ = opts;
    result.map_err(|e| match e {
        Error::MigrationFailed {
            version,
            name,
            message,
            ..
        } => Error::MigrationFailed {
            version,
            name,
            target: format!(
                "{} (dry-run on a scratch copy of the schema)",
                target.redacted()
            ),
            message,
        },
        other => other,
    })
}

/// The recorded history of `target` (empty when the table does not exist).
pub async fn history(target: &DbTarget) -> Result<Vec<HistoryEntry>, Error> {
    history::read(target).await
}

/// Migrations of the list not yet applied (checksums of applied ones are checked).
pub async fn pending(target: &DbTarget, migrations: &[Migration]) -> Result<Vec<Migration>, Error> {
    validate_list(migrations)?;
    let applied = history::read(target).await?;
    let mut out = Vec::new();
    for m in migrations {
        match applied.iter().find(|h| h.version == m.version) {
            Some(h) if h.checksum != m.checksum() => {
                return Err(Error::MigrationChanged {
                    version: m.version,
                    name: m.name.clone(),
                    applied: h.checksum.clone(),
                    bundle: m.checksum(),
                });
            }
            Some(_) => {}
            None => out.push(m.clone()),
        }
    }
    Ok(out)
}

/// Poll interval for locks, shared with [`lock`].
pub(crate) fn lock_poll() -> Duration {
    LOCK_POLL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_sql_of_the_engine_or_names_what_is_missing() {
        let map: std::collections::BTreeMap<String, String> =
            [("sqlite".to_owned(), "SELECT 1".to_owned())]
                .into_iter()
                .collect();
        let m = Migration::for_engine(2, "add_owner", &map, Engine::Sqlite).unwrap();
        assert_eq!((m.version, m.sql.as_str()), (2, "SELECT 1"));
        let e = Migration::for_engine(2, "add_owner", &map, Engine::Mysql)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("V2 `add_owner` has no SQL for mysql (it has: sqlite)"),
            "{e}"
        );
    }

    #[test]
    fn a_changed_checksum_is_detected_without_a_database() {
        let m = Migration::new(1, "a", "SELECT 1");
        let h = HistoryEntry {
            version: 1,
            name: "a".into(),
            checksum: "other".into(),
            applied_at: String::new(),
            execution_ms: 0,
            success: true,
        };
        let err = next_pending(std::slice::from_ref(&m), &[h], &mut Vec::new()).unwrap_err();
        assert!(matches!(err, Error::MigrationChanged { version: 1, .. }));
    }
}
