//! What every command gets: the global options resolved (config file, store location,
//! output mode), and a way to open the store.

use std::path::PathBuf;

use changeover_store::{Location, LocationSource, STORE_ENV, Store};

use crate::cli::Global;
use crate::config::{self, Config, DEFAULT_PLATFORM};

/// The resolved global options.
pub struct Context {
    pub json: bool,
    /// The `changeover serve` to talk to instead of the store (`--server`).
    pub remote: Option<crate::remote::Remote>,
    store_flag: Option<String>,
    config: Config,
    config_path: Option<PathBuf>,
}

impl Context {
    /// Reads the config file (if any) named by the global options.
    pub fn new(global: &Global) -> anyhow::Result<Context> {
        let (config, config_path) = config::load(global.config.as_deref())?;
        let remote =
            crate::remote::Remote::from_options(global.server.as_deref(), global.token.as_ref())?;
        Ok(Context {
            json: global.json,
            remote,
            store_flag: global.store.clone(),
            config,
            config_path,
        })
    }

    /// The `--store` flag as given.
    pub fn store_flag(&self) -> Option<&str> {
        self.store_flag.as_deref()
    }

    /// Where the store is, and which setting said so.
    pub fn store_location(&self) -> anyhow::Result<(Location, LocationSource)> {
        let env = std::env::var(STORE_ENV).ok();
        let from_config = match (&self.config.store, &self.config_path) {
            (Some(store), Some(path)) => Some((store.as_str(), path.as_path())),
            _ => None,
        };
        Ok(Location::resolve(
            self.store_flag.as_deref(),
            env.as_deref(),
            from_config,
        )?)
    }

    /// Opens the store (creating a SQLite file on first use). With `--server` the store is
    /// the server's: commands without a remote mode are refused here.
    pub async fn store(&self) -> anyhow::Result<Store> {
        if self.remote.is_some() {
            return Err(crate::failure::bad_input(
                "this command works on the local store only, not with --server",
                "run it without --server (and CHANGEOVER_SERVER) on the server's host; with --server use upgrade, version upload|list|download|check and audit",
            ));
        }
        let (location, source) = self.store_location()?;
        tracing::debug!(store = %location, from = %source, "opening the store");
        Store::open(&location).await.map_err(|e| {
            crate::failure::failed(
                e.to_string(),
                format!(
                    "the store location came from {source}; check it, or pass another with --store"
                ),
            )
        })
    }

    /// The platform a command acts on: `--platform`, else `platform:` in the config file,
    /// else the sample platform.
    pub fn platform(&self, flag: Option<&str>) -> anyhow::Result<String> {
        let name = flag
            .or(self.config.platform.as_deref())
            .unwrap_or(DEFAULT_PLATFORM);
        crate::cmd::check_platform_name(name).map_err(|e| {
            crate::failure::bad_input(
                format!("--platform: {e}"),
                "use letters, digits, '-', '_' and '.'",
            )
        })?;
        Ok(name.to_owned())
    }
}
