//! The command line: global options and the top-level commands.
//!
//! Adding a command group: write `src/cmd/<name>.rs` with `pub struct Args` (clap `Args`
//! with `about`, `long_about` and an `Examples:` `after_help`) and
//! `pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()>`, add `pub mod <name>;`
//! to `src/cmd/mod.rs`, and one line to the `commands!` list below.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::context::Context;

const EXAMPLES: &str = "Examples:
  changeover demo
  changeover version upload bundles/sample/1.1.0.yaml
  changeover version list
  changeover version check --from 1.0.0 --to 1.1.0
  changeover --store postgres://postgres@127.0.0.1:5432/changeover version list --json";

/// changeover upgrades a running data platform with full, partial or zero downtime.
#[derive(Debug, Parser)]
#[command(
    name = "changeover",
    version,
    about = "Upgrade a running data platform with full, partial or zero downtime",
    long_about = "Upgrade a running data platform with full, partial or zero downtime.\n\nchangeover upgrades a running data platform from one version to the next with full, \
                  partial or zero downtime, backs up and can roll back its metadata databases, verifies \
                  the result, and migrates metadata live across major versions.\n\n\
                  State lives in the store: a SQLite file (default ./.changeover/changeover.db) or a \
                  PostgreSQL database. The store is chosen by --store, else CHANGEOVER_STORE, else \
                  `store:` in the config file (--config, default ./changeover.yaml), else the default.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// Config file (YAML: `store:`, `platform:`); default ./changeover.yaml when present
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Store: a SQLite file path or postgres://user@host:port/db (overrides CHANGEOVER_STORE)
    #[arg(long, global = true, value_name = "URL|PATH")]
    pub store: Option<String>,
    /// Machine-readable JSON on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Talk to a `changeover serve` at this URL instead of the local store (upgrade, version, audit)
    #[arg(long, global = true, env = "CHANGEOVER_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// API token for --server (prefer CHANGEOVER_TOKEN: arguments are visible to other users)
    #[arg(
        long,
        global = true,
        env = "CHANGEOVER_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<crate::remote::Token>,
    /// More logs on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Declares the top-level commands and their dispatch: one line per command group.
macro_rules! commands {
    ($($(#[$meta:meta])* $variant:ident => $module:ident,)+) => {
        #[derive(Debug, Subcommand)]
        pub enum Command {
            $($(#[$meta])* $variant(crate::cmd::$module::Args),)+
        }

        impl Command {
            /// Runs the chosen command.
            pub async fn run(self, ctx: &Context) -> anyhow::Result<()> {
                match self {
                    $(Command::$variant(args) => Box::pin(crate::cmd::$module::run(args, ctx)).await,)+
                }
            }
        }
    };
}

commands! {
    Version => version,
    Platform => platform,
    Backup => backup,
    Upgrade => upgrade,
    Demo => demo,
    Serve => serve,
    Gateway => gateway,
    User => user,
    Audit => audit,
    Migrate => migrate,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
