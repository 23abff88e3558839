//! What the engine needs to know of the target version's bundle, resolved by the caller.

use crate::upgrade::verify::VerdictRule;

/// One application of the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    pub name: String,
    /// Keeps serving through every mode (upgraded rolling, never stopped).
    pub always_on: bool,
    /// Declared `strategy: rolling`.
    pub rolling: bool,
}

/// One data-update task of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    pub name: String,
    pub blocking: bool,
    pub skippable: bool,
    pub manual_start: bool,
}

/// The resolved plan inputs of one upgrade.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub applications: Vec<AppSpec>,
    pub databases: Vec<String>,
    pub data_updates: Vec<TaskSpec>,
    pub before_hooks: Vec<String>,
    pub after_hooks: Vec<String>,
    pub rule: VerdictRule,
}
