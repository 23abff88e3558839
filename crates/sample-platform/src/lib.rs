//! The sample platform: a small but real data platform that changeover upgrades in its
//! demo and end-to-end tests (design.md §9). It is a fixture, never the product.
//!
//! Two processes share one metadata database (SQLite or PostgreSQL):
//! - `sample-scheduler` runs cron-triggered workflows of shell tasks, records every task
//!   instance, and exposes the changeover scheduler contract under `/changeover/v1`;
//! - `sample-dataservice` is an always-on read API over the same metadata.
//!
//! **One build, three behaviours.** A real platform ships one binary per version; this
//! fixture ships one binary and selects the behaviour of a version with
//! `--platform-version 1.0.0|1.0.1|1.1.0` (see [`PlatformVersion`]), so the example
//! bundles can start "different versions" without building three artifacts.
//!
//! # Guarantees
//! - Task processes run in their own process group and write their exit code to
//!   `DATA_DIR/instances/ID.exit`; a restarted scheduler adopts every `running` instance,
//!   so killing the scheduler loses no instance.
//! - `terminate` is idempotent; `rerun` answers the same for the same request id.
//! - 1.1.0 refuses to start on a database without `task_instance.owner`.

pub mod admin;
pub mod api_error;
pub mod contract;
pub mod dataservice;
pub mod instances;
pub mod metadb;
pub mod scheduler;
pub mod task;
pub mod version;

pub use metadb::{Metadb, MetadbError};
pub use version::PlatformVersion;

/// The current time as RFC 3339 UTC with milliseconds (sorts as text).
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Resolves on SIGTERM or SIGINT, for axum's graceful shutdown.
pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// Logs to stderr with `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
