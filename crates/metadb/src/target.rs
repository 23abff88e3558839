//! Where a metadata database lives: engine, address, user, password (a [`Secret`]) and
//! database name (a file path for SQLite), parsed from a connection URL.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::secret::Secret;

/// The database engines changeover can back up and migrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
    Sqlite,
}

impl Engine {
    /// The bundle's spelling: `postgres`, `mysql`, `sqlite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
            Engine::Sqlite => "sqlite",
        }
    }

    /// File extension of a dump of this engine.
    pub fn dump_extension(self) -> &'static str {
        match self {
            Engine::Postgres => "dump",
            Engine::Mysql => "sql",
            Engine::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metadata database. `Display` prints the redacted URL (`postgres://user:***@host/db`).
#[derive(Clone, PartialEq, Eq)]
pub struct DbTarget {
    pub engine: Engine,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    /// The database name; for SQLite the file path.
    pub database: String,
}

impl DbTarget {
    /// Parses `postgres://user:pass@host:port/db`, `mysql://…` (or `mariadb://…`),
    /// `sqlite:///abs/path.db`, `sqlite://rel/path.db` or `sqlite:path.db`.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::Url {
            url: redact_url(url),
            reason: reason.to_owned(),
        };
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(bad(
                    "the sqlite URL names no file; use sqlite:///path/to/file.db",
                ));
            }
            return Ok(Self::sqlite(path));
        }
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let (engine, default_port) = match parsed.scheme() {
            "postgres" | "postgresql" => (Engine::Postgres, 5432),
            "mysql" | "mariadb" => (Engine::Mysql, 3306),
            other => {
                return Err(bad(&format!(
                    "unknown scheme `{other}`; use postgres://, mysql://, mariadb:// or sqlite:"
                )));
            }
        };
        let host = parsed.host_str().unwrap_or("localhost").to_owned();
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let user = if parsed.username().is_empty() {
            match engine {
                Engine::Postgres => "postgres".to_owned(),
                _ => "root".to_owned(),
            }
        } else {
            decode(parsed.username())
        };
        let password = parsed.password().map(|p| Secret::new(decode(p)));
        let database = parsed.path().trim_start_matches('/').to_owned();
        if database.is_empty() || database.contains('/') {
            return Err(bad("the URL must name exactly one database: …/DBNAME"));
        }
        check_identifier(&database).map_err(|r| bad(&r))?;
        Ok(Self {
            engine,
            host,
            port: parsed.port().unwrap_or(default_port),
            user,
            password,
            database: decode(&database),
        })
    }

    /// A SQLite target for a file.
    pub fn sqlite(path: impl AsRef<Path>) -> Self {
        Self {
            engine: Engine::Sqlite,
            host: String::new(),
            port: 0,
            user: String::new(),
            password: None,
            database: path.as_ref().to_string_lossy().into_owned(),
        }
    }

    /// The same server with another database (a scratch database, the admin database).
    /// For SQLite, `name` is a file path.
    pub fn with_database(&self, name: &str) -> Self {
        Self {
            database: name.to_owned(),
            ..self.clone()
        }
    }

    /// The SQLite file path (meaningful for SQLite only).
    pub fn sqlite_path(&self) -> PathBuf {
        PathBuf::from(&self.database)
    }

    /// The redacted URL, safe for logs, errors and manifests.
    pub fn redacted(&self) -> String {
        match self.engine {
            Engine::Sqlite => format!("sqlite://{}", self.database),
            engine => {
                let pw = if self.password.is_some() { ":***" } else { "" };
                format!(
                    "{engine}://{}{pw}@{}:{}/{}",
                    self.user, self.host, self.port, self.database
                )
            }
        }
    }

    /// Removes the password from a text coming from a tool or a driver.
    pub fn scrub(&self, text: &str) -> String {
        match &self.password {
            Some(p) => p.scrub(text),
            None => text.to_owned(),
        }
    }
}

impl fmt::Display for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbTarget({})", self.redacted())
    }
}

/// Redacts the password of any URL-looking string (`scheme://user:pass@…` → `user:***@`).
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

/// Database names are spliced into DDL (`CREATE DATABASE`): only letters, digits, `_`, `-`, `$`.
pub(crate) fn check_identifier(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 63 {
        return Err(format!(
            "database name `{name}` must have 1 to 63 characters"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$')))
    {
        return Err(format!(
            "database name `{name}` contains `{c}`; use letters, digits, `_`, `-` or `$`"
        ));
    }
    Ok(())
}

/// Quotes an identifier for the engine (`"x"` or `` `x` ``).
pub(crate) fn quote_ident(engine: Engine, name: &str) -> String {
    match engine {
        Engine::Mysql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_redacts() {
        let t = DbTarget::parse("postgres://app:s%40cret@db.example:6543/meta").unwrap();
        assert_eq!(t.engine, Engine::Postgres);
        assert_eq!(t.port, 6543);
        assert_eq!(t.password.as_ref().unwrap().expose(), "s@cret");
        assert_eq!(t.to_string(), "postgres://app:***@db.example:6543/meta");
        assert!(!format!("{t:?}").contains("cret"));
        let m = DbTarget::parse("mariadb://root@127.0.0.1/test").unwrap();
        assert_eq!(
            (m.engine, m.port, m.password.is_none()),
            (Engine::Mysql, 3306, true)
        );
        let s = DbTarget::parse("sqlite:///tmp/x.db?mode=rwc").unwrap();
        assert_eq!(s.database, "/tmp/x.db");
    }

    #[test]
    fn refuses_bad_urls_with_a_reason() {
        let e = DbTarget::parse("oracle://u:pw@h/db")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown scheme `oracle`") && !e.contains("pw@"),
            "{e}"
        );
        let e = DbTarget::parse("postgres://u:pw@h/")
            .unwrap_err()
            .to_string();
        assert!(e.contains("exactly one database"), "{e}");
        let e = DbTarget::parse("postgres://u:pw@h/a;drop")
            .unwrap_err()
            .to_string();
        assert!(e.contains("contains `;`"), "{e}");
    }

    #[test]
    fn redact_url_hides_passwords() {
        assert_eq!(redact_url("mysql://u:p@h/d"), "mysql://u:***@h/d");
        assert_eq!(redact_url("mysql://u@h/d"), "mysql://u@h/d");
    }
}
