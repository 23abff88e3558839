//! Whether the platform is in maintenance mode, as the upgrade engine recorded it: the active
//! upgrade record with `entered_maintenance_at` set and `maintenance_exited_at` not yet set
//! ([`UpgradeRecord::in_maintenance`]), polled from the store.
//!
//! # Guarantees
//! - A store that cannot be read, or a record that cannot be parsed, keeps the last known
//!   state (logged): a database blip neither opens nor closes the console.
//!
//! # Caveats
//! - The state is at most one poll interval old.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use changeover_core::upgrade::{Announcement, UpgradeRecord};
use changeover_store::Store;

/// How often the store is read by default: maintenance mode is entered by an operator and
/// lasts minutes, a second of delay is invisible.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// The maintenance state the gateway acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Maintenance {
    pub on: bool,
    /// The upgrade that put the platform into maintenance.
    pub upgrade_id: Option<String>,
    pub announcement: Option<Announcement>,
}

/// The last state read, shared by the poller and the request handlers.
#[derive(Clone, Default)]
pub struct MaintenanceWatch {
    state: Arc<RwLock<Maintenance>>,
}

impl MaintenanceWatch {
    /// The state right now (a copy).
    pub fn current(&self) -> Maintenance {
        self.state.read().map(|s| s.clone()).unwrap_or_default()
    }

    fn set(&self, next: Maintenance) {
        if let Ok(mut s) = self.state.write() {
            if *s != next {
                tracing::info!(on = next.on, upgrade = ?next.upgrade_id, "maintenance mode changed");
            }
            *s = next;
        }
    }

    /// Reads the store once and updates the state.
    pub async fn refresh(&self, store: &Store) {
        match read(store).await {
            Ok(state) => self.set(state),
            Err(reason) => {
                tracing::warn!(%reason, "cannot read maintenance mode; keeping the last state")
            }
        }
    }

    /// Polls the store every `every` until the task is dropped or aborted.
    pub fn spawn_poller(&self, store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
        let watch = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                watch.refresh(&store).await;
            }
        })
    }
}

/// Reads the maintenance state from the store once.
pub async fn read(store: &Store) -> Result<Maintenance, String> {
    let Some(row) = store.upgrades().active().await.map_err(|e| e.to_string())? else {
        return Ok(Maintenance::default());
    };
    let record: UpgradeRecord = serde_json::from_str(&row.record)
        .map_err(|e| format!("upgrade record {} is unreadable: {e}", row.id))?;
    if !record.in_maintenance() {
        return Ok(Maintenance::default());
    }
    Ok(Maintenance {
        on: true,
        upgrade_id: Some(record.id),
        announcement: Some(record.announcement),
    })
}
