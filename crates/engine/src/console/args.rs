//! The command line of `changeover upgrade`.

use clap::{Args, Subcommand, ValueEnum};

use crate::upgrade::{Mark, Mode};

#[derive(Debug, Clone, Args)]
pub struct UpgradeArgs {
    #[command(subcommand)]
    pub command: UpgradeCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Full,
    Partial,
    Zero,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Full => Mode::Full,
            ModeArg::Partial => Mode::Partial,
            ModeArg::Zero => Mode::Zero,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MarkArg {
    Succeeded,
    Failed,
}

impl From<MarkArg> for Mark {
    fn from(m: MarkArg) -> Self {
        match m {
            MarkArg::Succeeded => Mark::Succeeded,
            MarkArg::Failed => Mark::Failed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskAction {
    Terminate,
    Rerun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataUpdateAction {
    Run,
    Skip,
    Stop,
}

#[derive(Debug, Clone, Subcommand)]
pub enum UpgradeCommand {
    /// Choose the target version and mode; enter maintenance mode and run the steps.
    Start {
        /// Target version (a bundle of it must be in the catalog).
        #[arg(long)]
        to: String,
        #[arg(long, value_enum)]
        mode: ModeArg,
        /// When maintenance is expected to end, `YYYY-MM-DD hh:mm`.
        #[arg(long)]
        estimated_completion: Option<String>,
        #[arg(long)]
        contact_email: Option<String>,
        #[arg(long)]
        contact_phone: Option<String>,
        /// Only save the configuration (status configuring); continue with `next`.
        #[arg(long)]
        save_only: bool,
        /// Acknowledge the risk statement.
        #[arg(long)]
        accept_risk: bool,
        /// Take operator decisions automatically (terminate all, move on after each step,
        /// fall back to full downtime when zero downtime is refused).
        #[arg(long)]
        yes: bool,
    },
    /// Where the current (or latest) upgrade stands.
    Status,
    /// Run the current step, or move past a done one; after the last, complete.
    Next,
    /// Run a failed step again.
    Retry,
    /// Skip the current step where allowed (backup, hooks, verification).
    Skip {
        #[arg(long)]
        accept_risk: bool,
    },
    /// End the upgrade before downtime: dispatch resumed, maintenance exited.
    Terminate {
        /// Re-run the instances force-terminated by this upgrade.
        #[arg(long)]
        rerun: bool,
    },
    /// End the upgrade at any step, marked succeeded or failed; nothing is undone.
    ForceTerminate {
        #[arg(long, value_enum)]
        mark: MarkArg,
    },
    /// Terminate or re-run task instances (IDS, or --all).
    Tasks {
        #[arg(value_enum)]
        action: TaskAction,
        ids: Vec<String>,
        #[arg(long)]
        all: bool,
    },
    /// Run, skip or stop data-update tasks (NAMES, or --all).
    DataUpdate {
        #[arg(value_enum)]
        action: DataUpdateAction,
        names: Vec<String>,
        #[arg(long)]
        all: bool,
    },
    /// Every upgrade record, newest first.
    Records,
    /// One upgrade record with its steps, items, durations and log.
    Show { id: String },
    /// Verify the workload now (instance counts, failed today but succeeded yesterday).
    Verify,
    /// Stop the target, restore this upgrade's backups, start the previous version.
    Rollback { id: String },
}
