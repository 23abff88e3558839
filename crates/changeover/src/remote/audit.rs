//! `changeover --server URL audit`: the server's audit log, printed as on the local store.

use serde::{Deserialize, Serialize};

use super::{Remote, RemoteError};
use crate::failure::Kind;
use crate::output;

/// An audit entry as the API sends it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub peer: String,
    pub outcome: String,
    pub detail: String,
}

pub async fn entries(r: &Remote, limit: u32) -> anyhow::Result<Vec<Entry>> {
    r.get(&format!("/api/v1/audit?limit={limit}"))
        .await
        .map_err(|e| match e.downcast::<RemoteError>() {
            Ok(e) => e.into_failure("run again with -v for details", Kind::Failed),
            Err(other) => other,
        })
}

/// The rows `changeover audit` prints.
pub fn rows(entries: &[Entry]) -> Vec<Vec<String>> {
    entries
        .iter()
        .map(|e| {
            vec![
                output::when(e.at),
                e.actor.clone(),
                e.action.clone(),
                e.target.clone(),
                e.peer.clone(),
                e.outcome.clone(),
                e.detail.clone(),
            ]
        })
        .collect()
}
