//! The migration lock: PostgreSQL session advisory lock and MySQL `GET_LOCK`, both polled
//! with a timeout and reported with their holder; SQLite relies on `BEGIN IMMEDIATE`.

use std::time::{Duration, Instant};

use crate::conn::{Conn, query_err};
use crate::error::Error;
use crate::target::{DbTarget, Engine};

/// Advisory lock keys (PostgreSQL two-int form, scoped to the database): "CHGO", 1.
const PG_KEY1: i32 = 0x4348_474F;
const PG_KEY2: i32 = 1;

pub(crate) enum LockGuard {
    Postgres,
    Mysql(String),
    Sqlite,
}

fn mysql_lock_name(target: &DbTarget) -> String {
    let mut n = format!("changeover_migrate:{}", target.database);
    n.truncate(64);
    n
}

/// Takes the migration lock, polling until `timeout`; on timeout names the holder.
pub(crate) async fn acquire(
    conn: &mut Conn,
    target: &DbTarget,
    timeout: Duration,
) -> Result<LockGuard, Error> {
    let (try_sql, holder_sql, guard, name) = match target.engine {
        Engine::Sqlite => return Ok(LockGuard::Sqlite),
        Engine::Postgres => (
            format!("SELECT pg_try_advisory_lock({PG_KEY1}, {PG_KEY2})::text"),
            format!(
                "SELECT 'pid ' || a.pid || ' (' || coalesce(nullif(a.application_name, ''), 'unnamed') || ' from ' \
                 || coalesce(a.client_addr::text, 'local socket') || ', connected since ' || a.backend_start::text || ')' \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {PG_KEY1} AND l.objid = {PG_KEY2} \
                 AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            LockGuard::Postgres,
            format!("pg_advisory_lock({PG_KEY1}, {PG_KEY2})"),
        ),
        Engine::Mysql => {
            let name = mysql_lock_name(target);
            let lit = name.replace('\'', "''");
            (
                format!("SELECT CAST(GET_LOCK('{lit}', 0) AS CHAR)"),
                format!(
                    "SELECT CAST(CONCAT('connection ', p.id, ' (', p.user, '@', p.host, ', ', p.command, \
                     ' for ', p.time, ' s)') AS CHAR) FROM information_schema.processlist p \
                     WHERE p.id = IS_USED_LOCK('{lit}')"
                ),
                LockGuard::Mysql(name.clone()),
                format!("GET_LOCK('{name}')"),
            )
        }
    };
    let started = Instant::now();
    let mut logged = false;
    loop {
        let got = conn
            .text(&try_sql)
            .await
            .map_err(query_err(target, "take the migration lock"))?;
        if matches!(got.as_deref(), Some("true" | "1")) {
            return Ok(guard);
        }
        let holder = conn
            .text(&holder_sql)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| "another session (it just ended?)".into());
        if !logged {
            tracing::info!(lock = %name, holder = %holder, target = %target, "waiting for the migration lock");
            logged = true;
        }
        if started.elapsed() >= timeout {
            return Err(Error::LockBusy {
                lock: name,
                target: target.redacted(),
                holder,
                waited_ms: started.elapsed().as_millis(),
            });
        }
        tokio::time::sleep(super::lock_poll()).await;
    }
}

/// Releases the lock; errors are logged (the session ending releases it anyway).
pub(crate) async fn release(conn: &mut Conn, guard: LockGuard) {
    let sql = match guard {
        LockGuard::Sqlite => return,
        LockGuard::Postgres => format!("SELECT pg_advisory_unlock({PG_KEY1}, {PG_KEY2})::text"),
        LockGuard::Mysql(name) => format!(
            "SELECT CAST(RELEASE_LOCK('{}') AS CHAR)",
            name.replace('\'', "''")
        ),
    };
    if let Err(e) = conn.text(&sql).await {
        tracing::warn!(error = %e, "could not release the migration lock; it ends with the session");
    }
}

/// Starts a transaction; on SQLite a busy database becomes [`Error::LockBusy`].
pub(crate) async fn begin(
    conn: &mut Conn,
    target: &DbTarget,
    begin: &str,
    timeout: Duration,
) -> Result<(), Error> {
    if target.engine == Engine::Sqlite {
        let ms = timeout.as_millis();
        conn.execute(&format!("PRAGMA busy_timeout = {ms}"))
            .await
            .map_err(query_err(target, "set busy timeout"))?;
    }
    let started = Instant::now();
    conn.execute(begin).await.map(|_| ()).map_err(|e| {
        let msg = e.to_string();
        if target.engine == Engine::Sqlite && (msg.contains("locked") || msg.contains("busy")) {
            Error::LockBusy {
                lock: "BEGIN IMMEDIATE".into(),
                target: target.redacted(),
                holder: "another writer of this SQLite file".into(),
                waited_ms: started.elapsed().as_millis(),
            }
        } else {
            query_err(target, "begin the migration transaction")(e)
        }
    })
}
