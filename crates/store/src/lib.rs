//! The control-plane store of changeover: one SQLite file (the default, no setup) or one
//! PostgreSQL database (when the control plane must be highly available).
//!
//! **Architecture Invariant:** every query is a runtime query on an [`AnyPool`] written once
//! for both engines: `$1, $2…` placeholders, `INSERT … ON CONFLICT … DO UPDATE`,
//! `RETURNING`, and only the column types both engines decode through `Any`: `TEXT`,
//! `BIGINT`/`INTEGER` (as `i64`), `BLOB`/`BYTEA` (as `Vec<u8>`), `DOUBLE PRECISION`/`REAL`.
//! Timestamps are text ([`time`]), JSON is text, booleans are `0`/`1` integers. The only
//! per-engine text is the migration folders.
//!
//! **Architecture Invariant:** the schema is owned by the embedded migrations
//! (`migrations/sqlite/NNNN_name.sql`, `migrations/postgres/NNNN_name.sql`), applied by
//! [`Store::open`]. Migration numbers are reserved per area: store 0001–0009, upgrade engine
//! 0010–0019, metadata backups 0020–0029, server/users/audit 0030–0039, live migration
//! 0040–0049.
//!
//! Repositories, one module per domain noun, each reached through a method of [`Store`]
//! defined in its own module: [`Store::catalog`], [`Store::platforms`], [`Store::leases`].

pub mod audit;
pub mod catalog;
mod error;
pub mod lease;
mod location;
pub mod platform;
#[cfg(feature = "test-utils")]
pub mod test_utils;
pub mod time;
pub mod upgrades;
pub mod users;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection as _};

pub use catalog::{Catalog, CatalogEntry, Format, NewVersion, PutOutcome, StoredVersion};
pub use error::StoreError;
pub use lease::{HeldLease, Lease, LeaseError, Leases};
pub use location::{DEFAULT_SQLITE_PATH, Location, LocationSource, PostgresUrl, STORE_ENV};
pub use platform::{Platform, Platforms};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a query waits for a locked SQLite file before failing (another changeover
/// process is writing).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per process: the CLI needs one or two, the server a handful.
const MAX_CONNECTIONS: u32 = 8;
/// How long opening waits for a PostgreSQL server before reporting it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The database engine under the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        })
    }
}

/// An open store with its schema up to date. Cheap to clone (a pool handle).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    location: Location,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .finish()
    }
}

impl Store {
    /// Opens (creating a SQLite file and its directories if needed) and migrates the store.
    pub async fn open(location: &Location) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let shown = location.to_string();
        let open_err = |source| StoreError::Open {
            location: shown.clone(),
            source,
        };
        let url = match location {
            Location::Sqlite(path) => prepare_sqlite(path).await.map_err(|e| match e {
                Prepared::Io(dir, source) => StoreError::CreateDir { path: dir, source },
                Prepared::Sql(source) => open_err(source),
            })?,
            Location::Postgres(url) => url.expose().to_owned(),
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT);
        if location.engine() == Engine::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // Keep in step with SQLITE_BUSY_TIMEOUT.
                    sqlx::query("PRAGMA busy_timeout = 10000")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        // One direct connection first: the pool retries a refused connection until its
        // timeout, a direct connect reports it at once.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, sqlx::AnyConnection::connect(&url))
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
            .map_err(open_err)?;
        probe.close().await.map_err(open_err)?;
        let pool = options.connect(&url).await.map_err(open_err)?;
        let migrator = match location.engine() {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        if let Err(first) = migrator.run(&pool).await {
            // Two processes opening a fresh SQLite file race to create the schema (SQLite has
            // no migration lock); the loser finds it created on a second pass.
            tracing::debug!(error = %first, "migrating the store failed once; retrying");
            tokio::time::sleep(Duration::from_millis(200)).await;
            migrator
                .run(&pool)
                .await
                .map_err(|source| StoreError::Migrate {
                    location: shown.clone(),
                    source,
                })?;
        }
        tracing::debug!(store = %shown, engine = %location.engine(), "store open");
        Ok(Store {
            pool,
            location: location.clone(),
        })
    }

    /// The engine under this store.
    pub fn engine(&self) -> Engine {
        self.location.engine()
    }

    /// Where this store lives (passwords hidden when displayed).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The connection pool, for repository modules of other crates. Queries must follow the
    /// portability rules in the crate documentation.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection (waits for queries in flight).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

enum Prepared {
    Io(std::path::PathBuf, std::io::Error),
    Sql(sqlx::Error),
}

/// Creates the file's directories and the file itself in WAL mode (the mode is kept in the
/// file), and returns the URL for the pool.
async fn prepare_sqlite(path: &std::path::Path) -> Result<String, Prepared> {
    let absolute = std::path::absolute(path).map_err(|e| Prepared::Io(path.to_owned(), e))?;
    if let Some(dir) = absolute.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Prepared::Io(dir.to_owned(), e))?;
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(&absolute)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .connect()
        .await
        .map_err(Prepared::Sql)?;
    // Reading the schema fails here, with a clear place, when the file is not a database.
    sqlx::query("SELECT count(*) FROM sqlite_master")
        .execute(&mut conn)
        .await
        .map_err(Prepared::Sql)?;
    drop(conn);
    let file_url = url::Url::from_file_path(&absolute).map_err(|()| {
        Prepared::Io(
            absolute.clone(),
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an absolute path"),
        )
    })?;
    let url = format!("sqlite://{}", &file_url.as_str()["file://".len()..]);
    // Validate once here so a broken path is reported as such, not as a driver error.
    SqliteConnectOptions::from_str(&url).map_err(Prepared::Sql)?;
    Ok(url)
}
