//! The platforms being managed: the version running now and the configuration values it
//! runs with (bundle validation warns when an upload's values differ from these).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, time};

/// One managed platform.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Platform {
    pub name: String,
    /// The version running now; `None` before the first install.
    pub current_version: Option<String>,
    /// The configuration values running now, key -> value.
    pub running_values: BTreeMap<String, serde_json::Value>,
    pub updated_at: DateTime<Utc>,
}

/// The platform repository.
pub struct Platforms<'s> {
    store: &'s Store,
}

impl Store {
    /// The managed platforms.
    pub fn platforms(&self) -> Platforms<'_> {
        Platforms { store: self }
    }
}

impl Platforms<'_> {
    /// One platform, or `None` when it was never recorded.
    pub async fn get(&self, name: &str) -> Result<Option<Platform>, StoreError> {
        sqlx::query("SELECT name, current_version, running_values, updated_at FROM platform WHERE name = $1")
            .bind(name)
            .fetch_optional(self.store.pool())
            .await
            .map_err(StoreError::query("read a platform"))?
            .map(|row| platform_from_row(&row))
            .transpose()
    }

    /// Every platform, by name.
    pub async fn list(&self) -> Result<Vec<Platform>, StoreError> {
        sqlx::query(
            "SELECT name, current_version, running_values, updated_at FROM platform ORDER BY name",
        )
        .fetch_all(self.store.pool())
        .await
        .map_err(StoreError::query("list platforms"))?
        .iter()
        .map(platform_from_row)
        .collect()
    }

    /// Sets the version running now (creating the platform row if needed).
    pub async fn set_current(&self, name: &str, version: &str) -> Result<Platform, StoreError> {
        sqlx::query(
            "INSERT INTO platform (name, current_version, running_values, updated_at) VALUES ($1, $2, '{}', $3) \
             ON CONFLICT (name) DO UPDATE SET current_version = excluded.current_version, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(version)
        .bind(time::to_db(Utc::now()))
        .execute(self.store.pool())
        .await
        .map_err(StoreError::query("set the current version of a platform"))?;
        self.expect(name).await
    }

    /// Replaces the running configuration values (creating the platform row if needed).
    pub async fn set_running_values(
        &self,
        name: &str,
        values: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Platform, StoreError> {
        let json = serde_json::to_string(values).map_err(|e| StoreError::Corrupt {
            what: "running values",
            detail: e.to_string(),
        })?;
        sqlx::query(
            "INSERT INTO platform (name, current_version, running_values, updated_at) VALUES ($1, NULL, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET running_values = excluded.running_values, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(json)
        .bind(time::to_db(Utc::now()))
        .execute(self.store.pool())
        .await
        .map_err(StoreError::query("set the running values of a platform"))?;
        self.expect(name).await
    }

    async fn expect(&self, name: &str) -> Result<Platform, StoreError> {
        self.get(name).await?.ok_or(StoreError::Corrupt {
            what: "platform",
            detail: format!("{name:?} vanished right after it was written"),
        })
    }
}

fn platform_from_row(row: &AnyRow) -> Result<Platform, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::Corrupt {
        what: "platform",
        detail: e.to_string(),
    };
    let values: String = row.try_get("running_values").map_err(corrupt)?;
    let updated: String = row.try_get("updated_at").map_err(corrupt)?;
    Ok(Platform {
        name: row.try_get("name").map_err(corrupt)?,
        current_version: row.try_get("current_version").map_err(corrupt)?,
        running_values: serde_json::from_str(&values).map_err(|e| StoreError::Corrupt {
            what: "running values",
            detail: e.to_string(),
        })?,
        updated_at: time::from_db(&updated)?,
    })
}
