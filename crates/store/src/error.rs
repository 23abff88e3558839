//! The store's errors: what failed, and what to do about it.

use std::path::PathBuf;

/// Everything that can go wrong opening or using the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "invalid store location {given:?}: {reason}; give a file path (SQLite) or a postgres:// URL \
         with --store, CHANGEOVER_STORE or `store:` in the config file"
    )]
    BadLocation { given: String, reason: String },

    #[error(
        "cannot create the store directory {path}: {source}; check the path and its permissions"
    )]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "cannot open the store at {location}: {source}; check that the file is a changeover store or that the database server is running and reachable"
    )]
    Open {
        location: String,
        #[source]
        source: sqlx::Error,
    },

    #[error(
        "cannot bring the store schema at {location} up to date: {source}; if the store was written by a newer changeover, use that version"
    )]
    Migrate {
        location: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    #[error("store query failed while trying to {action}: {source}")]
    Query {
        action: &'static str,
        #[source]
        source: sqlx::Error,
    },

    #[error(
        "the store holds an unreadable {what}: {detail}; the row was written by another tool or by hand"
    )]
    Corrupt { what: &'static str, detail: String },
}

impl StoreError {
    /// A closure for `map_err` naming what the query was doing.
    pub fn query(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Query { action, source }
    }
}
