//! The `changeover_schema_history` table in the platform's database.

use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;

use super::Migration;
use crate::conn::{Conn, query_err};
use crate::error::Error;
use crate::target::{DbTarget, Engine};

/// Name of the history table.
pub const HISTORY_TABLE: &str = "changeover_schema_history";

/// One applied migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    /// RFC 3339, UTC.
    pub applied_at: String,
    pub execution_ms: i64,
    pub success: bool,
}

pub(crate) async fn ensure_table(conn: &mut Conn, target: &DbTarget) -> Result<(), Error> {
    let sql = match target.engine {
        Engine::Postgres => {
            "CREATE TABLE IF NOT EXISTS changeover_schema_history (version BIGINT PRIMARY KEY, \
             name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL, \
             execution_ms BIGINT NOT NULL, success BOOLEAN NOT NULL)"
        }
        Engine::Mysql => {
            "CREATE TABLE IF NOT EXISTS changeover_schema_history (version BIGINT PRIMARY KEY, \
             name VARCHAR(255) NOT NULL, checksum VARCHAR(64) NOT NULL, applied_at VARCHAR(40) NOT NULL, \
             execution_ms BIGINT NOT NULL, success BOOLEAN NOT NULL)"
        }
        Engine::Sqlite => {
            "CREATE TABLE IF NOT EXISTS changeover_schema_history (version INTEGER PRIMARY KEY, \
             name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL, \
             execution_ms INTEGER NOT NULL, success INTEGER NOT NULL)"
        }
    };
    conn.execute(sql)
        .await
        .map_err(query_err(target, "create the migration history table"))?;
    Ok(())
}

async fn table_exists(conn: &mut Conn, target: &DbTarget) -> Result<bool, Error> {
    let sql = match target.engine {
        Engine::Postgres => "SELECT to_regclass('changeover_schema_history')::text",
        Engine::Mysql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'changeover_schema_history'"
        }
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'changeover_schema_history'"
        }
    };
    Ok(conn
        .text(sql)
        .await
        .map_err(query_err(target, "look for the migration history"))?
        .is_some())
}

/// The history on an open connection (the table must exist).
pub(crate) async fn read_on(
    conn: &mut Conn,
    target: &DbTarget,
) -> Result<Vec<HistoryEntry>, Error> {
    let cast = |c: &str| match target.engine {
        Engine::Postgres => format!("{c}::text"),
        Engine::Mysql => format!("CAST({c} AS CHAR)"),
        Engine::Sqlite => format!("CAST({c} AS TEXT)"),
    };
    let sql = format!(
        "SELECT {}, name, checksum, applied_at, {}, {} FROM changeover_schema_history ORDER BY version",
        cast("version"),
        cast("execution_ms"),
        cast("success")
    );
    let rows = conn
        .text_rows(&sql)
        .await
        .map_err(query_err(target, "read the migration history"))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let col = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            HistoryEntry {
                version: col(0).parse().unwrap_or_default(),
                name: col(1),
                checksum: col(2),
                applied_at: col(3),
                execution_ms: col(4).parse().unwrap_or_default(),
                success: matches!(col(5).as_str(), "true" | "1" | "t"),
            }
        })
        .collect())
}

/// The history of `target`; empty when no migration was ever applied.
pub(crate) async fn read(target: &DbTarget) -> Result<Vec<HistoryEntry>, Error> {
    let mut conn = Conn::open(target).await?;
    let r = async {
        if table_exists(&mut conn, target).await? {
            read_on(&mut conn, target).await
        } else {
            Ok(Vec::new())
        }
    }
    .await;
    conn.close().await;
    r
}

pub(crate) async fn insert(
    conn: &mut Conn,
    target: &DbTarget,
    m: &Migration,
    execution_ms: i64,
) -> Result<(), Error> {
    let applied_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let sql = match target.engine {
        Engine::Postgres => {
            "INSERT INTO changeover_schema_history (version, name, checksum, applied_at, execution_ms, success) \
             VALUES ($1, $2, $3, $4, $5, TRUE)"
        }
        _ => {
            "INSERT INTO changeover_schema_history (version, name, checksum, applied_at, execution_ms, success) \
             VALUES (?, ?, ?, ?, ?, 1)"
        }
    };
    macro_rules! run {
        ($c:expr) => {
            sqlx::query(AssertSqlSafe(sql))
                .bind(m.version)
                .bind(&m.name)
                .bind(m.checksum())
                .bind(&applied_at)
                .bind(execution_ms)
                .execute($c)
                .await
        };
    }
    let r = match conn {
        Conn::Postgres(c) => run!(c).map(|_| ()),
        Conn::Mysql(c) => run!(c).map(|_| ()),
        Conn::Sqlite(c) => run!(c).map(|_| ()),
    };
    r.map_err(query_err(
        target,
        format!("record migration V{} in the history", m.version),
    ))
}
