//! The two-engine test harness: a fresh store per test on SQLite (a file in a temporary
//! directory) and on PostgreSQL (a database with a random name on the machine's server,
//! `CHANGEOVER_TEST_PG`, default `postgres://postgres@127.0.0.1:5432`), dropped afterwards.
//!
//! ```text
//! async fn lease_is_exclusive(store: Store) -> anyhow::Result<()> { … }
//! changeover_store::on_both_engines!(lease_is_exclusive);
//! // → tests `lease_is_exclusive::sqlite` and `lease_is_exclusive::postgres`
//! ```

use std::future::Future;

use crate::{Engine, Location, Store};

/// The PostgreSQL server tests create their databases on (no database name).
pub fn postgres_server() -> String {
    std::env::var("CHANGEOVER_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A fresh, empty store location (not yet opened), removed on drop: the SQLite directory is
/// deleted, the PostgreSQL database dropped (even when the test panicked).
pub struct TestLocation {
    location: Location,
    /// For SQLite: the directory holding the file. Kept for PostgreSQL too, as scratch space.
    dir: tempfile::TempDir,
    postgres_db: Option<String>,
}

impl TestLocation {
    /// A fresh location on `engine`.
    pub async fn new(engine: Engine) -> TestLocation {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        match engine {
            Engine::Sqlite => TestLocation {
                location: Location::Sqlite(dir.path().join("store").join("changeover.db")),
                dir,
                postgres_db: None,
            },
            Engine::Postgres => {
                let name = format!("changeover_store_t{:016x}", rand::random::<u64>());
                admin(&format!("CREATE DATABASE {name}")).await;
                let url = format!("{}/{name}", postgres_server());
                TestLocation {
                    location: Location::parse(&url).expect("test PostgreSQL URL"),
                    dir,
                    postgres_db: Some(name),
                }
            }
        }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The text to pass to `--store`.
    pub fn arg(&self) -> String {
        match &self.location {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => url.expose().to_owned(),
        }
    }

    /// A scratch directory that lives as long as this location.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Opens (and migrates) the store.
    pub async fn open(&self) -> Store {
        Store::open(&self.location)
            .await
            .expect("open the test store")
    }
}

impl Drop for TestLocation {
    fn drop(&mut self) {
        if let Some(name) = self.postgres_db.take() {
            // Drop may run inside a runtime: use a thread with its own.
            let joined = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(admin(&format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )));
                }
            })
            .join();
            if joined.is_err() {
                eprintln!("warning: could not drop a test database");
            }
        }
    }
}

async fn admin(sql: &str) {
    use sqlx::Connection as _;
    let url = format!("{}/postgres", postgres_server());
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect to the test PostgreSQL at {url}: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// Runs `test` against a fresh, opened store on `engine`; the store is removed afterwards.
pub async fn with_store<F, Fut, T>(engine: Engine, test: F) -> T
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = T>,
{
    let location = TestLocation::new(engine).await;
    let store = location.open().await;
    let out = test(store.clone()).await;
    store.close().await;
    drop(location);
    out
}

/// [`with_store`] on a new multi-threaded runtime: the body of the tests that
/// [`on_both_engines!`](crate::on_both_engines) declares.
pub fn run<F, Fut, T>(engine: Engine, test: F) -> T
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = T>,
{
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("start a test runtime")
        .block_on(with_store(engine, test))
}

/// Declares the tests `NAME::sqlite` and `NAME::postgres` that run the async function
/// `NAME(store: Store) -> T` on a fresh store of each engine (`T` a test return type such
/// as `()` or `anyhow::Result<()>`).
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() -> impl ::std::process::Termination {
                $crate::test_utils::run($crate::Engine::Sqlite, super::$name)
            }
            #[test]
            fn postgres() -> impl ::std::process::Termination {
                $crate::test_utils::run($crate::Engine::Postgres, super::$name)
            }
        }
    )+};
}
