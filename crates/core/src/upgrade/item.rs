//! One item of a step: an instance to terminate or re-run, an application, a database
//! backup, a data-update task, a hook.

use std::collections::BTreeMap;

use super::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Where one item of a step stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ItemState {
    /// Not started.
    Pending,
    /// Its side effect was requested (the intent is recorded); the outcome is not known yet.
    Running,
    Succeeded,
    Failed {
        reason: String,
    },
    /// Not run, by the operator's choice or because there was nothing to do.
    Skipped {
        reason: String,
    },
    /// Stopped by the operator while running.
    Stopped,
}

impl ItemState {
    /// Whether the item needs nothing more (succeeded or skipped).
    pub fn is_settled(&self) -> bool {
        matches!(self, ItemState::Succeeded | ItemState::Skipped { .. })
    }

    pub fn label(&self) -> &'static str {
        match self {
            ItemState::Pending => "pending",
            ItemState::Running => "running",
            ItemState::Succeeded => "succeeded",
            ItemState::Failed { .. } => "failed",
            ItemState::Skipped { .. } => "skipped",
            ItemState::Stopped => "stopped",
        }
    }
}

/// One item of a step with its times and the facts its side effects produced (a backup's
/// file and size, a re-run's new instance id, a request id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub name: String,
    #[serde(flatten)]
    pub state: ItemState,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, String>,
}

impl Item {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: ItemState::Pending,
            started_at: None,
            finished_at: None,
            facts: BTreeMap::new(),
        }
    }

    /// Builder: an item with one fact set.
    pub fn with_fact(mut self, key: &str, value: impl Into<String>) -> Self {
        self.facts.insert(key.to_owned(), value.into());
        self
    }

    /// A fact recorded on this item.
    pub fn fact(&self, key: &str) -> Option<&str> {
        self.facts.get(key).map(String::as_str)
    }

    /// A boolean fact (`"true"`).
    pub fn flag(&self, key: &str) -> bool {
        self.fact(key) == Some("true")
    }

    /// Records the intent: the side effect is about to be requested.
    pub fn begin(&mut self, now: Timestamp) {
        self.state = ItemState::Running;
        self.started_at.get_or_insert(now);
        self.finished_at = None;
    }

    /// Records the outcome.
    pub fn finish(&mut self, state: ItemState, now: Timestamp) {
        self.started_at.get_or_insert(now);
        self.state = state;
        self.finished_at = Some(now);
    }
}
