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
    #[command(
        after_help = "Examples:\n  changeover upgrade start --to 1.1.0 --mode partial --accept-risk --estimated-completion \"2026-11-24 02:00\" --contact-email ops@example.com --contact-phone \"+1 555 0100\"\n  changeover upgrade start --to 1.0.1 --mode zero --accept-risk\n  changeover upgrade start --to 1.1.0 --mode full --save-only"
    )]
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
    #[command(
        after_help = "Examples:\n  changeover upgrade status\n  changeover --json upgrade status"
    )]
    Status,
    /// Run the current step, or move past a done one; after the last, complete.
    #[command(after_help = "Examples:\n  changeover upgrade next")]
    Next,
    /// Run a failed step again.
    #[command(after_help = "Examples:\n  changeover upgrade retry")]
    Retry,
    /// Skip the current step where allowed (backup, hooks, verification).
    #[command(after_help = "Examples:\n  changeover upgrade skip --accept-risk")]
    Skip {
        #[arg(long)]
        accept_risk: bool,
    },
    /// Overrule a failed verification verdict, saying why (recorded with your name and the time).
    #[command(
        after_help = "Examples:\n  changeover upgrade overrule --reason \"the failed instance is a known flaky job, rerun by hand\""
    )]
    Overrule {
        /// Why the verdict is overruled (kept in the record and the audit log)
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// End the upgrade before downtime: dispatch resumed, maintenance exited.
    #[command(
        after_help = "Examples:\n  changeover upgrade terminate\n  changeover upgrade terminate --rerun"
    )]
    Terminate {
        /// Re-run the instances force-terminated by this upgrade.
        #[arg(long)]
        rerun: bool,
    },
    /// End the upgrade at any step, marked succeeded or failed; nothing is undone.
    #[command(
        after_help = "Examples:\n  changeover upgrade force-terminate --mark failed\n  changeover upgrade force-terminate --mark succeeded"
    )]
    ForceTerminate {
        #[arg(long, value_enum)]
        mark: MarkArg,
    },
    /// Terminate or re-run task instances (IDS, or --all).
    #[command(
        after_help = "Examples:\n  changeover upgrade tasks terminate --all\n  changeover upgrade tasks terminate 41 42\n  changeover upgrade tasks rerun --all"
    )]
    Tasks {
        #[arg(value_enum)]
        action: TaskAction,
        ids: Vec<String>,
        #[arg(long)]
        all: bool,
    },
    /// Run, skip or stop data-update tasks (NAMES, or --all).
    #[command(
        after_help = "Examples:\n  changeover upgrade data-update run --all\n  changeover upgrade data-update skip refresh_stats\n  changeover upgrade data-update stop backfill_owner"
    )]
    DataUpdate {
        #[arg(value_enum)]
        action: DataUpdateAction,
        names: Vec<String>,
        #[arg(long)]
        all: bool,
    },
    /// Every upgrade record, newest first.
    #[command(
        after_help = "Examples:\n  changeover upgrade records\n  changeover --json upgrade records"
    )]
    Records,
    /// One upgrade record with its steps, items, durations and log.
    #[command(after_help = "Examples:\n  changeover upgrade show upg-20261123-215612-7a1d")]
    Show { id: String },
    /// Verify the workload now (instance counts, failed today but succeeded yesterday).
    #[command(after_help = "Examples:\n  changeover upgrade verify")]
    Verify,
    /// Stop the target, restore this upgrade's backups, start the previous version.
    #[command(after_help = "Examples:\n  changeover upgrade rollback upg-20261123-215612-7a1d")]
    Rollback { id: String },
}
