//! The two SQL engines: URL parsing, placeholders and casts.

use crate::error::MigrateError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    MySql,
}

impl Engine {
    /// The engine of a database URL, and the URL in the form sqlx accepts.
    pub fn of_url(url: &str) -> Result<(Engine, String), MigrateError> {
        let (scheme, rest) = url.split_once("://").ok_or(MigrateError::BadUrl {
            reason: "no scheme (expected postgres:// or mysql://)",
        })?;
        match scheme {
            "postgres" | "postgresql" => Ok((Engine::Postgres, url.to_owned())),
            "mysql" | "mariadb" => Ok((Engine::MySql, format!("mysql://{rest}"))),
            _ => Err(MigrateError::BadUrl {
                reason: "unknown scheme (expected postgres://, mysql:// or mariadb://)",
            }),
        }
    }

    /// The placeholder of the `n`th (1-based) parameter.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Engine::Postgres => format!("${n}"),
            Engine::MySql => "?".to_owned(),
        }
    }

    /// A timestamp parameter bound as text.
    pub fn time_placeholder(self, n: usize) -> String {
        match self {
            Engine::Postgres => format!("CAST(${n} AS TIMESTAMP)"),
            Engine::MySql => "?".to_owned(),
        }
    }

    /// `column` read as a 64-bit integer.
    pub fn int(self, column: &str) -> String {
        match self {
            Engine::Postgres => format!("CAST({column} AS BIGINT)"),
            Engine::MySql => format!("CAST({column} AS SIGNED)"),
        }
    }

    /// `column` read as text (timestamps as `YYYY-MM-DD HH:MM:SS`).
    pub fn text(self, column: &str) -> String {
        match self {
            Engine::Postgres => format!("CAST({column} AS TEXT)"),
            Engine::MySql => format!("CAST({column} AS CHAR)"),
        }
    }
}
