//! `changeover version upload`: validate a bundle, then import it (new version) or overwrite
//! it (known version). Blocking errors store nothing.

use std::io::Read as _;
use std::path::PathBuf;

use changeover_core::bundle::MAX_BUNDLE_BYTES;

use crate::context::Context;
use crate::failure::bad_input;
use crate::output;

/// Validate a version bundle, then import or overwrite it
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Validate a version bundle, then import or overwrite it.\n\nValidate a version bundle (a YAML file, or a ZIP with bundle.yaml, template/, \
                  overlays/ and values.yaml) and print the report: missing configuration items, \
                  warnings (a template that differs from the one registered for the version, values \
                  that differ from those running now) and blocking errors (malformed file with its \
                  line and column or ZIP entry, unsafe ZIP entries, overlays or values incompatible \
                  with the template). Without blocking errors the bundle is imported (new version) \
                  or overwrites the known version; with any, nothing is stored and the exit code is 2.",
    after_help = "Examples:\n  changeover version upload bundles/sample/1.0.0.yaml\n  changeover version upload sample-1.1.0.zip --platform sample\n  changeover version upload 1.1.0.yaml --json"
)]
pub struct Args {
    /// The bundle file (.yaml or .zip)
    file: PathBuf,
    /// Refuse the bundle unless it is for this platform (default: the bundle's own platform)
    #[arg(long)]
    platform: Option<String>,
}

pub use changeover_engine::console::upload::Uploaded;
use changeover_engine::console::upload::{self as catalog_upload, Known, UploadError};

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let shown = args.file.display().to_string();
    let bytes = read_file(&args.file)?;
    let file_name = args
        .file
        .file_name()
        .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
    if let Some(remote) = &ctx.remote {
        return crate::remote::version::upload(
            remote,
            &shown,
            &file_name,
            bytes,
            args.platform.as_deref(),
            ctx.json,
        )
        .await;
    }
    let store = ctx.store().await?;
    let uploaded = validate_and_store(&store, bytes, &file_name, args.platform.as_deref()).await?;
    if ctx.json {
        output::json(&uploaded)?;
    } else {
        print_report(&shown, &uploaded);
    }
    if uploaded.outcome == "blocked" {
        let count = uploaded.report.errors.len();
        return Err(bad_input(
            format!(
                "{shown} is blocked by {count} error{}; nothing was stored",
                if count == 1 { "" } else { "s" }
            ),
            "fix the errors listed and upload the bundle again",
        ));
    }
    Ok(())
}

/// Reads and validates a bundle, and stores it when nothing blocks it (a known version is
/// overwritten). A file that cannot be read as a bundle is bad input; a bundle with
/// blocking errors is `outcome: "blocked"`.
pub async fn validate_and_store(
    store: &changeover_store::Store,
    bytes: Vec<u8>,
    file_name: &str,
    platform_filter: Option<&str>,
) -> anyhow::Result<Uploaded> {
    catalog_upload::validate_and_store(store, bytes, file_name, platform_filter, Known::Overwrite)
        .await
        .map_err(|e| match e {
            UploadError::Unreadable(e) => bad_input(
                format!("{e}"),
                "fix the bundle at the place named and upload it again",
            ),
            e @ UploadError::WrongPlatform { .. } => bad_input(
                e.to_string(),
                "upload it without --platform, or choose the bundle of the right platform",
            ),
            UploadError::Store(e) => e.into(),
            other => anyhow::Error::new(other),
        })
}

fn read_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| {
        bad_input(
            format!("cannot read {shown}: {e}"),
            "give the path of a bundle file (.yaml or .zip)",
        )
    })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(bad_input(
            format!("{shown} is a directory"),
            "give the path of a bundle file (.yaml or .zip)",
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_BUNDLE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            bad_input(
                format!("cannot read {shown}: {e}"),
                "check the file's permissions",
            )
        })?;
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(bad_input(
            format!("{shown} is larger than {MAX_BUNDLE_BYTES} bytes, the most a bundle may be"),
            "a bundle holds a manifest, a template, overlays and SQL: check you chose the right file",
        ));
    }
    Ok(bytes)
}

/// The report for people.
pub fn print_report(file: &str, u: &Uploaded) {
    println!(
        "{file}: platform {} version {} ({})",
        u.platform, u.version, u.format
    );
    let r = &u.report;
    if !r.missing_items.is_empty() {
        println!("missing configuration items:");
        for key in &r.missing_items {
            println!("  - {key}");
        }
    }
    if !r.warnings.is_empty() {
        println!("warnings:");
        for w in &r.warnings {
            println!("  - {w}");
        }
    }
    if !r.errors.is_empty() {
        println!("blocking errors:");
        for e in &r.errors {
            println!("  - {e}");
        }
    }
    if let Some(entry) = &u.entry {
        let verb = if u.outcome == "imported" {
            "imported"
        } else {
            "overwrote"
        };
        println!(
            "{verb} {} {} (md5 {}, {} bytes)",
            entry.platform, entry.version, entry.md5, entry.size
        );
    }
}
