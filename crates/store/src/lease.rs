//! Named lease locks: one holder at a time, kept by renewing before it expires.
//!
//! # Guarantees
//! - At most one holder per name at any instant of the clock the callers pass in: acquiring is
//!   one atomic statement (`INSERT … ON CONFLICT … DO UPDATE … WHERE expired or ours`).
//! - A holder that dies stops renewing; once `expires_at` passes, the next `acquire` takes the
//!   lease over (lessons.md: a killed client must not leave the lock stuck).
//! - `generation` grows by one with every new holder: a fencing token a holder can write
//!   beside its work so that a late writer with an older generation is detected.
//!
//! # Assumptions
//! - Holders' clocks agree within a small fraction of the TTL (timestamps come from the
//!   caller's clock, not the database's).
//!
//! # Caveats
//! - A holder that pauses longer than its TTL loses the lease without noticing until its next
//!   `renew`, which then returns [`LeaseError::Lost`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, time};

/// A held lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub generation: i64,
    pub acquired_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Why a lease could not be acquired or kept.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "the lock {name:?} is held by {holder} until {expires_at} (it expires on its own if that holder stopped); wait or stop that holder"
    )]
    Held {
        name: String,
        holder: String,
        expires_at: DateTime<Utc>,
    },
    #[error(
        "the lock {name:?} is no longer held by {holder}: it expired and was taken over or released; stop the work it protected"
    )]
    Lost { name: String, holder: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The lease repository.
pub struct Leases<'s> {
    store: &'s Store,
}

impl Store {
    /// The named lease locks.
    pub fn leases(&self) -> Leases<'_> {
        Leases { store: self }
    }
}

impl Leases<'_> {
    /// Takes the lease `name` for `holder` for `ttl`, unless another holder has it and it has
    /// not expired. Acquiring a lease one already holds renews it.
    pub async fn acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Lease, LeaseError> {
        self.acquire_at(name, holder, ttl, Utc::now()).await
    }

    /// [`Leases::acquire`] at an explicit instant.
    pub async fn acquire_at(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease, LeaseError> {
        let now_text = time::to_db(now);
        let row = sqlx::query(
            "INSERT INTO lease (name, holder, generation, acquired_at, heartbeat_at, expires_at) \
             VALUES ($1, $2, 1, $3, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET \
               generation = CASE WHEN lease.holder = excluded.holder THEN lease.generation ELSE lease.generation + 1 END, \
               acquired_at = CASE WHEN lease.holder = excluded.holder THEN lease.acquired_at ELSE excluded.acquired_at END, \
               holder = excluded.holder, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at \
             WHERE lease.holder = excluded.holder OR lease.expires_at <= excluded.heartbeat_at \
             RETURNING name, holder, generation, acquired_at, heartbeat_at, expires_at",
        )
        .bind(name)
        .bind(holder)
        .bind(&now_text)
        .bind(time::to_db(expiry(now, ttl)))
        .fetch_optional(self.store.pool())
        .await
        .map_err(StoreError::query("acquire a lease"))?;
        if let Some(row) = row {
            let lease = lease_from_row(&row)?;
            tracing::debug!(lease = %name, holder, generation = lease.generation, "lease acquired");
            return Ok(lease);
        }
        match self.get(name).await? {
            Some(current) => Err(LeaseError::Held {
                name: name.to_owned(),
                holder: current.holder,
                expires_at: current.expires_at,
            }),
            // Released between the two statements: try once more.
            None => Box::pin(self.acquire_at(name, holder, ttl, now)).await,
        }
    }

    /// Extends a held lease by `ttl` from now. Fails with [`LeaseError::Lost`] when another
    /// holder has taken it over or it was released.
    pub async fn renew(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Lease, LeaseError> {
        self.renew_at(name, holder, ttl, Utc::now()).await
    }

    /// [`Leases::renew`] at an explicit instant.
    pub async fn renew_at(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease, LeaseError> {
        let row = sqlx::query(
            "UPDATE lease SET heartbeat_at = $3, expires_at = $4 WHERE name = $1 AND holder = $2 \
             RETURNING name, holder, generation, acquired_at, heartbeat_at, expires_at",
        )
        .bind(name)
        .bind(holder)
        .bind(time::to_db(now))
        .bind(time::to_db(expiry(now, ttl)))
        .fetch_optional(self.store.pool())
        .await
        .map_err(StoreError::query("renew a lease"))?;
        match row {
            Some(row) => Ok(lease_from_row(&row)?),
            None => Err(LeaseError::Lost {
                name: name.to_owned(),
                holder: holder.to_owned(),
            }),
        }
    }

    /// Gives the lease up; `false` when `holder` did not hold it (already taken over or
    /// released), which is not an error.
    pub async fn release(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM lease WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.store.pool())
            .await
            .map_err(StoreError::query("release a lease"))?;
        Ok(done.rows_affected() > 0)
    }

    /// The lease row as stored (possibly expired), or `None`.
    pub async fn get(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        let sql = "SELECT name, holder, generation, acquired_at, heartbeat_at, expires_at FROM lease WHERE name = $1";
        sqlx::query(sql)
            .bind(name)
            .fetch_optional(self.store.pool())
            .await
            .map_err(StoreError::query("read a lease"))?
            .map(|row| lease_from_row(&row))
            .transpose()
    }
}

/// The longest lease kept: longer TTLs are cut to it, so expiry stays a four-digit year.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

fn expiry(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    let ttl = chrono::Duration::from_std(ttl.min(MAX_TTL)).unwrap_or(chrono::Duration::zero());
    now.checked_add_signed(ttl).unwrap_or(now)
}

fn lease_from_row(row: &AnyRow) -> Result<Lease, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::Corrupt {
        what: "lease",
        detail: e.to_string(),
    };
    let at = |col: &'static str| -> Result<DateTime<Utc>, StoreError> {
        time::from_db(&row.try_get::<String, _>(col).map_err(corrupt)?)
    };
    Ok(Lease {
        name: row.try_get("name").map_err(corrupt)?,
        holder: row.try_get("holder").map_err(corrupt)?,
        generation: row.try_get("generation").map_err(corrupt)?,
        acquired_at: at("acquired_at")?,
        heartbeat_at: at("heartbeat_at")?,
        expires_at: at("expires_at")?,
    })
}

/// A lease kept alive by a background heartbeat until [`HeldLease::release`] or drop.
///
/// # Guarantees
/// - The heartbeat renews every third of the TTL; when a renewal finds the lease taken over
///   or released, or the store stays unreachable past `expires_at`, [`HeldLease::is_lost`]
///   turns true and [`HeldLease::lost`] resolves: stop the protected work then.
/// - Dropping without `release` stops the heartbeat; the lease then expires on its own.
pub struct HeldLease {
    lease: Lease,
    store: Store,
    lost: tokio::sync::watch::Receiver<bool>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Leases<'_> {
    /// Acquires the lease and keeps it alive in a background task (needs a Tokio runtime).
    pub async fn hold(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<HeldLease, LeaseError> {
        let lease = self.acquire(name, holder, ttl).await?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let store = self.store.clone();
        let (name, holder) = (name.to_owned(), holder.to_owned());
        let mut expires_at = lease.expires_at;
        let heartbeat = tokio::spawn(async move {
            let period = (ttl / 3).max(Duration::from_millis(10));
            loop {
                tokio::time::sleep(period).await;
                match store.leases().renew(&name, &holder, ttl).await {
                    Ok(renewed) => expires_at = renewed.expires_at,
                    Err(LeaseError::Store(e)) if Utc::now() < expires_at => {
                        tracing::warn!(lease = %name, error = %e, "lease renewal failed; retrying");
                    }
                    Err(e) => {
                        tracing::warn!(lease = %name, error = %e, "lease lost");
                        let _ = tx.send(true);
                        return;
                    }
                }
            }
        });
        Ok(HeldLease {
            lease,
            store: self.store.clone(),
            lost: rx,
            heartbeat,
        })
    }
}

impl HeldLease {
    /// The lease as first acquired (its generation is the fencing token).
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Whether the heartbeat found the lease lost.
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Resolves when the lease is lost (never, while it is held).
    pub async fn lost(&mut self) {
        let _ = self.lost.wait_for(|lost| *lost).await;
    }

    /// Stops the heartbeat and gives the lease up; `false` if it was no longer held.
    pub async fn release(self) -> Result<bool, StoreError> {
        self.heartbeat.abort();
        self.store
            .leases()
            .release(&self.lease.name, &self.lease.holder)
            .await
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}
