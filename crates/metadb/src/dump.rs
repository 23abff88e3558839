//! Per-engine dump, structural check and load: `pg_dump -Fc`/`-Fd` / `pg_restore`,
//! `mariadb-dump` / `mariadb`, SQLite `VACUUM INTO` / file copy. A PostgreSQL load goes
//! into a scratch database swapped into place by rename; the replaced database is dropped
//! in the background (see [`REPLACED_PREFIX`]).

use std::path::Path;

use crate::conn::{Conn, query_err};
use crate::error::Error;
use crate::target::{DbTarget, Engine, quote_ident};
use crate::tool::{self, Credentials, StopSignal, ToolObserver, TraceObserver};

/// The trailer every complete `mariadb-dump`/`mysqldump` file ends with.
const MYSQL_DUMP_TRAILER: &str = "-- Dump completed";
/// Bytes read from the end of a MySQL dump to find its trailer.
const MYSQL_TRAILER_WINDOW: u64 = 4096;

/// Options of a dump.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// MySQL/MariaDB: dump triggers (seed 003 turns them off).
    pub triggers: bool,
    /// PostgreSQL: parallel jobs for `pg_restore -j`.
    pub jobs: u32,
    /// PostgreSQL: the dump's format (custom, or directory with parallel dump jobs).
    pub pg_format: PgFormat,
}

impl Default for DumpOptions {
    fn default() -> Self {
        Self {
            triggers: true,
            jobs: 2,
            pg_format: PgFormat::Custom,
        }
    }
}

/// The format of a PostgreSQL dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PgFormat {
    /// `pg_dump --format=custom`: one file, `<database>.dump`.
    #[default]
    Custom,
    /// `pg_dump --format=directory --jobs N`: a directory `<database>.dir` with one file
    /// per table, dumped by `jobs` parallel connections; the manifest lists every file's
    /// size and SHA-256.
    Directory { jobs: u32 },
}

impl DumpOptions {
    /// Whether a dump of `engine` with these options is a directory.
    pub(crate) fn directory(&self, engine: Engine) -> bool {
        engine == Engine::Postgres && matches!(self.pg_format, PgFormat::Directory { .. })
    }
}

/// The dump program for an engine: `mariadb-dump` if present, else `mysqldump`.
pub(crate) fn dump_tool(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "pg_dump",
        Engine::Mysql if on_path("mariadb-dump") => "mariadb-dump",
        Engine::Mysql => "mysqldump",
        Engine::Sqlite => "sqlite VACUUM INTO",
    }
}

fn client_tool() -> &'static str {
    if on_path("mariadb") {
        "mariadb"
    } else {
        "mysql"
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Writes a dump of `target` to `out`. Returns the tool used, and the dump's SHA-256 when
/// it was hashed on the way (MySQL: the dump is the tool's standard output).
pub(crate) async fn dump(
    target: &DbTarget,
    out: &Path,
    opts: &DumpOptions,
    observer: &dyn ToolObserver,
    stop: &StopSignal,
) -> Result<(&'static str, Option<String>), Error> {
    let mut sha256 = None;
    let program = dump_tool(target.engine);
    match target.engine {
        Engine::Postgres => {
            let cred = Credentials::write(target)?;
            let mut cmd = cred.command(program, target);
            match opts.pg_format {
                PgFormat::Custom => cmd.arg("--format=custom"),
                PgFormat::Directory { jobs } => cmd
                    .args(["--format=directory", "--jobs"])
                    .arg(jobs.max(1).to_string()),
            };
            cmd.args(["--verbose", "--file"])
                .arg(out)
                .arg("--dbname")
                .arg(&target.database);
            tool::run(program, target, cmd, Some(out), observer, Some(stop)).await?;
        }
        Engine::Mysql => {
            let cred = Credentials::write(target)?;
            let mut cmd = cred.command(program, target);
            cmd.args([
                "--single-transaction",
                "--routines",
                "--events",
                "--no-tablespaces",
                "--verbose",
            ])
            .arg(if opts.triggers {
                "--triggers"
            } else {
                "--skip-triggers"
            })
            .arg(format!("--result-file={}", out.display()))
            .arg(&target.database);
            sha256 =
                Some(tool::run_hashing(program, target, cmd, out, observer, Some(stop)).await?);
        }
        Engine::Sqlite => {
            let mut conn = Conn::open(target).await?;
            let lit = out.to_string_lossy().replace('\'', "''");
            let sql = format!("VACUUM INTO '{lit}'");
            let work = conn.execute(&sql);
            tokio::select! {
                r = work => r.map_err(query_err(target, "VACUUM INTO"))?,
                _ = stop.stopped() => return Err(Error::Stopped { database: target.redacted() }),
            };
            conn.close().await;
            // VACUUM INTO does not sync the copy it writes.
            std::fs::File::open(out)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io("sync", out, e))?;
            observer.bytes(tool::output_size(out));
        }
    }
    Ok((program, sha256))
}

/// Checks that a dump file is structurally complete. `Err` holds the reason.
///
/// PostgreSQL: `full` renders the whole archive to /dev/null, reading every data block,
/// so a cut-off file fails (used before a restore); otherwise `pg_restore --list` reads
/// the table of contents (used right after `pg_dump` exited successfully).
pub(crate) async fn check_structure(engine: Engine, path: &Path, full: bool) -> Result<(), String> {
    match engine {
        Engine::Postgres => {
            let mode = if full { "--file=/dev/null" } else { "--list" };
            let out = tokio::process::Command::new("pg_restore")
                .arg(mode)
                .arg(path)
                .stdout(std::process::Stdio::null())
                .output()
                .await
                .map_err(|e| format!("cannot run pg_restore: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                let err = String::from_utf8_lossy(&out.stderr);
                Err(format!(
                    "pg_restore cannot read it through (truncated or corrupt): {}",
                    err.trim()
                ))
            }
        }
        Engine::Mysql => {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
            let len = f.metadata().map_err(|e| e.to_string())?.len();
            f.seek(SeekFrom::Start(len.saturating_sub(MYSQL_TRAILER_WINDOW)))
                .map_err(|e| e.to_string())?;
            let mut tail = Vec::new();
            f.read_to_end(&mut tail).map_err(|e| e.to_string())?;
            let tail = String::from_utf8_lossy(&tail);
            let last = tail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            if last.starts_with(MYSQL_DUMP_TRAILER) {
                Ok(())
            } else {
                Err(format!(
                    "its last line is not `{MYSQL_DUMP_TRAILER} …` (truncated)"
                ))
            }
        }
        Engine::Sqlite => {
            let copy = DbTarget::sqlite(path);
            let mut conn = Conn::open(&copy).await.map_err(|e| e.to_string())?;
            let r = conn.text("PRAGMA integrity_check").await;
            conn.close().await;
            match r {
                Ok(Some(s)) if s == "ok" => Ok(()),
                Ok(other) => Err(format!(
                    "PRAGMA integrity_check says {}",
                    other.unwrap_or_default()
                )),
                Err(e) => Err(format!("not a readable SQLite file: {e}")),
            }
        }
    }
}

/// The server-level target used to create and drop databases.
fn admin(target: &DbTarget) -> DbTarget {
    match target.engine {
        Engine::Postgres => target.with_database("postgres"),
        _ => target.with_database(""),
    }
}

/// Drops `target`'s database if it exists (PostgreSQL: ends its sessions first).
pub(crate) async fn drop_database(target: &DbTarget) -> Result<(), Error> {
    match target.engine {
        Engine::Sqlite => {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let p = format!("{}{suffix}", target.database);
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("remove", p, e)),
                }
            }
            Ok(())
        }
        engine => {
            let mut conn = Conn::open(&admin(target)).await?;
            let name = quote_ident(engine, &target.database);
            let sql = match engine {
                Engine::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {name}"),
            };
            let r = conn
                .execute(&sql)
                .await
                .map_err(query_err(target, "drop database"));
            conn.close().await;
            r.map(|_| ())
        }
    }
}

/// Creates `target`'s (absent) database.
pub(crate) async fn create_database(target: &DbTarget) -> Result<(), Error> {
    match target.engine {
        Engine::Sqlite => Ok(()),
        engine => {
            let mut conn = Conn::open(&admin(target)).await?;
            let sql = format!("CREATE DATABASE {}", quote_ident(engine, &target.database));
            let r = conn
                .execute(&sql)
                .await
                .map_err(query_err(target, "create database"));
            conn.close().await;
            r.map(|_| ())
        }
    }
}

/// What the dump does not carry and a restore keeps: the database's owner (PostgreSQL) or
/// its default character set and collation (MySQL), as a `CREATE DATABASE` suffix.
async fn kept_settings(target: &DbTarget) -> Result<String, Error> {
    let lit = target.database.replace('\'', "''");
    let (query, what) = match target.engine {
        Engine::Postgres => (
            format!(
                "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = '{lit}'"
            ),
            "read the database owner",
        ),
        Engine::Mysql => (
            format!(
                "SELECT CAST(CONCAT('CHARACTER SET ', default_character_set_name, ' COLLATE ', default_collation_name) AS CHAR) \
                 FROM information_schema.schemata WHERE schema_name = '{lit}'"
            ),
            "read the database character set",
        ),
        Engine::Sqlite => return Ok(String::new()),
    };
    let mut conn = Conn::open(&admin(target)).await?;
    let kept = conn.text(&query).await.map_err(query_err(target, what));
    conn.close().await;
    Ok(match (target.engine, kept?) {
        (Engine::Postgres, Some(owner)) if owner != target.user => {
            format!(" OWNER {}", quote_ident(Engine::Postgres, &owner))
        }
        (Engine::Mysql, Some(charset))
            if charset
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ') =>
        {
            format!(" {charset}")
        }
        _ => String::new(),
    })
}

/// Creates `target`'s (absent) database with `settings` from [`kept_settings`].
async fn create_database_with(target: &DbTarget, settings: &str) -> Result<(), Error> {
    let name = quote_ident(target.engine, &target.database);
    let mut conn = Conn::open(&admin(target)).await?;
    let r = conn
        .execute(&format!("CREATE DATABASE {name}{settings}"))
        .await
        .map_err(query_err(target, "create database"));
    conn.close().await;
    r.map(|_| ())
}

/// Drops and creates `target`'s database again, keeping what the dump does not carry.
async fn recreate_database(target: &DbTarget) -> Result<(), Error> {
    let settings = kept_settings(target).await?;
    drop_database(target).await?;
    create_database_with(target, &settings).await
}

/// A backup loaded as far as it can be without touching its target: for PostgreSQL the
/// whole restore into a scratch database (`changeover_restore_<random>`) that
/// [`Staged::commit`] renames into place; for SQLite a copy next to the target file; for
/// MySQL nothing yet (its dump replaces the database as it loads).
pub(crate) struct Staged {
    target: DbTarget,
    stage: Stage,
}

enum Stage {
    Sqlite(std::path::PathBuf),
    /// The scratch database, and the session whose advisory lock marks it as in use.
    Postgres(DbTarget, Conn),
    Mysql(std::path::PathBuf),
}

/// Stages a dump for `target` (see [`Staged`]) once `check` (the checks of the dump)
/// succeeded. For PostgreSQL the scratch database is created and loaded while `check`
/// runs (neither touches the target); a failed `check` stops the load, and its error is
/// the one returned. On error nothing is left behind and `target` is untouched.
pub(crate) async fn stage(
    target: &DbTarget,
    file: &Path,
    opts: &DumpOptions,
    check: impl std::future::Future<Output = Result<(), Error>>,
) -> Result<Staged, Error> {
    let stage = match target.engine {
        Engine::Sqlite => {
            check.await?;
            let tmp = target.sqlite_path().with_extension("changeover-restore");
            tokio::fs::copy(file, &tmp)
                .await
                .map_err(|e| Error::io("copy backup to", &tmp, e))?;
            Stage::Sqlite(tmp)
        }
        Engine::Postgres => {
            drop_leftover_replaced(target);
            let suffix = format!("{:016x}", rand::random::<u64>());
            let scratch = target.with_database(&format!("{RESTORE_PREFIX}{suffix}"));
            // Held until the scratch database is in place or dropped: a crash releases it
            // with the session, which tells the next backup or restore the scratch is left.
            let lock = lock_scratch(target, &suffix).await?;
            let started = std::time::Instant::now();
            // The checks of the dump run while it loads into the scratch database (which
            // the target does not see); a failed check kills pg_restore.
            let stop = StopSignal::default();
            let checked = async {
                let r = check.await;
                tracing::debug!(
                    elapsed_ms = elapsed_ms(started),
                    ok = r.is_ok(),
                    "restore: dump checked"
                );
                if r.is_err() {
                    stop.stop();
                }
                r
            };
            let loaded = async {
                let settings = kept_settings(target).await?;
                create_database_with(&scratch, &settings).await?;
                tracing::debug!(elapsed_ms = elapsed_ms(started), scratch = %scratch, "restore: scratch database created");
                let cred = Credentials::write(&scratch)?;
                let mut cmd = cred.command("pg_restore", &scratch);
                cmd.args(["--exit-on-error", "--jobs"])
                    .arg(opts.jobs.max(1).to_string())
                    .arg("--dbname")
                    .arg(&scratch.database)
                    .arg(file);
                let r = tool::run(
                    "pg_restore",
                    &scratch,
                    cmd,
                    None,
                    &TraceObserver("pg_restore"),
                    Some(&stop),
                )
                .await
                .map_err(|e| Error::RestoreFailed {
                    path: file.to_owned(),
                    target: target.redacted(),
                    reason: e.to_string(),
                });
                tracing::debug!(
                    elapsed_ms = elapsed_ms(started),
                    ok = r.is_ok(),
                    "restore: pg_restore into the scratch database ended"
                );
                r
            };
            let (checked, loaded) = tokio::join!(checked, loaded);
            if (checked.is_err() || loaded.is_err())
                && let Err(d) = drop_database(&scratch).await
            {
                tracing::warn!(scratch = %scratch, error = %d, "could not drop the scratch database");
            }
            // A dump that fails its checks is reported as such, even if pg_restore also
            // failed on it (or was killed because of it).
            checked?;
            loaded?;
            Stage::Postgres(scratch, lock)
        }
        Engine::Mysql => {
            check.await?;
            Stage::Mysql(file.to_owned())
        }
    };
    Ok(Staged {
        target: target.clone(),
        stage,
    })
}

impl Staged {
    /// Replaces the target's content with the staged backup.
    pub(crate) async fn commit(self) -> Result<(), Error> {
        let target = &self.target;
        match &self.stage {
            Stage::Sqlite(tmp) => {
                let dest = target.sqlite_path();
                drop_database(target).await?;
                tokio::fs::rename(tmp, &dest)
                    .await
                    .map_err(|e| Error::io("rename into", &dest, e))
            }
            Stage::Postgres(scratch, _lock) => match swap_into_place(target, scratch).await {
                Ok(replaced) => {
                    if let Some(replaced) = replaced {
                        drop_in_background(replaced);
                    }
                    Ok(())
                }
                Err(e) => {
                    // Neither rename happened: the target is as it was.
                    if let Err(d) = drop_database(scratch).await {
                        tracing::warn!(scratch = %scratch, error = %d, "could not drop the scratch database");
                    }
                    Err(e)
                }
            },
            Stage::Mysql(file) => {
                recreate_database(target).await?;
                let cred = Credentials::write(target)?;
                let program = client_tool();
                let mut cmd = cred.command(program, target);
                cmd.arg(&target.database);
                let input = std::fs::File::open(file).map_err(|e| Error::io("open", file, e))?;
                cmd.stdin(input);
                tool::run(program, target, cmd, None, &TraceObserver(program), None).await
            }
        }
    }

    /// Removes what [`stage`] made, leaving the target as it was.
    pub(crate) async fn discard(self) {
        match &self.stage {
            Stage::Sqlite(tmp) => {
                let _ = std::fs::remove_file(tmp);
            }
            Stage::Postgres(scratch, _lock) => {
                if let Err(e) = drop_database(scratch).await {
                    tracing::warn!(scratch = %scratch, error = %e, "could not drop the scratch database");
                }
            }
            Stage::Mysql(_) => {}
        }
    }
}

/// Prefix of a database a PostgreSQL restore replaced. The old database is renamed to it
/// (plus 16 hex digits) in the same transaction that renames the restored copy into place,
/// so a database with this name is only ever an old copy: it is dropped in the background,
/// and one left behind by a crash is dropped by the next backup or restore on the same
/// server.
pub const REPLACED_PREFIX: &str = "changeover_replaced_";
/// Prefix of the scratch database a PostgreSQL restore loads into (plus 16 hex digits).
/// While a restore uses it, a session on the server's `postgres` database holds the
/// advisory lock `(RESTORE_LOCK_CLASS, the suffix's low 32 bits)`.
pub const RESTORE_PREFIX: &str = "changeover_restore_";
/// First key of the restore scratch locks ("CHRS").
const RESTORE_LOCK_CLASS: i32 = 0x4348_5253;

/// The second key of the lock of the scratch database with this 16-hex-digit suffix.
fn scratch_lock_key(suffix: &str) -> Option<i32> {
    let low = u32::from_str_radix(suffix.get(8..16)?, 16).ok()?;
    Some(i32::from_ne_bytes(low.to_ne_bytes()))
}

/// A session on `target`'s server holding the lock of the scratch database `suffix`.
async fn lock_scratch(target: &DbTarget, suffix: &str) -> Result<Conn, Error> {
    let server = admin(target);
    let key = scratch_lock_key(suffix).unwrap_or_default();
    let mut conn = Conn::open(&server).await?;
    conn.execute(&format!(
        "SELECT pg_advisory_lock({RESTORE_LOCK_CLASS}, {key})"
    ))
    .await
    .map_err(query_err(&server, "lock the restore's scratch database"))?;
    Ok(conn)
}
/// How many times the swap is tried while sessions keep reconnecting to the target.
const SWAP_ATTEMPTS: u32 = 5;
/// SQLSTATE `object_in_use`: the database still has sessions.
const OBJECT_IN_USE: &str = "55006";

fn elapsed_ms(since: std::time::Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Renames `target` (if it exists) to `changeover_replaced_<random>` and `scratch` to
/// `target` in one transaction, after ending the target's sessions. Returns the replaced
/// database. Either both renames happen or neither does.
async fn swap_into_place(target: &DbTarget, scratch: &DbTarget) -> Result<Option<DbTarget>, Error> {
    let pg = Engine::Postgres;
    let replaced =
        target.with_database(&format!("{REPLACED_PREFIX}{:016x}", rand::random::<u64>()));
    let (t, s, r) = (
        quote_ident(pg, &target.database),
        quote_ident(pg, &scratch.database),
        quote_ident(pg, &replaced.database),
    );
    let lit = target.database.replace('\'', "''");
    let started = std::time::Instant::now();
    let mut conn = Conn::open(&admin(target)).await?;
    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        let exists = match conn
            .text(&format!(
                "SELECT datname::text FROM pg_database WHERE datname = '{lit}'"
            ))
            .await
        {
            Ok(v) => v.is_some(),
            Err(e) => break Err(query_err(target, "look up the database")(e)),
        };
        let sql = if exists {
            // The rename waits up to 5 s for the ended sessions to go; a session that
            // connects in between makes it fail with `object_in_use`, and it is tried again.
            let end = format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{lit}' AND pid <> pg_backend_pid()"
            );
            if let Err(e) = conn.execute(&end).await {
                break Err(query_err(target, "end the sessions of the database")(e));
            }
            format!(
                "BEGIN; ALTER DATABASE {t} RENAME TO {r}; ALTER DATABASE {s} RENAME TO {t}; COMMIT"
            )
        } else {
            format!("ALTER DATABASE {s} RENAME TO {t}")
        };
        match conn.execute(&sql).await {
            Ok(_) => break Ok(exists.then(|| replaced.clone())),
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                let in_use = e
                    .as_database_error()
                    .and_then(|d| d.code())
                    .is_some_and(|c| c == OBJECT_IN_USE);
                if !(in_use && attempt < SWAP_ATTEMPTS) {
                    break Err(query_err(target, "rename the restored database into place")(e));
                }
                tracing::info!(target = %target, attempt, "the database still has sessions; trying the swap again");
            }
        }
    };
    conn.close().await;
    tracing::debug!(
        elapsed_ms = elapsed_ms(started),
        ok = outcome.is_ok(),
        "restore: restored database renamed into place"
    );
    outcome
}

/// Drops of replaced databases still running (see [`finish_background_drops`]).
static BACKGROUND_DROPS: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

/// Drops `replaced` in a task of its own: the restore it belongs to is complete without
/// it (PostgreSQL's `DROP DATABASE` forces a checkpoint, which writes out the restored
/// data; that is not the restore's to wait for).
fn drop_in_background(replaced: DbTarget) {
    let task = tokio::spawn(async move {
        let started = std::time::Instant::now();
        match drop_database(&replaced).await {
            Ok(()) => {
                tracing::info!(database = %replaced, elapsed_ms = elapsed_ms(started), "dropped the replaced database")
            }
            Err(e) => tracing::warn!(
                database = %replaced,
                error = %e,
                "could not drop the replaced database; the next backup or restore on this server drops it"
            ),
        }
    });
    let mut running = BACKGROUND_DROPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    running.retain(|t| !t.is_finished());
    running.push(task);
}

/// Waits for the replaced databases this process is dropping in the background. A
/// process that exits without it leaves at worst a `changeover_replaced_*` database, which
/// the next backup or restore on that server drops.
pub async fn finish_background_drops() {
    // A look-up for leftovers adds drops of its own while it runs: repeat until none is left.
    loop {
        let running = std::mem::take(
            &mut *BACKGROUND_DROPS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if running.is_empty() {
            return;
        }
        for task in running {
            let _ = task.await;
        }
    }
}

/// Drops, in the background, every `changeover_replaced_<16 hex digits>` database on
/// `target`'s server (old copies left by a restore that was interrupted before its drop),
/// and every `changeover_restore_<16 hex digits>` scratch database whose lock no session
/// holds (its restore ended without cleaning up). Run at the start of every PostgreSQL
/// backup and restore.
pub(crate) fn drop_leftover_replaced(target: &DbTarget) {
    let server = admin(target);
    let task = tokio::spawn(async move {
        let query = format!(
            "SELECT datname::text FROM pg_database WHERE datname ~ '^({REPLACED_PREFIX}|{RESTORE_PREFIX})[0-9a-f]{{16}}$'"
        );
        let names = match Conn::open(&server).await {
            Ok(mut conn) => {
                let rows = conn.text_rows(&query).await;
                conn.close().await;
                rows.map_err(query_err(&server, "list replaced databases"))
            }
            Err(e) => Err(e),
        };
        match names {
            Ok(rows) => {
                for name in rows
                    .into_iter()
                    .filter_map(|r| r.into_iter().next().flatten())
                {
                    if let Some(suffix) = name.strip_prefix(RESTORE_PREFIX) {
                        drop_left_scratch(&server, &name, suffix).await;
                        continue;
                    }
                    tracing::info!(database = %name, "dropping a replaced database left by an earlier restore");
                    drop_in_background(server.with_database(&name));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not look for replaced databases left by an earlier restore")
            }
        }
    });
    BACKGROUND_DROPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(task);
}

/// Drops the scratch database `name` if no restore holds its lock (its restore crashed).
async fn drop_left_scratch(server: &DbTarget, name: &str, suffix: &str) {
    let Some(key) = scratch_lock_key(suffix) else {
        return;
    };
    let mut conn = match Conn::open(server).await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(database = %name, error = %e, "could not check a restore's scratch database");
            return;
        }
    };
    let free = conn
        .text_rows(&format!(
            "SELECT pg_try_advisory_lock({RESTORE_LOCK_CLASS}, {key})::text"
        ))
        .await
        .ok()
        .and_then(|rows| rows.into_iter().next()?.into_iter().next()?)
        .is_some_and(|v| v == "true");
    if free {
        tracing::info!(database = %name, "dropping the scratch database of a restore that did not finish");
        if let Err(e) = drop_database(&server.with_database(name)).await {
            tracing::warn!(database = %name, error = %e, "could not drop a left scratch database");
        }
    }
    // Closing the session releases the lock taken above.
    conn.close().await;
}

/// Copies only the schema of a MySQL database into another (for dry-run migrations).
pub(crate) async fn copy_mysql_schema(
    from: &DbTarget,
    to: &DbTarget,
    work: &Path,
) -> Result<(), Error> {
    let file = work.join("schema.sql");
    let program = dump_tool(Engine::Mysql);
    let cred = Credentials::write(from)?;
    let mut cmd = cred.command(program, from);
    cmd.args(["--no-data", "--routines", "--triggers", "--skip-comments"])
        .arg(format!("--result-file={}", file.display()))
        .arg(&from.database);
    tool::run(program, from, cmd, None, &TraceObserver(program), None).await?;
    create_database(to).await?;
    let cred = Credentials::write(to)?;
    let mut cmd = cred.command(client_tool(), to);
    cmd.arg(&to.database)
        .stdin(std::fs::File::open(&file).map_err(|e| Error::io("open", &file, e))?);
    tool::run(
        client_tool(),
        to,
        cmd,
        None,
        &TraceObserver("mariadb"),
        None,
    )
    .await
}
