//! `changeover upgrade …`: start, follow, steer, stop and roll back an upgrade of the
//! platform. The work is `changeover-engine`'s console; this module resolves the runtime
//! settings and the store.

use std::path::PathBuf;
use std::sync::Arc;

use changeover_engine::adapter::store::{StoreLease, StoreRecords};
use changeover_engine::catalog::BundleVersions;
use changeover_engine::console::{Console, UpgradeCommand};
use changeover_engine::settings::{DEFAULT_CONTRACT_URL, PlatformSettings};
use changeover_store::Store;

use crate::context::Context;
use crate::failure::{bad_input, failed};

/// Where the platform's files go when --data-dir is not given.
const DEFAULT_DATA_DIR: &str = ".changeover/platform";

#[derive(Debug, clap::Args)]
#[command(
    about = "Upgrade the platform: start, status, next, retry, skip, terminate, force-terminate, rollback",
    long_about = "Upgrade the platform with full, partial or zero downtime. `start` creates the upgrade \
                  record and runs its steps; each step is saved before and after its effects, so a \
                  changeover stopped at any moment resumes with `changeover upgrade next`. Only one \
                  upgrade runs at a time.",
    after_help = "Examples:\n  changeover upgrade start --to 1.1.0 --mode partial --accept-risk --contact-email ops@example.com\n  changeover upgrade status\n  changeover upgrade tasks terminate --all\n  changeover upgrade next\n  changeover upgrade force-terminate --mark failed\n  changeover upgrade rollback upg-20261123-215612-7a1d\n  changeover upgrade records --json"
)]
pub struct Args {
    #[command(flatten)]
    pub platform: PlatformArgs,
    #[command(subcommand)]
    pub command: UpgradeCommand,
}

/// Where the platform runs: the flags `upgrade` and `serve` share.
#[derive(Debug, Clone, clap::Args)]
pub struct PlatformArgs {
    /// Directory of the platform's binaries ({bin_dir}); default: next to changeover
    #[arg(long, global = true, env = "CHANGEOVER_BIN_DIR", value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Directory of the platform's files, backups and process state ({data_dir})
    #[arg(long, global = true, env = "CHANGEOVER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Base URL of the platform's scheduler contract
    #[arg(
        long,
        global = true,
        env = "CHANGEOVER_CONTRACT_URL",
        value_name = "URL"
    )]
    pub contract_url: Option<String>,
    /// The platform's metadata database URL ({config.metadb.url})
    #[arg(
        long,
        global = true,
        env = "CHANGEOVER_METADB_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub metadb_url: Option<String>,
}

fn absolute(path: PathBuf) -> anyhow::Result<PathBuf> {
    std::path::absolute(&path).map_err(|e| {
        bad_input(
            format!("{} is not a usable path: {e}", path.display()),
            "give an existing directory",
        )
    })
}

/// The runtime settings from flags, environment and defaults.
pub fn settings(args: &PlatformArgs) -> anyhow::Result<PlatformSettings> {
    let bin_dir = match &args.bin_dir {
        Some(dir) => absolute(dir.clone())?,
        None => std::env::current_exe()?
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default(),
    };
    let data_dir = absolute(
        args.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
    )?;
    let settings = PlatformSettings {
        bin_dir,
        data_dir,
        contract_url: args
            .contract_url
            .clone()
            .unwrap_or_else(|| DEFAULT_CONTRACT_URL.to_owned()),
        metadb_url: args.metadb_url.clone(),
    };
    settings
        .validate()
        .map_err(|e| bad_input(e, "fix the flag or environment variable named"))?;
    Ok(settings)
}

/// The engine's console over `store` for the platform the flags describe.
pub fn console(
    args: &PlatformArgs,
    ctx: &Context,
    store: &Store,
    holder: String,
) -> anyhow::Result<Console> {
    let settings = settings(args)?;
    let platform = ctx.platform(None)?;
    let versions = BundleVersions {
        platform,
        settings: settings.clone(),
        bundles: Default::default(),
        store: Some(store.clone()),
        ports: Default::default(),
    };
    Ok(Console {
        store: Arc::new(StoreRecords(store.clone())),
        lease: Arc::new(StoreLease {
            store: store.clone(),
        }),
        versions: Arc::new(versions),
        settings,
        holder,
        progress: !ctx.json,
        json: ctx.json,
    })
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    if let Some(remote) = &ctx.remote {
        return crate::remote::upgrade::run(remote, args.command, ctx.json).await;
    }
    let store = ctx.store().await?;
    let console = console(
        &args.platform,
        ctx,
        &store,
        format!("changeover-{}", std::process::id()),
    )?;
    console
        .execute(args.command)
        .await
        .map_err(|e| failed(e.to_string(), "see `changeover upgrade status`"))
}
