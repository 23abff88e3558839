//! The upgrade engine: drives an [`UpgradeRecord`](crate::upgrade::UpgradeRecord) through its
//! steps against the platform's ports, saving the record before and after every side effect.
//!
//! **Architecture Invariant:** the engine owns the loop; a step runs once per turn and
//! returns a [`StepOutcome`](crate::upgrade::StepOutcome); it never sleeps or loops on the
//! platform itself.
//!
//! **Architecture Invariant:** every side effect is preceded by a saved intent (item
//! `running`, with its request id where the platform needs one) and followed by a saved
//! outcome, so a changeover killed at any moment resumes without doing anything twice
//! (`changeover upgrade next` resumes a step left running; `tests/e2e/crash.rs` kills it
//! with SIGKILL at named points against the real sample platform).
//!
//! Operators act from other processes through the store: item-level actions change the
//! record ([`operator`]); a stop of a running data-update task is a request
//! ([`port::Requests`]) the driving changeover polls while the task runs. See `README.md`.

pub use changeover_core::upgrade;

pub mod adapter;
mod background;
pub mod catalog;
pub mod console;
pub mod crash;
pub mod demo;
mod driver;
mod error;
pub mod operator;
pub mod placeholder;
pub mod port;
pub mod resolve;
pub mod session;
pub mod settings;
pub mod setup;
mod step;
mod target;
pub mod view;

pub use background::Background;
pub use driver::{Engine, Platform, Stop, now};
pub use error::EngineError;
pub use target::{AppSpec, Target, TaskSpec};
