//! changeover-migrate: live metadata migration by change data capture, DolphinScheduler
//! 1.3.x → 3.2.x. Sources yield changes with a resumable position; the transform is a pure
//! function of the changes and the id map; the sink applies a batch and commits the id map
//! and the position in the same transaction.

pub mod background;
pub mod canonical;
pub mod code;
pub mod cutover;
pub mod decode;
pub mod dsapi;
pub mod engine;
pub mod error;
pub mod event;
pub mod hoist;
pub mod idmap;
pub mod memory;
pub mod migration;
pub mod nodelay;
pub mod pgoutput;
pub mod position;
pub mod rows;
pub mod runtime;
pub mod sink;
pub mod snapshot;
pub mod source_mysql;
pub mod source_postgres;
pub mod split;
pub mod status;
pub mod target;
pub mod transform;
pub mod verify;
pub mod workflow13;
pub mod write;

pub use code::CodeGenerator;
pub use event::{Change, SourceRow, SourceTable};
pub use idmap::IdMap;
pub use transform::{Scope, transform};
pub use write::{Batch, DeadLetter, SqlValue, Write};

#[cfg(test)]
mod transform_tests;
