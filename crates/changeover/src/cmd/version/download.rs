//! `changeover version download`: the uploaded file, byte for byte.

use std::io::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::context::Context;
use crate::failure::{bad_input, failed};
use crate::output;

/// Write a version's bundle to a file, exactly as uploaded
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Write a version's bundle to a file, exactly as uploaded.\n\nWrite the bundle of a version to a file, byte for byte as it was uploaded (same MD5 \
                  and SHA-256). An existing file is not replaced unless --force is given.",
    after_help = "Examples:\n  changeover version download 1.1.0 -o 1.1.0.yaml\n  changeover version download 1.1.0 -o bundle.zip --force"
)]
pub struct Args {
    /// The version to download
    version: String,
    /// The file to write
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Replace the file if it exists
    #[arg(long)]
    force: bool,
    /// The platform (default: `platform:` in the config file, else sample)
    #[arg(long)]
    platform: Option<String>,
}

#[derive(Serialize)]
struct Downloaded {
    platform: String,
    version: String,
    file: PathBuf,
    size: usize,
    md5: String,
    sha256: String,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let platform = ctx.platform(args.platform.as_deref())?;
    let version = super::parse_version(&args.version, "the version")?;
    let (content, md5, sha256) = match &ctx.remote {
        Some(remote) => {
            let (bytes, row) =
                crate::remote::version::download(remote, &platform, &version.to_string()).await?;
            (bytes, row.md5, row.sha256)
        }
        None => {
            let store = ctx.store().await?;
            let stored = super::stored(&store, &platform, &version).await?;
            (stored.content, stored.entry.md5, stored.entry.sha256)
        }
    };
    let shown = args.output.display().to_string();
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(&args.output).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => bad_input(
            format!("{shown} already exists"),
            "choose another file with -o, or pass --force to replace it",
        ),
        _ => failed(
            format!("cannot write {shown}: {e}"),
            "check the directory exists and is writable",
        ),
    })?;
    file.write_all(&content)
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            failed(
                format!("cannot write {shown}: {e}"),
                "check the free space and permissions",
            )
        })?;
    let done = Downloaded {
        platform,
        version: version.to_string(),
        file: args.output,
        size: content.len(),
        md5,
        sha256,
    };
    if ctx.json {
        return output::json(&done);
    }
    println!(
        "wrote {} ({} bytes, md5 {}) to {shown}",
        done.version, done.size, done.md5
    );
    Ok(())
}
