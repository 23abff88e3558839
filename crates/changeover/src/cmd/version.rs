//! `changeover version`: the catalog of version bundles — upload (validate, then import or
//! overwrite), list, show, download unchanged, and check which upgrade modes are allowed.

pub mod check;
mod download;
mod list;
pub mod show;
pub mod upload;

use changeover_core::Version;
use clap::{Args as ClapArgs, Subcommand};

use crate::context::Context;
use crate::failure::bad_input;

pub use check::judge;

#[derive(Debug, ClapArgs)]
#[command(
    about = "Upload, list, show, download and check version bundles",
    long_about = "Upload, list, show, download and check version bundles.\n\nThe version catalog. A version bundle (one YAML file, or a ZIP with bundle.yaml, \
                  template/, overlays/, values.yaml) describes one target version of a platform: \
                  its applications, databases, migrations, data updates and compatibility rules. \
                  Upload validates a bundle, then imports it (new version) or overwrites it (known \
                  version); download returns it byte for byte; check says which upgrade modes are \
                  allowed between two versions and why the others are refused.",
    after_help = "Examples:\n  changeover version upload bundles/sample/1.1.0.yaml\n  changeover version list\n  changeover version show 1.1.0\n  changeover version download 1.1.0 -o /tmp/1.1.0.yaml\n  changeover version check --from 1.0.0 --to 1.1.0"
)]
pub struct Args {
    #[command(subcommand)]
    command: VersionCommand,
}

#[derive(Debug, Subcommand)]
enum VersionCommand {
    Upload(upload::Args),
    List(list::Args),
    Show(show::Args),
    Download(download::Args),
    Check(check::Args),
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    match args.command {
        VersionCommand::Upload(a) => upload::run(a, ctx).await,
        VersionCommand::List(a) => list::run(a, ctx).await,
        VersionCommand::Show(a) => show::run(a, ctx).await,
        VersionCommand::Download(a) => download::run(a, ctx).await,
        VersionCommand::Check(a) => check::run(a, ctx).await,
    }
}

/// Parses a version given on the command line; a bad one is bad input naming `what`.
pub fn parse_version(text: &str, what: &str) -> anyhow::Result<Version> {
    text.parse::<Version>().map_err(|e| {
        bad_input(
            format!("{what}: {e}"),
            "write a version like 1.0.0, 5.1.2.04, V5.1.2.04 or 4.2.9-CE",
        )
    })
}

/// The catalog's entry for a version given on the command line, or a clear "not found".
pub async fn stored(
    store: &changeover_store::Store,
    platform: &str,
    version: &Version,
) -> anyhow::Result<changeover_store::StoredVersion> {
    store.catalog().get(platform, &version.to_string()).await?.ok_or_else(|| {
        bad_input(
            format!("version {version} of platform {platform} is not in the catalog"),
            "see `changeover version list`, or upload its bundle with `changeover version upload FILE`",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use changeover_engine::console::upload::sort_key;

    #[test]
    fn sort_key_follows_version_order() {
        let texts = [
            "1", "1.0", "1.0.0", "1.2", "1.10", "4.2.9", "4.2.9-CE", "4.2.9-EE", "5.1.2.4",
            "5.1.2.04", "10",
        ];
        let versions: Vec<Version> = texts.iter().map(|t| t.parse().unwrap()).collect();
        for pair in versions.windows(2) {
            assert_eq!(
                pair[0].cmp(&pair[1]),
                sort_key(&pair[0]).cmp(&sort_key(&pair[1])),
                "{:?}",
                pair
            );
        }
    }
}
