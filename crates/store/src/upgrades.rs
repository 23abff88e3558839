//! Upgrade records (written by `changeover-engine`): one row per upgrade holding the whole
//! record as a JSON document, with the columns the records list shows and sorts on. This
//! module does not interpret the document; the engine (de)serializes it.
//!
//! # Guarantees
//! - At most one record is active (configuring, upgrading, terminating, rolling back): the
//!   `active_slot` column is unique, so of two changeovers starting at once one is refused.
//! - [`Upgrades::save`] replaces a record's row in one statement: never half written.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError};

/// One upgrade record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRow {
    pub id: String,
    pub platform: String,
    pub from_version: String,
    pub to_version: String,
    pub mode: String,
    pub status: String,
    /// Holds the one-upgrade-at-a-time slot.
    pub active: bool,
    /// Text timestamps (RFC 3339, UTC) as the engine wrote them.
    pub created_at: String,
    pub updated_at: String,
    /// The record, JSON.
    pub record: String,
}

/// Why a record cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum UpgradesError {
    #[error(
        "upgrade {id} is {status}: only one upgrade at a time; continue it with `changeover upgrade next`, or end it with `changeover upgrade terminate` or `force-terminate`"
    )]
    Busy { id: String, status: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The upgrade records.
pub struct Upgrades<'s> {
    store: &'s Store,
}

impl Store {
    /// The upgrade records.
    pub fn upgrades(&self) -> Upgrades<'_> {
        Upgrades { store: self }
    }
}

macro_rules! columns {
    () => {
        "id, platform, from_version, to_version, mode, status, active_slot, created_at, updated_at, record"
    };
}
const INSERT: &str = concat!(
    "INSERT INTO upgrades (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
);
const SELECT_ONE: &str = concat!("SELECT ", columns!(), " FROM upgrades WHERE id = $1");
const SELECT_ACTIVE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM upgrades WHERE active_slot IS NOT NULL"
);
const SELECT_ALL: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM upgrades ORDER BY created_at DESC, id DESC"
);

fn row(r: &AnyRow) -> Result<UpgradeRow, StoreError> {
    let text = |name: &str| -> Result<String, StoreError> {
        r.try_get::<String, _>(name)
            .map_err(StoreError::query("read an upgrade record"))
    };
    let slot: Option<String> = r
        .try_get("active_slot")
        .map_err(StoreError::query("read an upgrade record"))?;
    Ok(UpgradeRow {
        id: text("id")?,
        platform: text("platform")?,
        from_version: text("from_version")?,
        to_version: text("to_version")?,
        mode: text("mode")?,
        status: text("status")?,
        active: slot.is_some(),
        created_at: text("created_at")?,
        updated_at: text("updated_at")?,
        record: text("record")?,
    })
}

fn slot(active: bool) -> Option<&'static str> {
    active.then_some("active")
}

impl Upgrades<'_> {
    /// Adds a new record; refused with [`UpgradesError::Busy`] while another is active.
    pub async fn insert(&self, new: &UpgradeRow) -> Result<(), UpgradesError> {
        if new.active
            && let Some(active) = self.active().await?
        {
            return Err(UpgradesError::Busy {
                id: active.id,
                status: active.status,
            });
        }
        let result = sqlx::query(INSERT)
            .bind(&new.id)
            .bind(&new.platform)
            .bind(&new.from_version)
            .bind(&new.to_version)
            .bind(&new.mode)
            .bind(&new.status)
            .bind(slot(new.active))
            .bind(&new.created_at)
            .bind(&new.updated_at)
            .bind(&new.record)
            .execute(self.store.pool())
            .await;
        match result {
            Ok(_) => Ok(()),
            // lost a race for the slot with another changeover
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && new.active => {
                match self.active().await? {
                    Some(active) => Err(UpgradesError::Busy {
                        id: active.id,
                        status: active.status,
                    }),
                    None => Err(StoreError::Corrupt {
                        what: "upgrade record",
                        detail: format!("upgrade id {} is already taken", new.id),
                    }
                    .into()),
                }
            }
            Err(e) => Err(StoreError::query("add an upgrade record")(e).into()),
        }
    }

    /// Replaces a record's row (status, slot, document).
    pub async fn save(&self, record: &UpgradeRow) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE upgrades SET status = $1, active_slot = $2, updated_at = $3, record = $4, \
             mode = $5 WHERE id = $6",
        )
        .bind(&record.status)
        .bind(slot(record.active))
        .bind(&record.updated_at)
        .bind(&record.record)
        .bind(&record.mode)
        .bind(&record.id)
        .execute(self.store.pool())
        .await
        .map_err(StoreError::query("save an upgrade record"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Corrupt {
                what: "upgrade record",
                detail: format!("upgrade {} is not in the store", record.id),
            });
        }
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Option<UpgradeRow>, StoreError> {
        sqlx::query(SELECT_ONE)
            .bind(id)
            .fetch_optional(self.store.pool())
            .await
            .map_err(StoreError::query("read an upgrade record"))?
            .map(|r| row(&r))
            .transpose()
    }

    /// The record holding the one-upgrade-at-a-time slot.
    pub async fn active(&self) -> Result<Option<UpgradeRow>, StoreError> {
        sqlx::query(SELECT_ACTIVE)
            .fetch_optional(self.store.pool())
            .await
            .map_err(StoreError::query("read the active upgrade"))?
            .map(|r| row(&r))
            .transpose()
    }

    /// Every record, newest first.
    pub async fn list(&self) -> Result<Vec<UpgradeRow>, StoreError> {
        sqlx::query(SELECT_ALL)
            .fetch_all(self.store.pool())
            .await
            .map_err(StoreError::query("list upgrade records"))?
            .iter()
            .map(row)
            .collect()
    }
}
