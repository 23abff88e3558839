//! `sample-dataservice`: the sample platform's always-on read API.

use anyhow::Context;
use clap::Parser;
use sample_platform::dataservice::{self, DataService};
use sample_platform::{Metadb, PlatformVersion};

#[derive(Parser)]
#[command(about = "The sample platform's data service: a read API over the metadata")]
struct Cli {
    /// Which version's behaviour to take: 1.0.0, 1.0.1 or 1.1.0.
    #[arg(long, env = "SAMPLE_PLATFORM_VERSION", default_value = "1.0.0")]
    platform_version: String,
    #[arg(long)]
    port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Metadata database URL: sqlite://PATH, postgres://… or mysql://… (MariaDB)
    #[arg(long, env = "SAMPLE_DB", hide_env_values = true)]
    db: String,
    /// Accepted so both binaries share one command-line shape in bundles; unused (the data
    /// service only reads the database).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sample_platform::init_logging();
    let cli = Cli::parse();
    let version: PlatformVersion = cli
        .platform_version
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let db = Metadb::connect(&cli.db).await?;
    db.prepare(version).await?;
    let listener = tokio::net::TcpListener::bind((cli.host.as_str(), cli.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", cli.host, cli.port))?;
    tracing::info!(version = %version, port = cli.port, "sample data service started");
    axum::serve(listener, dataservice::router(DataService { db, version }))
        .with_graceful_shutdown(sample_platform::shutdown_signal())
        .await?;
    Ok(())
}
