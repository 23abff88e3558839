//! Where the managed platform runs: the runtime settings an upgrade needs besides the
//! bundles. Raw, serde-parsed settings; [`PlatformSettings::validate`] checks them without
//! I/O.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The scheduler contract's default address on the sample platform (its scheduler port).
pub const DEFAULT_CONTRACT_URL: &str = "http://127.0.0.1:18080";

/// Runtime settings of one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformSettings {
    /// Where the platform's binaries are (`{bin_dir}` in bundles).
    pub bin_dir: PathBuf,
    /// Where the platform and changeover keep their files (`{data_dir}`): process state,
    /// backups, data-update ledger.
    pub data_dir: PathBuf,
    /// Base URL of the scheduler contract (`/changeover/v1` is appended by the client).
    #[serde(default = "default_contract_url")]
    pub contract_url: String,
    /// The metadata database URL (`{config.metadb.url}`); a secret when it has a password.
    pub metadb_url: Option<String>,
}

fn default_contract_url() -> String {
    DEFAULT_CONTRACT_URL.to_owned()
}

impl PlatformSettings {
    /// The process driver's state directory.
    pub fn process_state_dir(&self) -> PathBuf {
        self.data_dir.join("processes")
    }

    /// Checks the settings; the message names the field and what to do.
    pub fn validate(&self) -> Result<(), String> {
        if !self.bin_dir.is_absolute() {
            return Err(format!(
                "platform.bin_dir `{}` must be an absolute path",
                self.bin_dir.display()
            ));
        }
        if !self.data_dir.is_absolute() {
            return Err(format!(
                "platform.data_dir `{}` must be an absolute path",
                self.data_dir.display()
            ));
        }
        let url = url::Url::parse(&self.contract_url).map_err(|e| {
            format!(
                "platform.contract_url `{}` is not a URL ({e}); e.g. {DEFAULT_CONTRACT_URL}",
                self.contract_url
            )
        })?;
        if url.scheme() != "http" {
            return Err(format!(
                "platform.contract_url `{}` must be an http:// URL",
                self.contract_url
            ));
        }
        Ok(())
    }
}
