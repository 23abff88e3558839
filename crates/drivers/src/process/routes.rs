//! The routing table: which upstream serves each application right now.
//!
//! `routes.json` in the state dir, written atomically, so a gateway (or a test client)
//! that reads it before each request always sees a whole table. During a rolling upgrade
//! the old upstream is listed in `draining` until it is retired.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ProcessError;
use super::state::{read_json, write_json_atomic};

pub const ROUTES_FILE: &str = "routes.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// `127.0.0.1:port` of the instance that receives new requests.
    pub current: Option<String>,
    /// Upstreams that finish the requests they already have, then retire.
    #[serde(default)]
    pub draining: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingTable {
    #[serde(default)]
    pub apps: BTreeMap<String, Route>,
}

impl RoutingTable {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(ROUTES_FILE)
    }

    /// Reads the table of a state dir; empty when none was written yet.
    pub fn read(state_dir: &Path) -> Result<Self, ProcessError> {
        Ok(read_json(&Self::path(state_dir))?.unwrap_or_default())
    }

    /// The upstream new requests for `app` go to.
    pub fn upstream(&self, app: &str) -> Option<&str> {
        self.apps.get(app).and_then(|r| r.current.as_deref())
    }

    pub(crate) fn write(&self, state_dir: &Path) -> Result<(), ProcessError> {
        write_json_atomic(&Self::path(state_dir), self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_table_reads_empty_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            RoutingTable::read(dir.path()).unwrap(),
            RoutingTable::default()
        );
        let mut table = RoutingTable::default();
        table.apps.insert(
            "oltp".into(),
            Route {
                current: Some("127.0.0.1:1".into()),
                draining: vec!["127.0.0.1:2".into()],
            },
        );
        table.write(dir.path()).unwrap();
        let back = RoutingTable::read(dir.path()).unwrap();
        assert_eq!(back.upstream("oltp"), Some("127.0.0.1:1"));
        assert_eq!(back.upstream("mgmt"), None);
    }
}
