//! The upgrade model: one record per upgrade, its steps in the seeds' order, the operator's
//! actions and their legal transitions, and the verification maths.
//!
//! Pure: no I/O, no clock (every function that records a time takes `now`), no async. The
//! engine (`changeover-engine`) owns the loop and the side effects; the store persists
//! [`UpgradeRecord`] as JSON.
//!
//! # The life of an upgrade
//! 1. [`UpgradeRecord::configure`] creates a `Configuring` record (the operator's "Save") or
//!    [`UpgradeRecord::start`] an `Upgrading` one ("Enter maintenance mode"); the plan
//!    ([`plan::steps_for`]) fixes the steps of the chosen mode.
//! 2. The engine runs the step under the cursor: it calls [`UpgradeRecord::begin_step`]
//!    (intent, saved), performs the step's idempotent verbs, records each item's outcome and
//!    then the step's ([`UpgradeRecord::finish_step`], saved). Only then does the cursor move.
//! 3. The operator acts through [`Action`]s; each illegal one is refused with an
//!    [`ActionError`] naming the command that gets out of the situation.
//! 4. The record ends `Succeeded`, `Failed`, `Terminated`, `ForceTerminated` or `RolledBack`.

mod action;
mod announcement;
mod item;
pub mod metrics;
mod overrule;
pub mod plan;
mod record;
mod status;
mod step;
pub mod time;
pub mod verify;

pub use crate::compat::Mode;
pub use action::{Action, ActionError};
pub use announcement::{Announcement, AnnouncementError};
pub use item::{Item, ItemState};
pub use plan::PlanShape;
pub use record::{
    ExitPlan, LogEntry, LogLevel, Milestones, NewUpgrade, ToggleState, UpgradeRecord,
};
pub use status::{Mark, Status};
pub use step::{SkipRule, StepKind, StepOutcome, StepPhase, StepState};
pub use time::{Date, Timestamp};

#[cfg(test)]
mod tests;
