//! The platform the API acts on, and the background drive of its upgrade record.
//!
//! # Guarantees
//! - At most one drive runs in this server at a time ([`Platform::claim`]); an action that
//!   would change a record while this server drives it is refused (409 `conflict`), so a
//!   drive never overwrites an operator's action with its older copy of the record.
//! - A drive runs under the store's upgrade lease ([`changeover_engine::session::drive_leased`],
//!   the same as `changeover upgrade`): another changeover (a CLI, another server) holding
//!   it refuses the action up front; one that takes it meanwhile makes the drive stop with a
//!   refusal in the server log.
//! - Everything a drive does is saved in the record before and after each effect: a server
//!   killed mid-drive leaves a record that the next drive (`POST …/next`, or the CLI)
//!   resumes once the lease has expired.
//!
//! # Caveats
//! - While a drive runs (a step is busy), actions on that record, force-terminate included,
//!   wait until it stops for the operator or ends.

use std::sync::{Arc, Mutex};

use changeover_engine::adapter::store::UPGRADE_LEASE;
use changeover_engine::console::Console;
use changeover_engine::upgrade::UpgradeRecord;
use changeover_store::Store;

use super::error::ApiError;

/// The platform: the engine's console over the store, and what this server drives now.
pub struct Platform {
    pub console: Console,
    /// The id of the record a background drive is driving, if any.
    driving: Mutex<Option<String>>,
}

/// The right to change the record and drive it; released when dropped (by the drive's task
/// when one was started).
pub struct Claim {
    platform: Arc<Platform>,
}

impl Claim {
    /// Names the record claimed once it has an id (a new upgrade).
    pub fn rename(&self, id: &str) {
        if let Ok(mut d) = self.platform.driving.lock() {
            *d = Some(id.to_owned());
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Ok(mut d) = self.platform.driving.lock() {
            *d = None;
        }
    }
}

impl Platform {
    pub fn new(console: Console) -> Platform {
        Platform {
            console,
            driving: Mutex::new(None),
        }
    }

    /// The record a background drive is driving now, if any.
    pub fn driving(&self) -> Option<String> {
        self.driving.lock().ok().and_then(|d| d.clone())
    }

    /// Claims the right to change record `id`: refused while a drive runs here, or while
    /// another changeover holds the upgrade lease.
    pub async fn claim(self: &Arc<Self>, store: &Store, id: &str) -> Result<Claim, ApiError> {
        {
            let mut d = self
                .driving
                .lock()
                .map_err(|_| ApiError::internal("the drive state lock is poisoned"))?;
            if let Some(busy) = d.as_ref() {
                return Err(ApiError::conflict(format!(
                    "upgrade {busy} is being driven by this server; wait until it stops for the operator or ends (GET /api/v1/upgrades/{busy})"
                )));
            }
            *d = Some(id.to_owned());
        }
        let claim = Claim {
            platform: self.clone(),
        };
        if let Some(lease) = store.leases().get(UPGRADE_LEASE).await?
            && lease.holder != self.console.holder
            && lease.expires_at > chrono::Utc::now()
        {
            return Err(ApiError::conflict(format!(
                "another changeover ({}) drives the upgrade until {} unless it renews its lease; wait for it to stop",
                lease.holder,
                lease.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
            )));
        }
        Ok(claim)
    }

    /// Drives `record` in a background task until it ends or waits for the operator; the
    /// claim is released when the task ends.
    pub fn drive(self: &Arc<Self>, claim: Claim, mut record: UpgradeRecord) {
        let platform = self.clone();
        tokio::spawn(async move {
            let _claim = claim;
            match platform.console.drive_quiet(&mut record).await {
                Ok(stop) => {
                    tracing::info!(upgrade = %record.id, stop = ?stop, "the drive stopped")
                }
                Err(err) => {
                    tracing::error!(upgrade = %record.id, error = %err, "the drive failed")
                }
            }
        });
    }
}
