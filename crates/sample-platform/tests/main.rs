//! Integration tests of the sample platform: real binaries, real SQLite, PostgreSQL and MariaDB.

mod cron;
mod harness;
mod lifecycle;
mod openapi;
mod statistics;
mod toggles;
mod versions;

/// Runs each listed `async fn(Engine) -> anyhow::Result<()>` on SQLite, PostgreSQL and MariaDB.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread")]
            async fn $name() -> anyhow::Result<()> {
                super::$name($crate::harness::Engine::Sqlite).await
            } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread")]
            async fn $name() -> anyhow::Result<()> {
                super::$name($crate::harness::Engine::Postgres).await
            } )*
        }
        mod mariadb {
            $( #[tokio::test(flavor = "multi_thread")]
            async fn $name() -> anyhow::Result<()> {
                super::$name($crate::harness::Engine::Mariadb).await
            } )*
        }
    };
}
