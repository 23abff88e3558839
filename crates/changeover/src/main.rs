//! `changeover`: parse the command line, set up logging (stderr), run the command, and turn
//! any failure into `error:`/`hint:` lines and an exit code (2 bad input, 1 failure).

mod cli;
mod cmd;
mod config;
mod context;
mod failure;
mod output;
mod progress;
mod remote;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's allocator: a live-migration snapshot allocates millions of
/// short-lived strings and maps, on which glibc's malloc spent 40% of the transform's time
/// and grew worse with the snapshot's size (measured in `benches/transform.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return failure::report(&failure::failed(
                format!("cannot start the async runtime: {e}"),
                "check the process limits (threads, open files)",
            ));
        }
    };
    let result = runtime.block_on(async {
        let ctx = context::Context::new(&cli.global)?;
        let result = cli.command.run(&ctx).await;
        // A restore drops the database it replaced in the background: let it finish.
        changeover_metadb::finish_background_drops().await;
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::debug!(error = ?err, "command failed");
            failure::report(&err)
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // colours only on a terminal: logs piped to a file or a CI log stay plain text
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
