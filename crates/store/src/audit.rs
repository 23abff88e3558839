//! The audit log: every change made through changeover's server or CLI, who made it, when,
//! from where and how it ended (written by `changeover-server`).
//!
//! # Guarantees
//! - Rows are only appended; nothing here updates or deletes them.
//! - Entries are returned newest first, in the order they were appended.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, time};

/// An entry to append.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    /// The user name, or `-` for an anonymous caller.
    pub actor: &'a str,
    /// What was attempted, e.g. `user.add`, `upgrade.start`.
    pub action: &'a str,
    /// What it was done to, e.g. a user name or an upgrade id.
    pub target: &'a str,
    /// Where it came from: the peer address, or `cli` for the local command line.
    pub peer: &'a str,
    /// `ok`, `refused` or `failed`.
    pub outcome: &'a str,
    /// A sentence for the reader; never a secret.
    pub detail: &'a str,
}

/// An entry as stored (and as `GET /api/v1/audit` sends it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub peer: String,
    pub outcome: String,
    pub detail: String,
}

/// The audit log repository.
pub struct Audit<'s> {
    store: &'s Store,
}

impl Store {
    /// The audit log.
    pub fn audit(&self) -> Audit<'_> {
        Audit { store: self }
    }
}

impl Audit<'_> {
    /// Appends an entry stamped now; returns its id.
    pub async fn append(&self, entry: &NewAuditEntry<'_>) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO audit (at, actor, action, target, peer, outcome, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(time::to_db(Utc::now()))
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.peer)
        .bind(entry.outcome)
        .bind(entry.detail)
        .fetch_one(self.store.pool())
        .await
        .map_err(StoreError::query("append to the audit log"))?;
        row.try_get::<i64, _>("id")
            .map_err(StoreError::query("read the id of an audit entry"))
    }

    /// The newest `limit` entries, newest first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        sqlx::query(
            "SELECT id, at, actor, action, target, peer, outcome, detail FROM audit ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.store.pool())
        .await
        .map_err(StoreError::query("read the audit log"))?
        .iter()
        .map(entry_from_row)
        .collect()
    }
}

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::Corrupt {
        what: "audit entry",
        detail: e.to_string(),
    };
    let text = |col: &str| row.try_get::<String, _>(col).map_err(corrupt);
    Ok(AuditEntry {
        id: row.try_get("id").map_err(corrupt)?,
        at: time::from_db(&text("at")?)?,
        actor: text("actor")?,
        action: text("action")?,
        target: text("target")?,
        peer: text("peer")?,
        outcome: text("outcome")?,
        detail: text("detail")?,
    })
}
