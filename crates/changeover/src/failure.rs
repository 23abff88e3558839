//! What the user sees when a command fails: `error: <what went wrong>`, `hint: <what to do>`,
//! and the exit code (2 for bad input, 1 for a failure).

use std::process::ExitCode;

use changeover_store::StoreError;

/// A failure with a sentence for the operator. Commands return it inside `anyhow::Error`.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct Failure {
    pub what: String,
    pub hint: String,
    pub kind: Kind,
}

/// Whether the user gave bad input (exit 2) or something failed (exit 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    BadInput,
    Failed,
}

/// Bad input: a wrong argument, file, version or bundle (exit code 2).
pub fn bad_input(what: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    Failure {
        what: what.into(),
        hint: hint.into(),
        kind: Kind::BadInput,
    }
    .into()
}

/// A failure of the operation itself (exit code 1).
pub fn failed(what: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    Failure {
        what: what.into(),
        hint: hint.into(),
        kind: Kind::Failed,
    }
    .into()
}

/// Prints the error to stderr and returns the exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    let (what, hint, kind) = describe(err);
    eprintln!("error: {what}");
    eprintln!("hint: {hint}");
    ExitCode::from(match kind {
        Kind::BadInput => 2,
        Kind::Failed => 1,
    })
}

fn describe(err: &anyhow::Error) -> (String, String, Kind) {
    if let Some(f) = err.downcast_ref::<Failure>() {
        return (f.what.clone(), f.hint.clone(), f.kind);
    }
    if let Some(e) = err.downcast_ref::<StoreError>() {
        let (hint, kind) = match e {
            StoreError::BadLocation { .. } => (
                "pass a file path (SQLite) or postgres://user@host:5432/db with --store".to_owned(),
                Kind::BadInput,
            ),
            StoreError::CreateDir { .. } | StoreError::Open { .. } => (
                "check --store, CHANGEOVER_STORE or `store:` in the config file; for PostgreSQL check that the server runs and the database exists".to_owned(),
                Kind::Failed,
            ),
            _ => ("run again with -v for details".to_owned(), Kind::Failed),
        };
        return (format!("{err:#}"), hint, kind);
    }
    (
        format!("{err:#}"),
        "run again with -v for details".to_owned(),
        Kind::Failed,
    )
}
