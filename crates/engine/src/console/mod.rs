//! `changeover upgrade …`: the operator's commands over the store, the catalog and the
//! engine. Output goes to stdout (`--json` for scripts); logs go to stderr. The same
//! operations return values ([`ops`]) for the HTTP API.

mod args;
mod ops;
pub use ops::DataUpdates;
pub mod print;
mod run;
pub mod upload;

pub use args::{DataUpdateAction, MarkArg, ModeArg, TaskAction, UpgradeArgs, UpgradeCommand};
pub use run::{Console, ConsoleError, Created, Versions, selection};
