//! `changeover --server URL audit`: the server's audit log, printed as on the local store.

use changeover_store::audit::AuditEntry;

use super::{Remote, RemoteError};
use crate::failure::Kind;

pub async fn entries(r: &Remote, limit: u32) -> anyhow::Result<Vec<AuditEntry>> {
    r.get(&format!("/api/v1/audit?limit={limit}"))
        .await
        .map_err(|e| match e.downcast::<RemoteError>() {
            Ok(e) => e.into_failure("run again with -v for details", Kind::Failed),
            Err(other) => other,
        })
}
