//! Scheduler data as changeover understands it, independent of any one platform.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// `dev` or `prod`; in `dev` the scheduling toggle is always off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Prod,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Dev => "dev",
            Environment::Prod => "prod",
        }
    }
}

impl std::str::FromStr for Environment {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "dev" => Ok(Environment::Dev),
            "prod" => Ok(Environment::Prod),
            other => Err(format!(
                "unknown environment {other:?}: expected dev or prod"
            )),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two dispatching toggles of one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toggles {
    pub environment: Environment,
    /// Off: automatically triggered tasks are not dispatched (backfill, ad-hoc unaffected).
    pub scheduling: bool,
    /// Off: no instance is dispatched to resources at all.
    pub execution: bool,
}

/// A change to the toggles; `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToggleChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceStatus {
    Waiting,
    Running,
    Succeeded,
    Failed,
    Killed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleType {
    Scheduled,
    Backfill,
    Adhoc,
}

/// One task instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub workflow: String,
    pub task: String,
    pub node_id: String,
    pub node_type: String,
    pub schedule_type: ScheduleType,
    pub tenant: String,
    pub environment: Environment,
    pub business_date: NaiveDate,
    pub status: InstanceStatus,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// What a terminate call did with each requested id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminateOutcome {
    #[serde(default)]
    pub terminated: Vec<String>,
    #[serde(default)]
    pub already_finished: Vec<String>,
    #[serde(default)]
    pub not_found: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rerun {
    pub id: String,
    pub new_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RerunSkipped {
    pub id: String,
    pub reason: String,
}

/// What a re-run call did with each requested id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RerunOutcome {
    #[serde(default)]
    pub rerun: Vec<Rerun>,
    #[serde(default)]
    pub skipped: Vec<RerunSkipped>,
}

/// Which instances to count: business dates `from..=to`, optionally one tenant and one
/// environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatisticsQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tenant: Option<String>,
    pub environment: Option<Environment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatisticsRow {
    pub business_date: NaiveDate,
    pub status: InstanceStatus,
    pub tenant: String,
    pub count: u64,
}

/// An instance that failed today although its task succeeded yesterday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedInstance {
    pub instance_id: String,
    pub node_id: String,
    pub task_name: String,
    pub node_type: String,
    pub schedule_type: ScheduleType,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    pub status: InstanceStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_parse_and_print() {
        assert_eq!("prod".parse::<Environment>(), Ok(Environment::Prod));
        assert_eq!(Environment::Dev.to_string(), "dev");
        let err = "staging".parse::<Environment>().unwrap_err();
        assert!(err.contains("staging"), "{err}");
    }

    #[test]
    fn instances_decode_from_the_contract_shape() {
        let json = r#"{"id":"7","workflow":"w","task":"t","node_id":"n","node_type":"SHELL",
            "schedule_type":"backfill","tenant":"x","environment":"prod",
            "business_date":"2026-11-22","status":"running",
            "started_at":"2026-11-23T01:00:00Z","updated_at":null,"extra":"ignored"}"#;
        let instance: Instance = serde_json::from_str(json).unwrap();
        assert_eq!(instance.schedule_type, ScheduleType::Backfill);
        assert_eq!(instance.status, InstanceStatus::Running);
        assert!(instance.updated_at.is_none());
    }
}
