//! Where the store lives, and how that is decided.
//!
//! Resolution, highest first: the `--store` flag, the `CHANGEOVER_STORE` environment
//! variable, `store:` in the config file, then [`DEFAULT_SQLITE_PATH`].

use std::fmt;
use std::path::{Path, PathBuf};

use crate::StoreError;

/// The store when nothing else is said: a SQLite file under the working directory, so a
/// first run needs no setup.
pub const DEFAULT_SQLITE_PATH: &str = ".changeover/changeover.db";

/// The environment variable naming the store.
pub const STORE_ENV: &str = "CHANGEOVER_STORE";

/// A store location: a SQLite file or a PostgreSQL database.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file, created with its parent directories on first use.
    Sqlite(PathBuf),
    /// A PostgreSQL database URL (`postgres://user:password@host:port/db`). The password is
    /// never shown by `Display` or `Debug`.
    Postgres(PostgresUrl),
}

/// A `postgres://` URL whose password never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(url::Url);

impl PostgresUrl {
    /// The full URL, password included: only for connecting.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        f.write_str(shown.as_str())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// Where a location came from, for messages ("the store from CHANGEOVER_STORE …").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocationSource {
    Flag,
    Env,
    ConfigFile(PathBuf),
    Default,
}

impl fmt::Display for LocationSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocationSource::Flag => f.write_str("--store"),
            LocationSource::Env => f.write_str(STORE_ENV),
            LocationSource::ConfigFile(path) => write!(f, "`store:` in {}", path.display()),
            LocationSource::Default => f.write_str("the default location"),
        }
    }
}

impl Location {
    /// Parses a path or URL: `postgres://…`/`postgresql://…` is PostgreSQL, `sqlite://PATH`
    /// or `sqlite:PATH` or any other text is a SQLite file path.
    pub fn parse(given: &str) -> Result<Location, StoreError> {
        let bad = |reason: &str| StoreError::BadLocation {
            given: given.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = given.trim();
        if trimmed.is_empty() {
            return Err(bad("it is empty"));
        }
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            let url =
                url::Url::parse(trimmed).map_err(|e| bad(&format!("not a valid URL ({e})")))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(bad("the URL names no host"));
            }
            if url.path().trim_start_matches('/').is_empty() {
                return Err(bad(
                    "the URL names no database (postgres://user@host:5432/DATABASE)",
                ));
            }
            return Ok(Location::Postgres(PostgresUrl(url)));
        }
        if let Some(path) = trimmed
            .strip_prefix("sqlite://")
            .or_else(|| trimmed.strip_prefix("sqlite:"))
        {
            if path.is_empty() || path.contains('?') {
                return Err(bad(
                    "give the SQLite file path after sqlite:// (no query parameters)",
                ));
            }
            return Ok(Location::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = trimmed.split_once("://") {
            return Err(bad(&format!(
                "the scheme {scheme:?} is not supported (the store runs on SQLite or PostgreSQL)"
            )));
        }
        Ok(Location::Sqlite(PathBuf::from(trimmed)))
    }

    /// Picks the location by precedence: flag, environment, config file, default.
    pub fn resolve(
        flag: Option<&str>,
        env: Option<&str>,
        config: Option<(&str, &Path)>,
    ) -> Result<(Location, LocationSource), StoreError> {
        if let Some(given) = flag {
            return Ok((Location::parse(given)?, LocationSource::Flag));
        }
        if let Some(given) = env.filter(|v| !v.trim().is_empty()) {
            return Ok((Location::parse(given)?, LocationSource::Env));
        }
        if let Some((given, file)) = config {
            return Ok((
                Location::parse(given)?,
                LocationSource::ConfigFile(file.to_owned()),
            ));
        }
        Ok((
            Location::Sqlite(PathBuf::from(DEFAULT_SQLITE_PATH)),
            LocationSource::Default,
        ))
    }

    /// `sqlite` or `postgres`.
    pub fn engine(&self) -> crate::Engine {
        match self {
            Location::Sqlite(_) => crate::Engine::Sqlite,
            Location::Postgres(_) => crate::Engine::Postgres,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => write!(f, "{url}"),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
            Location::Postgres(url) => write!(f, "Postgres({url})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_urls() {
        assert_eq!(
            Location::parse("a/b.db").unwrap(),
            Location::Sqlite("a/b.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x.db").unwrap(),
            Location::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:x.db").unwrap(),
            Location::Sqlite("x.db".into())
        );
        let pg = Location::parse("postgres://u:secret@127.0.0.1:5432/cs").unwrap();
        assert_eq!(pg.engine(), crate::Engine::Postgres);
        assert!(!pg.to_string().contains("secret"), "{pg}");
        assert!(!format!("{pg:?}").contains("secret"));
    }

    #[test]
    fn bad_locations_say_why() {
        for (given, says) in [
            ("", "empty"),
            ("mysql://root@h/db", "not supported"),
            ("postgres://127.0.0.1:5432", "no database"),
            ("postgres://:5432/x", "URL"),
            ("sqlite://", "file path"),
        ] {
            let err = Location::parse(given).unwrap_err().to_string();
            assert!(err.contains(says), "{given:?}: {err}");
        }
    }

    #[test]
    fn precedence() {
        let cfg = Path::new("c.yaml");
        let pick = |f, e, c| Location::resolve(f, e, c).unwrap();
        assert_eq!(
            pick(Some("f.db"), Some("e.db"), Some(("c.db", cfg))).1,
            LocationSource::Flag
        );
        assert_eq!(
            pick(None, Some("e.db"), Some(("c.db", cfg))).1,
            LocationSource::Env
        );
        assert_eq!(
            pick(None, Some(" "), Some(("c.db", cfg))).0,
            Location::Sqlite("c.db".into())
        );
        assert_eq!(
            pick(None, None, None).0,
            Location::Sqlite(DEFAULT_SQLITE_PATH.into())
        );
    }
}
