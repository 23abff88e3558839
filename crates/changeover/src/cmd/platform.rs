//! `changeover platform`: the platforms being managed and the version each runs now.

use clap::{Args as ClapArgs, Subcommand};
use serde::Serialize;

use crate::context::Context;
use crate::output;

#[derive(Debug, ClapArgs)]
#[command(
    about = "Show the managed platforms and set the version running now",
    long_about = "Show the managed platforms and set the version running now.\n\nShow the platforms changeover manages, the version each runs now and when that was \
                  recorded. `set-current` records the running version by hand: for a platform that \
                  was installed before changeover managed it, and for the demo and tests. Upgrades \
                  set it themselves.",
    after_help = "Examples:\n  changeover platform list\n  changeover platform set-current 1.0.0\n  changeover platform set-current 1.0.1 --platform sample --json"
)]
pub struct Args {
    #[command(subcommand)]
    command: PlatformCommand,
}

#[derive(Debug, Subcommand)]
enum PlatformCommand {
    /// List the managed platforms and their current versions
    #[command(
        long_about = "List the managed platforms and their current versions.\n\nList every platform recorded in the store with the version running now.",
        after_help = "Examples:\n  changeover platform list\n  changeover platform list --json"
    )]
    List,
    /// Record the version the platform runs now
    #[command(
        long_about = "Record the version the platform runs now.\n\nRecord the version the platform runs now, and, when that version is in the \
                      catalog, its configuration values as the values running now (uploads that \
                      differ from them get a warning). The version need not be in the catalog.",
        after_help = "Examples:\n  changeover platform set-current 1.0.0\n  changeover platform set-current 5.1.2.04 --platform dolphin"
    )]
    SetCurrent {
        /// The version running now (e.g. 1.0.0, V5.1.2.04, 4.2.9-CE)
        version: String,
        /// The platform (default: `platform:` in the config file, else sample)
        #[arg(long)]
        platform: Option<String>,
    },
}

#[derive(Serialize)]
struct PlatformRow {
    name: String,
    current_version: Option<String>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    match args.command {
        PlatformCommand::List => list(ctx).await,
        PlatformCommand::SetCurrent { version, platform } => {
            set_current(ctx, &version, platform.as_deref()).await
        }
    }
}

async fn list(ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let rows: Vec<PlatformRow> = store
        .platforms()
        .list()
        .await?
        .into_iter()
        .map(|p| PlatformRow {
            name: p.name,
            current_version: p.current_version,
            updated_at: p.updated_at,
        })
        .collect();
    if ctx.json {
        return output::json(&rows);
    }
    if rows.is_empty() {
        println!("no platform recorded yet; `changeover platform set-current VERSION` records one");
        return Ok(());
    }
    println!(
        "{}",
        output::table(
            &["platform", "current", "updated"],
            rows.iter().map(|r| {
                [
                    r.name.clone(),
                    r.current_version.clone().unwrap_or_else(|| "-".into()),
                    output::when(r.updated_at),
                ]
            })
        )
    );
    Ok(())
}

async fn set_current(ctx: &Context, version: &str, platform: Option<&str>) -> anyhow::Result<()> {
    let platform = ctx.platform(platform)?;
    let version = crate::cmd::version::parse_version(version, "the version")?;
    let store = ctx.store().await?;
    let stored = store.catalog().get(&platform, &version.to_string()).await?;
    let known = stored.is_some();
    match stored {
        // The running configuration is that version's values: later uploads are compared to it.
        Some(stored) => {
            let bundle = crate::cmd::version::show::reread(&stored)?;
            let values = bundle
                .values_file()
                .cloned()
                .unwrap_or_else(|| bundle.manifest().config.clone());
            store
                .platforms()
                .set_running_values(&platform, &values)
                .await?;
        }
        None => tracing::warn!(
            %platform, %version,
            "the version is not in the catalog; upload its bundle before upgrading from it"
        ),
    }
    let p = store
        .platforms()
        .set_current(&platform, &version.to_string())
        .await?;
    let row = PlatformRow {
        name: p.name,
        current_version: p.current_version,
        updated_at: p.updated_at,
    };
    if ctx.json {
        return output::json(&row);
    }
    println!(
        "{platform} now runs {version}{}",
        if known { "" } else { " (not in the catalog)" }
    );
    Ok(())
}
