//! Errors of the process driver; messages end with what to do next.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("application spec {app:?} is invalid: {problem}")]
    InvalidSpec { app: String, problem: String },

    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("state file {path} is damaged ({detail}); fix or remove it, then retry")]
    StateDamaged { path: PathBuf, detail: String },

    #[error("cannot start {app}: running {program:?} failed: {source}; check the command line")]
    Spawn {
        app: String,
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{app} instance {instance} did not become healthy after {attempts} checks ({last_problem}); last lines of its log:\n{log_tail}"
    )]
    NeverHealthy {
        app: String,
        instance: String,
        attempts: u32,
        last_problem: String,
        log_tail: String,
    },

    #[error("{app} instance {instance} {exit} unexpectedly; last lines of its log:\n{log_tail}")]
    Exited {
        app: String,
        instance: String,
        exit: super::ExitStatus,
        log_tail: String,
    },

    #[error("{app} has no running instance; start it first")]
    NotRunning { app: String },

    #[error("{app} is not known to this driver; start it first")]
    UnknownApp { app: String },

    #[error("{app} already runs version {running}; use an upgrade to move it to {requested}")]
    AlreadyRunning {
        app: String,
        running: String,
        requested: String,
    },

    #[error(
        "{app} is being upgraded to {target}; run the upgrade to {target} again to resume it, or abort it"
    )]
    RolloutInProgress { app: String, target: String },

    #[error("cannot send {signal} to {app} (pid {pid}): {source}")]
    Signal {
        app: String,
        signal: String,
        pid: i32,
        #[source]
        source: nix::Error,
    },

    #[error(
        "{app} wrote nothing to its log within {waited_ms} ms after {signal}; check that the application prints a dump on that signal"
    )]
    StackDumpEmpty {
        app: String,
        signal: String,
        waited_ms: u128,
    },

    #[error("cannot find a free local port: {0}")]
    NoFreePort(#[source] std::io::Error),
}

impl ProcessError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        ProcessError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
