//! The status of an upgrade record (design.md §4, seed 000 "Upgrade records").

use std::fmt;

use serde::{Deserialize, Serialize};

/// How the operator marked a force-terminated upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    Succeeded,
    Failed,
}

impl std::str::FromStr for Mark {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "succeeded" => Ok(Mark::Succeeded),
            "failed" => Ok(Mark::Failed),
            other => Err(format!("unknown mark `{other}`: use succeeded or failed")),
        }
    }
}

/// Where an upgrade record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Saved, not started: can be continued or abandoned.
    Configuring,
    /// Steps are running or waiting for the operator.
    Upgrading,
    /// The operator terminated before downtime; dispatch and maintenance are being restored.
    Terminating { rerun: bool },
    /// Every step is done and the operator completed the upgrade.
    Succeeded,
    /// The upgrade ended in failure.
    Failed,
    /// Terminated before downtime: dispatch resumed, maintenance mode exited.
    Terminated,
    /// Ended by the operator at any step; no self-healing was attempted.
    ForceTerminated { mark: Mark },
    /// The target version is being stopped and the backups restored.
    RollingBack,
    /// The previous version runs again on the restored metadata.
    RolledBack,
}

impl Status {
    /// Whether the record holds the one-upgrade-at-a-time lock (design.md §2).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Status::Configuring
                | Status::Upgrading
                | Status::Terminating { .. }
                | Status::RollingBack
        )
    }

    /// Whether the record has reached an end state.
    pub fn is_final(self) -> bool {
        !self.is_active()
    }

    /// A short name for tables and logs.
    pub fn label(self) -> &'static str {
        match self {
            Status::Configuring => "configuring",
            Status::Upgrading => "upgrading",
            Status::Terminating { .. } => "terminating",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Terminated => "terminated",
            Status::ForceTerminated {
                mark: Mark::Succeeded,
            } => "force-terminated (marked succeeded)",
            Status::ForceTerminated { mark: Mark::Failed } => "force-terminated (marked failed)",
            Status::RollingBack => "rolling back",
            Status::RolledBack => "rolled back",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
