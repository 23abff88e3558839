//! [`RecordStore`] over the control-plane store (`changeover-store`'s upgrades repository):
//! the record is kept as its JSON document.

use async_trait::async_trait;
use changeover_store::Store;
use changeover_store::upgrades::UpgradeRow;

use crate::port::{PortError, RecordStore, Records, Requests};
use crate::upgrade::UpgradeRecord;

/// The store's upgrade records.
#[derive(Clone)]
pub struct StoreRecords(pub Store);

fn status_name(record: &UpgradeRecord) -> String {
    serde_json::to_value(record.status)
        .ok()
        .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_else(|| record.status.label().to_owned())
}

fn to_row(record: &UpgradeRecord) -> Result<UpgradeRow, PortError> {
    let created = record
        .milestones
        .created_at
        .map(|t| t.to_string())
        .unwrap_or_default();
    let updated = record
        .log
        .last()
        .map(|l| l.at.to_string())
        .unwrap_or_else(|| created.clone());
    Ok(UpgradeRow {
        id: record.id.clone(),
        platform: record.platform.clone(),
        from_version: record.from_version.clone(),
        to_version: record.to_version.clone(),
        mode: record.mode.words().to_owned(),
        status: status_name(record),
        active: record.status.is_active(),
        created_at: created,
        updated_at: updated,
        record: serde_json::to_string(record)?,
    })
}

fn from_row(row: UpgradeRow) -> Result<UpgradeRecord, PortError> {
    serde_json::from_str(&row.record).map_err(|e| {
        format!(
            "upgrade record {} in the store is not readable by this changeover: {e}",
            row.id
        )
        .into()
    })
}

#[async_trait]
impl Records for StoreRecords {
    async fn save(&self, record: &UpgradeRecord) -> Result<(), PortError> {
        self.0.upgrades().save(&to_row(record)?).await?;
        Ok(())
    }
}

#[async_trait]
impl RecordStore for StoreRecords {
    async fn insert(&self, record: &UpgradeRecord) -> Result<(), PortError> {
        self.0.upgrades().insert(&to_row(record)?).await?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<UpgradeRecord, PortError> {
        let row = self.0.upgrades().get(id).await?.ok_or_else(|| {
            format!("no upgrade record {id}; list them with `changeover upgrade records`")
        })?;
        from_row(row)
    }

    async fn active(&self) -> Result<Option<UpgradeRecord>, PortError> {
        self.0.upgrades().active().await?.map(from_row).transpose()
    }

    async fn list(&self) -> Result<Vec<UpgradeRecord>, PortError> {
        self.0
            .upgrades()
            .list()
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }
}

/// Operator requests in the store (`upgrade_requests`, migration 0011).
#[derive(Clone)]
pub struct StoreRequests(pub Store);

/// The request kind of a data-update stop.
const STOP: &str = "stop";

#[async_trait]
impl Requests for StoreRequests {
    async fn request_stop(&self, upgrade: &str, task: &str, by: &str) -> Result<(), PortError> {
        sqlx::query(
            "INSERT INTO upgrade_requests (upgrade_id, kind, target, requested_by, requested_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (upgrade_id, kind, target) DO NOTHING",
        )
        .bind(upgrade)
        .bind(STOP)
        .bind(task)
        .bind(by)
        .bind(crate::now().to_string())
        .execute(self.0.pool())
        .await
        .map_err(|e| format!("saving the stop request of `{task}` in the store failed: {e}"))?;
        Ok(())
    }

    async fn stop_requests(&self, upgrade: &str) -> Result<Vec<(String, String)>, PortError> {
        let rows = sqlx::query(
            "SELECT target, requested_by FROM upgrade_requests \
             WHERE upgrade_id = $1 AND kind = $2 ORDER BY target",
        )
        .bind(upgrade)
        .bind(STOP)
        .fetch_all(self.0.pool())
        .await
        .map_err(|e| format!("reading stop requests from the store failed: {e}"))?;
        rows.iter()
            .map(|row| {
                use sqlx::Row as _;
                Ok((row.try_get(0)?, row.try_get(1)?))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| format!("reading stop requests from the store failed: {e}").into())
    }

    async fn clear_stop(&self, upgrade: &str, task: &str) -> Result<(), PortError> {
        sqlx::query(
            "DELETE FROM upgrade_requests WHERE upgrade_id = $1 AND kind = $2 AND target = $3",
        )
        .bind(upgrade)
        .bind(STOP)
        .bind(task)
        .execute(self.0.pool())
        .await
        .map_err(|e| format!("clearing the stop request of `{task}` failed: {e}"))?;
        Ok(())
    }
}

/// The one-upgrade-at-a-time lease in the store.
pub struct StoreLease {
    pub store: Store,
}

/// The lease's name in the store.
pub const UPGRADE_LEASE: &str = "upgrade";

/// Time to live: three missed heartbeats ([`crate::session::HEARTBEAT`]) lose it; a killed
/// changeover's lease is taken over this long after its last heartbeat.
pub const UPGRADE_LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(15);

#[async_trait]
impl crate::session::Lease for StoreLease {
    async fn acquire(&self, holder: &str) -> Result<(), PortError> {
        self.store
            .leases()
            .acquire(UPGRADE_LEASE, holder, UPGRADE_LEASE_TTL)
            .await?;
        Ok(())
    }

    async fn renew(&self, holder: &str) -> Result<(), PortError> {
        self.store
            .leases()
            .renew(UPGRADE_LEASE, holder, UPGRADE_LEASE_TTL)
            .await?;
        Ok(())
    }

    async fn release(&self, holder: &str) -> Result<(), PortError> {
        self.store.leases().release(UPGRADE_LEASE, holder).await?;
        Ok(())
    }

    fn requests(&self) -> Option<std::sync::Arc<dyn Requests>> {
        Some(std::sync::Arc::new(StoreRequests(self.store.clone())))
    }
}
