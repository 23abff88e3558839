//! Errors of the migration engine.

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("database url is invalid: {reason}")]
    BadUrl { reason: &'static str },
    #[error(
        "{what} failed: {source}; check that the database is reachable and the migration tables exist"
    )]
    Database {
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "binary log stream failed: {source}; check log_bin=ON, binlog_format=ROW and the REPLICATION SLAVE grant"
    )]
    Binlog {
        #[source]
        source: mysql_async::Error,
    },
    #[error(
        "{what} failed: {source}; check wal_level=logical, free max_replication_slots and max_wal_senders, and the REPLICATION attribute of the source user"
    )]
    Replication {
        what: &'static str,
        #[source]
        source: pgwire_replication::PgWireError,
    },
    #[error("source row of {table} could not be read: {reason}")]
    SourceRow { table: &'static str, reason: String },
    #[error(
        "migration state in the target is invalid: {reason}; run `changeover migrate cleanup` and start again"
    )]
    State { reason: String },
    #[error("cutover: {reason}")]
    Cutover { reason: String },
    #[error("{what} is not supported yet: {reason}")]
    Unsupported {
        what: &'static str,
        reason: &'static str,
    },
}

/// Wraps a sqlx error with what was being done.
pub fn db(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> MigrateError {
    let what = what.into();
    move |source| MigrateError::Database { what, source }
}

/// Wraps an error of the PostgreSQL replication connection with what was being done.
pub fn replication(
    what: &'static str,
) -> impl FnOnce(pgwire_replication::PgWireError) -> MigrateError {
    move |source| MigrateError::Replication { what, source }
}
