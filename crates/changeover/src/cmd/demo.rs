//! `changeover demo`: the main job on embedded defaults: a fresh store, the three sample
//! bundles, the catalog, and the allowed upgrade modes between every ordered pair of
//! versions; then the sample platform started at 1.0.0 with running workflows and upgraded
//! to 1.0.1 with zero downtime and to 1.1.0 with partial downtime.

use std::path::{Path, PathBuf};

use changeover_core::compat;
use changeover_core::{Mode, Version};
use changeover_store::{Location, Store};
use serde::Serialize;

use crate::cmd::version::upload::{Uploaded, validate_and_store};
use crate::cmd::version::{judge, parse_version};
use crate::context::Context;
use crate::failure::failed;
use crate::output;

/// The sample platform's bundles, embedded so the binary runs from anywhere.
const SAMPLE_BUNDLES: [(&str, &[u8]); 3] = [
    (
        "1.0.0.yaml",
        include_bytes!("../../../../bundles/sample/1.0.0.yaml"),
    ),
    (
        "1.0.1.yaml",
        include_bytes!("../../../../bundles/sample/1.0.1.yaml"),
    ),
    (
        "1.1.0.yaml",
        include_bytes!("../../../../bundles/sample/1.1.0.yaml"),
    ),
];

/// The demo's own store, recreated on every run.
pub const DEMO_STORE: &str = ".changeover/demo.db";

#[derive(Debug, clap::Args)]
#[command(
    about = "Run the demo: load the sample bundles and show the upgrade modes between them",
    long_about = "Run the demo: load the sample bundles and show the upgrade modes between them.\n\nRun changeover on embedded defaults: create a fresh store (./.changeover/demo.db, \
                  recreated each run, or --store), load the three sample bundles (1.0.0, 1.0.1 and \
                  1.1.0 of the sample platform), record 1.0.0 as running, print the catalog, and \
                  print for every ordered pair of versions whether full, partial and zero downtime \
                  are allowed, with the reason for every refusal.",
    after_help = "Examples:\n  changeover demo\n  changeover demo --json\n  changeover --store /tmp/demo.db demo"
)]
pub struct Args {}

#[derive(Serialize)]
struct Pair {
    from: Version,
    to: Version,
    modes: Vec<crate::cmd::version::check::Verdict>,
}

#[derive(Serialize)]
struct Demo {
    store: String,
    uploads: Vec<Uploaded>,
    matrix: Vec<Pair>,
}

pub async fn run(_args: Args, ctx: &Context) -> anyhow::Result<()> {
    let location = match ctx.store_flag() {
        Some(given) => Location::parse(given)?,
        None => Location::Sqlite(PathBuf::from(DEMO_STORE)),
    };
    if let Location::Sqlite(path) = &location {
        remove_sqlite(path)?;
    }
    let store = Store::open(&location).await?;
    let mut uploads = Vec::new();
    let mut bundles = Vec::new();
    for (file_name, bytes) in SAMPLE_BUNDLES {
        let uploaded = validate_and_store(&store, bytes.to_vec(), file_name, None).await?;
        if uploaded.entry.is_none() {
            return Err(failed(
                format!(
                    "the embedded sample bundle {file_name} is blocked: {:?}",
                    uploaded.report.errors
                ),
                "this is a bug in the build: report it",
            ));
        }
        let bundle = changeover_core::bundle::read(bytes, file_name)?;
        bundles.push((parse_version(&uploaded.version, "sample version")?, bundle));
        uploads.push(uploaded);
    }
    let first = &bundles[0];
    store
        .platforms()
        .set_current(first.1.platform(), &first.0.to_string())
        .await?;
    let mut matrix = Vec::new();
    for (from, _) in &bundles {
        for (to, target) in &bundles {
            if from == to {
                continue;
            }
            let report = compat::check(from, to, &target.manifest().compatibility);
            matrix.push(Pair {
                from: from.clone(),
                to: to.clone(),
                modes: judge(&report),
            });
        }
    }
    let demo = Demo {
        store: location.to_string(),
        uploads,
        matrix,
    };
    store.close().await;
    if ctx.json {
        return output::json(&demo);
    }
    print_demo(&demo);
    upgrade_the_sample_platform().await
}

/// Where the demo's platform, backups and records go (recreated on every run).
pub const DEMO_WORK_DIR: &str = ".changeover/demo";

/// The real run: the sample platform 1.0.0 with running workflows, upgraded to 1.0.1 with
/// zero downtime and to 1.1.0 with partial downtime (changeover-engine's demo).
async fn upgrade_the_sample_platform() -> anyhow::Result<()> {
    let work_dir = std::path::absolute(DEMO_WORK_DIR)?;
    let options = changeover_engine::demo::DemoOptions {
        bin_dir: changeover_engine::demo::exe_dir(),
        work_dir,
        bundles: SAMPLE_BUNDLES
            .iter()
            .map(|(name, bytes)| ((*name).to_owned(), bytes.to_vec()))
            .collect(),
    };
    changeover_engine::demo::run(options).await.map_err(|e| {
        failed(
            e,
            "build the sample platform beside changeover: cargo build --release --workspace",
        )
    })
}

fn print_demo(demo: &Demo) {
    println!("store: {} (fresh)\n", demo.store);
    println!("Catalog");
    println!(
        "{}\n",
        output::table(
            &["version", "platform", "format", "md5", "upload"],
            demo.uploads.iter().map(|u| {
                let md5 = u
                    .entry
                    .as_ref()
                    .map_or("", |e| output::short_digest(&e.md5))
                    .to_owned();
                [
                    u.version.clone(),
                    u.platform.clone(),
                    u.format.to_string(),
                    md5,
                    u.outcome.to_owned(),
                ]
            })
        )
    );
    println!("Upgrade modes (from -> to)");
    let mut reasons: Vec<String> = Vec::new();
    let rows: Vec<[String; 5]> = demo
        .matrix
        .iter()
        .map(|pair| {
            let mut cell = |mode: Mode| match pair.modes.iter().find(|v| v.mode == mode) {
                Some(v) if v.allowed => "allowed".to_owned(),
                Some(v) => {
                    let reason = v.reason.clone().unwrap_or_default();
                    let n = match reasons.iter().position(|r| *r == reason) {
                        Some(i) => i + 1,
                        None => {
                            reasons.push(reason);
                            reasons.len()
                        }
                    };
                    format!("refused [{n}]")
                }
                None => "-".to_owned(),
            };
            [
                pair.from.to_string(),
                pair.to.to_string(),
                cell(Mode::Full),
                cell(Mode::Partial),
                cell(Mode::Zero),
            ]
        })
        .collect();
    println!(
        "{}",
        output::table(
            &[
                "from",
                "to",
                "full-downtime",
                "partial-downtime",
                "zero-downtime"
            ],
            rows
        )
    );
    if !reasons.is_empty() {
        println!("\nReasons");
        for (i, reason) in reasons.iter().enumerate() {
            println!("  [{}] {reason}", i + 1);
        }
    }
}

/// Deletes the demo's SQLite file and its WAL companions so each run starts fresh.
fn remove_sqlite(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(failed(
                    format!(
                        "cannot remove the old demo store {}: {e}",
                        PathBuf::from(file).display()
                    ),
                    "remove it by hand or pass another --store",
                ));
            }
        }
    }
    Ok(())
}
