//! Errors of the metadata-database layer. Messages are lowercase, say what failed and
//! what to do, and never contain a password (targets print redacted).

use std::path::PathBuf;

/// Everything that can go wrong in backup, restore, verify, migrations and data updates.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid database URL `{url}`: {reason}")]
    Url { url: String, reason: String },

    #[error(
        "cannot connect to {target}: {message}; check that the server runs and the URL is right"
    )]
    Connect { target: String, message: String },

    #[error("{what} failed on {target}: {message}")]
    Query {
        target: String,
        what: String,
        message: String,
    },

    #[error("{tool} failed for {target} ({status}): {stderr}")]
    Tool {
        tool: String,
        target: String,
        status: String,
        stderr: String,
    },

    #[error("cannot run `{tool}`: {message}; is it installed and on PATH?")]
    ToolMissing { tool: String, message: String },

    #[error("{action} `{path}` failed: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("backup `{path}` is unusable: {reason}; take a new backup")]
    DumpInvalid { path: PathBuf, reason: String },

    #[error(
        "restoring backup `{path}` into a scratch database failed, so {target} was not touched: {reason}"
    )]
    RestoreFailed {
        path: PathBuf,
        target: String,
        reason: String,
    },

    #[error("backup manifest `{path}` is invalid: {reason}")]
    Manifest { path: PathBuf, reason: String },

    #[error("backup of {database} was stopped by the operator")]
    Stopped { database: String },

    #[error(
        "migration V{version} `{name}` was changed after it was applied (history checksum {applied}, bundle checksum {bundle}); restore the original migration or add a new one"
    )]
    MigrationChanged {
        version: i64,
        name: String,
        applied: String,
        bundle: String,
    },

    #[error("migration V{version} `{name}` failed on {target}: {message}")]
    MigrationFailed {
        version: i64,
        name: String,
        target: String,
        message: String,
    },

    #[error("invalid migration list: {reason}")]
    MigrationList { reason: String },

    #[error(
        "migration lock `{lock}` on {target} is held by {holder}; waited {waited_ms} ms. Wait for the other runner or end it"
    )]
    LockBusy {
        lock: String,
        target: String,
        holder: String,
        waited_ms: u128,
    },

    #[error("verification of {database} found differences: {differences}")]
    VerifyMismatch {
        database: String,
        differences: String,
    },

    #[error("data update `{task}`: {reason}")]
    DataUpdate { task: String, reason: String },

    #[error("unknown {kind} `{name}`; known: {known}")]
    Unknown {
        kind: &'static str,
        name: String,
        known: String,
    },
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
