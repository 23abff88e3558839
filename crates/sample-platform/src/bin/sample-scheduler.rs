//! `sample-scheduler`: the sample platform's scheduler (see the crate docs).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use sample_platform::instances::{TaskSpec, Workflow};
use sample_platform::scheduler::Scheduler;
use sample_platform::{Metadb, PlatformVersion, admin, contract};

#[derive(Parser)]
#[command(about = "The sample platform's scheduler: cron workflows of shell tasks")]
struct Cli {
    /// Which version's behaviour to take: 1.0.0, 1.0.1 or 1.1.0.
    #[arg(long, env = "SAMPLE_PLATFORM_VERSION", default_value = "1.0.0")]
    platform_version: String,
    /// HTTP port (contract, admin, health).
    #[arg(long)]
    port: Option<u16>,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Metadata database URL: sqlite://PATH, postgres://… or mysql://… (MariaDB)
    #[arg(long, env = "SAMPLE_DB", hide_env_values = true)]
    db: String,
    /// Where task exit codes and logs go.
    #[arg(long, default_value = "sample-data")]
    data_dir: PathBuf,
    /// Default environment of workflows added from the command line.
    #[arg(long, default_value = "prod")]
    environment: String,
    /// Scheduler loop period in milliseconds.
    #[arg(long, default_value_t = 500)]
    tick_ms: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Manage workflows.
    Workflow {
        #[command(subcommand)]
        action: WorkflowAction,
    },
}

#[derive(Subcommand)]
enum WorkflowAction {
    /// Adds a workflow; tasks run in the order given.
    Add {
        name: String,
        #[arg(long)]
        cron: Option<String>,
        #[arg(long)]
        tenant: String,
        /// A shell command; repeat for several tasks (named task-1, task-2, …).
        #[arg(long = "task", required = true)]
        tasks: Vec<String>,
    },
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
    if let Some(Command::Workflow { action }) = cli.command {
        let WorkflowAction::Add {
            name,
            cron,
            tenant,
            tasks,
        } = action;
        let workflow = Workflow {
            name,
            tenant,
            environment: cli.environment,
            cron,
            tasks: tasks
                .into_iter()
                .enumerate()
                .map(|(i, command)| TaskSpec {
                    name: format!("task-{}", i + 1),
                    command,
                })
                .collect(),
        };
        admin::validate(&workflow).map_err(|m| anyhow::anyhow!(m))?;
        db.add_workflow(&workflow).await?;
        println!("{}", serde_json::json!({ "added": workflow.name }));
        return Ok(());
    }
    let Some(port) = cli.port else {
        bail!("--port is required to run the scheduler");
    };
    std::fs::create_dir_all(cli.data_dir.join("instances"))
        .with_context(|| format!("cannot create data dir {}", cli.data_dir.display()))?;
    let scheduler = Scheduler {
        db,
        version,
        data_dir: cli.data_dir,
    };
    let listener = tokio::net::TcpListener::bind((cli.host.as_str(), port))
        .await
        .with_context(|| format!("cannot listen on {}:{port}", cli.host))?;
    tracing::info!(version = %version, port, "sample scheduler started");
    tokio::spawn(
        scheduler
            .clone()
            .run(Duration::from_millis(cli.tick_ms.max(10))),
    );
    let app = contract::router()
        .merge(admin::router())
        .with_state(scheduler);
    axum::serve(listener, app)
        .with_graceful_shutdown(sample_platform::shutdown_signal())
        .await?;
    Ok(())
}
