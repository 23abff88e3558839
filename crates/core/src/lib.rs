//! The pure core of changeover: versions, compatibility rules and version bundles.
//!
//! **Architecture Invariant:** this crate never does I/O. It parses bytes handed to it,
//! never opens files, never spawns, never talks to a network or a database, and has no
//! async. Everything here can be called from any layer and tested without a machine.

pub mod bundle;
pub mod compat;
pub mod upgrade;
pub mod version;

pub use bundle::{Bundle, BundleError, ValidationContext, ValidationReport};
pub use compat::{CompatibilityReport, CompatibilityRules, Mode, Selection, SelectionError};
pub use version::{Version, VersionError, VersionRange};
