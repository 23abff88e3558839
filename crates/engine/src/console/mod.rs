//! `changeover upgrade …`: the operator's commands over the store, the catalog and the
//! engine. Output goes to stdout (`--json` for scripts); logs go to stderr.

mod args;
mod run;

pub use args::{DataUpdateAction, MarkArg, ModeArg, TaskAction, UpgradeArgs, UpgradeCommand};
pub use run::{Console, ConsoleError, Versions};
