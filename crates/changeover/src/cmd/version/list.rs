//! `changeover version list`.

use serde::Serialize;

use crate::context::Context;
use crate::output;

/// List the versions in the catalog
#[derive(Debug, clap::Args)]
#[command(
    long_about = "List the versions in the catalog.\n\nList the versions in the catalog in version order: version, platform, format, \
                  upload time, a short MD5 of the uploaded file, and `*` on the version the platform \
                  runs now.",
    after_help = "Examples:\n  changeover version list\n  changeover version list --all-platforms\n  changeover version list --json"
)]
pub struct Args {
    /// The platform (default: `platform:` in the config file, else sample)
    #[arg(long, conflicts_with = "all_platforms")]
    platform: Option<String>,
    /// Every platform's versions
    #[arg(long)]
    all_platforms: bool,
}

#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    entry: changeover_store::CatalogEntry,
    current: bool,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let platform = if args.all_platforms {
        None
    } else {
        Some(ctx.platform(args.platform.as_deref())?)
    };
    if let Some(remote) = &ctx.remote {
        return crate::remote::version::list(remote, platform.as_deref(), ctx.json).await;
    }
    let store = ctx.store().await?;
    let entries = store.catalog().list(platform.as_deref()).await?;
    let platforms = store.platforms().list().await?;
    let is_current = |e: &changeover_store::CatalogEntry| {
        platforms
            .iter()
            .any(|p| p.name == e.platform && p.current_version.as_deref() == Some(&e.version))
    };
    let rows: Vec<Row> = entries
        .into_iter()
        .map(|entry| Row {
            current: is_current(&entry),
            entry,
        })
        .collect();
    if ctx.json {
        return output::json(&rows);
    }
    if rows.is_empty() {
        println!("the catalog is empty; upload a bundle with `changeover version upload FILE`");
        return Ok(());
    }
    println!(
        "{}",
        output::table(
            &["", "version", "platform", "format", "uploaded", "md5"],
            rows.iter().map(|r| {
                let uploaded = match r.entry.overwritten_at {
                    Some(at) => format!(
                        "{} (overwritten {})",
                        output::when(r.entry.uploaded_at),
                        output::when(at)
                    ),
                    None => output::when(r.entry.uploaded_at),
                };
                [
                    if r.current { "*" } else { "" }.to_owned(),
                    r.entry.version.clone(),
                    r.entry.platform.clone(),
                    r.entry.format.to_string(),
                    uploaded,
                    output::short_digest(&r.entry.md5).to_owned(),
                ]
            })
        )
    );
    Ok(())
}
