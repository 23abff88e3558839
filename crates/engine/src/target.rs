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
    /// The current version's applications, when they differ from the target's (a major
    /// version may rename, add or drop services); empty means the same as `applications`.
    pub previous_applications: Vec<AppSpec>,
    pub databases: Vec<String>,
    pub data_updates: Vec<TaskSpec>,
    pub before_hooks: Vec<String>,
    pub after_hooks: Vec<String>,
    pub rule: VerdictRule,
}

impl Target {
    /// The applications the current version runs.
    pub fn previous(&self) -> &[AppSpec] {
        if self.previous_applications.is_empty() {
            &self.applications
        } else {
            &self.previous_applications
        }
    }

    /// Applications of the current version that the target version no longer has.
    pub fn retired(&self) -> impl Iterator<Item = &AppSpec> {
        self.previous_applications
            .iter()
            .filter(|p| !self.applications.iter().any(|a| a.name == p.name))
    }
}
