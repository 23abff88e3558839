//! One connection to a metadata database, whatever its engine. Every query of this crate
//! goes through it so that errors name the (redacted) target and never a password.

use std::time::Duration;

use futures::TryStreamExt;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use crate::error::Error;
use crate::target::{DbTarget, Engine};

/// Busy timeout for SQLite connections (a concurrent writer waits this long).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) enum Conn {
    Postgres(PgConnection),
    Mysql(MySqlConnection),
    Sqlite(SqliteConnection),
}

impl Conn {
    /// Opens a connection; SQLite files are created if missing only when `create` is set.
    pub(crate) async fn open(target: &DbTarget) -> Result<Self, Error> {
        Self::open_with(target, false).await
    }

    pub(crate) async fn open_with(target: &DbTarget, create: bool) -> Result<Self, Error> {
        let fail = |e: sqlx::Error| Error::Connect {
            target: target.redacted(),
            message: target.scrub(&e.to_string()),
        };
        let pw = target.password.as_ref().map(|p| p.expose()).unwrap_or("");
        Ok(match target.engine {
            Engine::Postgres => {
                let mut o = PgConnectOptions::new_without_pgpass()
                    .host(&target.host)
                    .port(target.port)
                    .username(&target.user)
                    .database(&target.database)
                    .application_name("changeover");
                if target.password.is_some() {
                    o = o.password(pw);
                }
                Conn::Postgres(
                    o.disable_statement_logging()
                        .connect()
                        .await
                        .map_err(fail)?,
                )
            }
            Engine::Mysql => {
                let mut o = MySqlConnectOptions::new()
                    .host(&target.host)
                    .port(target.port)
                    .username(&target.user);
                if !target.database.is_empty() {
                    o = o.database(&target.database);
                }
                if target.password.is_some() {
                    o = o.password(pw);
                }
                Conn::Mysql(
                    o.disable_statement_logging()
                        .connect()
                        .await
                        .map_err(fail)?,
                )
            }
            Engine::Sqlite => {
                let o = SqliteConnectOptions::new()
                    .filename(&target.database)
                    .create_if_missing(create)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                Conn::Sqlite(
                    o.disable_statement_logging()
                        .connect()
                        .await
                        .map_err(fail)?,
                )
            }
        })
    }

    pub(crate) fn engine(&self) -> Engine {
        match self {
            Conn::Postgres(_) => Engine::Postgres,
            Conn::Mysql(_) => Engine::Mysql,
            Conn::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// Runs SQL text (possibly several statements) without parameters.
    pub(crate) async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        let q = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()));
        Ok(match self {
            Conn::Postgres(c) => q.execute(c).await?.rows_affected(),
            Conn::Mysql(c) => q.execute(c).await?.rows_affected(),
            Conn::Sqlite(c) => q.execute(c).await?.rows_affected(),
        })
    }

    /// Runs a query whose columns are all text (or NULL) and returns every row.
    pub(crate) async fn text_rows(
        &mut self,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
        let mut out = Vec::new();
        self.for_each_row(sql, |cols| {
            out.push(
                cols.into_iter()
                    .map(|c| c.map(|b| String::from_utf8_lossy(&b).into_owned()))
                    .collect(),
            );
        })
        .await?;
        Ok(out)
    }

    /// Streams the rows of a query whose columns are text or bytes, as raw bytes.
    pub(crate) async fn for_each_row(
        &mut self,
        sql: &str,
        mut f: impl FnMut(Vec<Option<Vec<u8>>>) + Send,
    ) -> Result<(), sqlx::Error> {
        match self {
            Conn::Postgres(c) => {
                let mut rows =
                    sqlx::query::<sqlx::Postgres>(AssertSqlSafe(sql.to_owned())).fetch(c);
                while let Some(row) = rows.try_next().await? {
                    let mut cols = Vec::with_capacity(row.len());
                    for i in 0..row.len() {
                        cols.push(row.try_get::<Option<String>, _>(i)?.map(String::into_bytes));
                    }
                    f(cols);
                }
            }
            Conn::Mysql(c) => {
                let mut rows = sqlx::query::<sqlx::MySql>(AssertSqlSafe(sql.to_owned())).fetch(c);
                while let Some(row) = rows.try_next().await? {
                    let mut cols = Vec::with_capacity(row.len());
                    for i in 0..row.len() {
                        cols.push(row.try_get_unchecked::<Option<Vec<u8>>, _>(i)?);
                    }
                    f(cols);
                }
            }
            Conn::Sqlite(c) => {
                let mut rows = sqlx::query::<sqlx::Sqlite>(AssertSqlSafe(sql.to_owned())).fetch(c);
                while let Some(row) = rows.try_next().await? {
                    let mut cols = Vec::with_capacity(row.len());
                    for i in 0..row.len() {
                        cols.push(row.try_get_unchecked::<Option<Vec<u8>>, _>(i)?);
                    }
                    f(cols);
                }
            }
        }
        Ok(())
    }

    /// First column of the first row as text.
    pub(crate) async fn text(&mut self, sql: &str) -> Result<Option<String>, sqlx::Error> {
        Ok(self
            .text_rows(sql)
            .await?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten()))
    }

    pub(crate) async fn close(self) {
        let _ = match self {
            Conn::Postgres(c) => c.close().await,
            Conn::Mysql(c) => c.close().await,
            Conn::Sqlite(c) => c.close().await,
        };
    }
}

/// Maps a driver error to [`Error::Query`] for `target`, scrubbing the password.
pub(crate) fn query_err(
    target: &DbTarget,
    what: impl Into<String>,
) -> impl FnOnce(sqlx::Error) -> Error {
    let target_s = target.redacted();
    let t = target.clone();
    let what = what.into();
    move |e| Error::Query {
        target: target_s,
        what,
        message: t.scrub(&e.to_string()),
    }
}

/// The server version string (`SHOW server_version`, `VERSION()`, `sqlite_version()`).
pub(crate) async fn server_version(conn: &mut Conn) -> Result<String, sqlx::Error> {
    let sql = match conn.engine() {
        Engine::Postgres => "SHOW server_version",
        Engine::Mysql => "SELECT CAST(VERSION() AS CHAR)",
        Engine::Sqlite => "SELECT sqlite_version()",
    };
    Ok(conn.text(sql).await?.unwrap_or_default())
}
