//! A bare migrator process, the same loop `changeover migrate start` runs, configured by
//! environment: the crash tests SIGKILL it at random moments and start it again.
//!
//! `CHANGEOVER_MIGRATE_SOURCE` and `CHANGEOVER_MIGRATE_TARGET` (URLs, required),
//! `CHANGEOVER_MIGRATE_MACHINE` (0–31, default 0), `CHANGEOVER_MIGRATE_SERVER_ID` (binlog
//! replica id, default derived from the pid), `CHANGEOVER_MIGRATE_PROJECTS` (comma-separated).
//! Stops on SIGINT, SIGTERM or `migrate stop`; exits 0 after a clean stop, 1 on an error.

use std::process::ExitCode;

use changeover_migrate::migration::{MigrationConfig, run};

/// As in `changeover` itself: mimalloc rather than glibc's allocator: a live-migration snapshot allocates millions of
/// short-lived strings and maps, on which glibc's malloc spent 40% of the transform's time
/// and grew worse with the snapshot's size (measured in `benches/transform.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn var(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

fn config() -> Result<MigrationConfig, String> {
    let required = |name: &str| var(name)?.ok_or_else(|| format!("{name} is not set"));
    let machine = match var("CHANGEOVER_MIGRATE_MACHINE")? {
        Some(v) => v
            .parse::<u8>()
            .ok()
            .filter(|m| *m < 32)
            .ok_or_else(|| format!("CHANGEOVER_MIGRATE_MACHINE={v:?} is not a number 0-31"))?,
        None => 0,
    };
    let server_id = match var("CHANGEOVER_MIGRATE_SERVER_ID")? {
        Some(v) => v.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| {
            format!("CHANGEOVER_MIGRATE_SERVER_ID={v:?} is not a number 1-4294967295")
        })?,
        None => 0x4000_0000 | (std::process::id() & 0x3fff_ffff),
    };
    let projects = var("CHANGEOVER_MIGRATE_PROJECTS")?
        .map(|p| {
            p.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(MigrationConfig {
        source_url: required("CHANGEOVER_MIGRATE_SOURCE")?,
        target_url: required("CHANGEOVER_MIGRATE_TARGET")?,
        projects,
        machine,
        server_id,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let config = match config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("changeover-migrate-worker: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    match run(&config, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("changeover-migrate-worker: {e}");
            ExitCode::FAILURE
        }
    }
}
