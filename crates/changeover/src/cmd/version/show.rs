//! `changeover version show`: a summary of a version's manifest.

use changeover_core::Bundle;
use changeover_core::bundle::Manifest;
use serde::Serialize;

use crate::context::Context;
use crate::failure::failed;
use crate::output;

/// Show a version: applications, databases, migrations, data updates, compatibility
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Show a version: applications, databases, migrations, data updates, compatibility.\n\nShow a summary of a version in the catalog: its file, digests and upload time, its \
                  compatibility rules, its applications, its databases with their migrations, and \
                  its data-update tasks. Configuration values are not shown (some are secrets).",
    after_help = "Examples:\n  changeover version show 1.1.0\n  changeover version show 1.1.0 --json"
)]
pub struct Args {
    /// The version to show
    version: String,
    /// The platform (default: `platform:` in the config file, else sample)
    #[arg(long)]
    platform: Option<String>,
}

#[derive(Serialize)]
struct Shown<'a> {
    entry: &'a changeover_store::CatalogEntry,
    compatibility: &'a changeover_core::CompatibilityRules,
    applications: Vec<&'a str>,
    databases: Vec<ShownDatabase<'a>>,
    data_updates: Vec<ShownDataUpdate<'a>>,
}

#[derive(Serialize)]
struct ShownDatabase<'a> {
    name: &'a str,
    engine: &'static str,
    migrations: Vec<String>,
}

#[derive(Serialize)]
struct ShownDataUpdate<'a> {
    name: &'a str,
    blocking: bool,
    skippable: bool,
    manual_start: bool,
}

/// Parses a stored bundle again (it was validated on upload).
pub fn reread(stored: &changeover_store::StoredVersion) -> anyhow::Result<Bundle> {
    changeover_core::bundle::read(&stored.content, &stored.entry.file_name).map_err(|e| {
        failed(
            format!(
                "the stored bundle of {} no longer parses: {e}",
                stored.entry.version
            ),
            "upload the bundle again with `changeover version upload FILE`",
        )
    })
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let platform = ctx.platform(args.platform.as_deref())?;
    let version = super::parse_version(&args.version, "the version")?;
    let store = ctx.store().await?;
    let stored = super::stored(&store, &platform, &version).await?;
    let bundle = reread(&stored)?;
    let m = bundle.manifest();
    let shown = summarize(&stored.entry, m);
    if ctx.json {
        return output::json(&shown);
    }
    let e = &stored.entry;
    println!("{} {}", e.platform, e.version);
    println!(
        "  file:          {} ({}, {} bytes)",
        e.file_name, e.format, e.size
    );
    println!("  md5:           {}", e.md5);
    println!("  sha256:        {}", e.sha256);
    println!("  uploaded:      {}", output::when(e.uploaded_at));
    if let Some(at) = e.overwritten_at {
        println!("  overwritten:   {}", output::when(at));
    }
    println!("  compatibility: {}", describe_rules(&m.compatibility));
    println!("\nApplications");
    println!(
        "{}",
        indent(&output::table(
            &["name", "strategy", "port", "always on"],
            m.applications.iter().map(|a| {
                [
                    a.name.clone(),
                    format!("{:?}", a.strategy).to_lowercase(),
                    a.port.map_or_else(|| "-".to_owned(), |p| p.to_string()),
                    yes(a.always_on),
                ]
            })
        ))
    );
    println!("\nDatabases and migrations");
    println!(
        "{}",
        indent(&output::table(
            &["database", "engine", "migrations"],
            shown.databases.iter().map(|d| {
                let list = if d.migrations.is_empty() {
                    "-".to_owned()
                } else {
                    d.migrations.join(", ")
                };
                [d.name.to_owned(), d.engine.to_owned(), list]
            })
        ))
    );
    println!("\nData updates");
    if shown.data_updates.is_empty() {
        println!("  none");
    } else {
        println!(
            "{}",
            indent(&output::table(
                &["name", "blocking", "skippable", "manual start"],
                shown.data_updates.iter().map(|d| [
                    d.name.to_owned(),
                    yes(d.blocking),
                    yes(d.skippable),
                    yes(d.manual_start)
                ])
            ))
        );
    }
    Ok(())
}

fn summarize<'a>(entry: &'a changeover_store::CatalogEntry, m: &'a Manifest) -> Shown<'a> {
    Shown {
        entry,
        compatibility: &m.compatibility,
        applications: m.applications.iter().map(|a| a.name.as_str()).collect(),
        databases: m
            .databases
            .iter()
            .map(|d| ShownDatabase {
                name: &d.name,
                engine: d.engine.name(),
                migrations: d
                    .migrations
                    .iter()
                    .map(|mg| format!("V{} {}", mg.version, mg.name))
                    .collect(),
            })
            .collect(),
        data_updates: m
            .data_updates
            .iter()
            .map(|d| ShownDataUpdate {
                name: &d.name,
                blocking: d.blocking,
                skippable: d.skippable,
                manual_start: d.manual_start,
            })
            .collect(),
    }
}

/// The compatibility rules as one sentence.
pub fn describe_rules(rules: &changeover_core::CompatibilityRules) -> String {
    let mut parts = vec![format!(
        "zero downtime when the first {} segments are equal",
        rules.zero_downtime_same_segments
    )];
    if let Some(min) = &rules.partial_downtime_min {
        parts.push(format!("partial downtime from {min}"));
    }
    if let Some(range) = &rules.upgrade_from {
        parts.push(format!("upgrades only from {range}"));
    }
    parts.join("; ")
}

fn yes(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_owned()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
