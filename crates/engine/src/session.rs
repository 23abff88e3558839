//! The one-upgrade-at-a-time lease around a drive: taken before, renewed by a heartbeat
//! while driving, released after. A changeover that dies stops renewing; the lease
//! expires on its own and the next changeover takes it and resumes the record.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::driver::{Engine, Stop};
use crate::error::EngineError;
use crate::port::{PortError, Requests};
use crate::upgrade::UpgradeRecord;

/// How often the heartbeat renews the lease; the lease's time to live should be a few
/// times longer so one late heartbeat does not lose it.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// A lease in the store.
#[async_trait]
pub trait Lease: Send + Sync {
    /// Takes the lease for `holder`, or fails naming who holds it and until when.
    async fn acquire(&self, holder: &str) -> Result<(), PortError>;
    /// Extends the lease; fails if `holder` lost it.
    async fn renew(&self, holder: &str) -> Result<(), PortError>;
    async fn release(&self, holder: &str) -> Result<(), PortError>;
    /// The operator's requests to the lease holder (e.g. stop a data-update task), kept in
    /// the same store as the lease; `None` when that store takes none.
    fn requests(&self) -> Option<Arc<dyn Requests>> {
        None
    }
}

/// Drives `record` while holding the lease.
///
/// # Guarantees
/// - Nothing is driven without the lease; the lease is released when the drive returns.
/// # Caveats
/// - A lost lease (the heartbeat failed) is logged; the drive goes on to its next stop,
///   as the record's saved intents keep a concurrent resume from repeating effects.
pub async fn drive_leased(
    engine: &Engine,
    lease: Arc<dyn Lease>,
    holder: &str,
    record: &mut UpgradeRecord,
) -> Result<Stop, EngineError> {
    acquire(lease.as_ref(), holder).await?;
    let engine = &match lease.requests() {
        // the holder sees the requests saved in the lease's store (`data-update stop`)
        Some(requests) => Engine {
            requests,
            ..engine.clone()
        },
        None => engine.clone(),
    };
    let heartbeat = {
        let lease = lease.clone();
        let holder = holder.to_owned();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                if let Err(err) = lease.renew(&holder).await {
                    tracing::error!(%holder, error = %err, "renewing the upgrade lease failed");
                }
            }
        })
    };
    let result = engine.drive(record).await;
    heartbeat.abort();
    if let Err(err) = lease.release(holder).await {
        tracing::warn!(%holder, error = %err, "releasing the upgrade lease failed; it expires on its own");
    }
    result
}

/// How long to wait for a lease left by a changeover that died (its time to live).
const TAKEOVER_WAIT: Duration = Duration::from_secs(20);

/// Takes the lease, waiting up to [`TAKEOVER_WAIT`] for one a dead changeover left behind.
async fn acquire(lease: &dyn Lease, holder: &str) -> Result<(), EngineError> {
    let deadline = tokio::time::Instant::now() + TAKEOVER_WAIT;
    let mut said = false;
    loop {
        match lease.acquire(holder).await {
            Ok(()) => return Ok(()),
            Err(err) if tokio::time::Instant::now() < deadline => {
                if !said {
                    tracing::warn!(error = %err, "waiting for the upgrade lease");
                    said = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => {
                return Err(EngineError::Refused(format!(
                    "another changeover drives this upgrade: {err}"
                )));
            }
        }
    }
}
