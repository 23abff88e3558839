//! Timestamps in the store: UTC, RFC 3339 text of fixed width (`2026-11-23T21:27:27.123456Z`),
//! so that text order is time order on every engine and rows stay readable by hand.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::StoreError;

/// The text form written to the store.
pub fn to_db(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a timestamp written by [`to_db`].
pub fn from_db(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            what: "timestamp",
            detail: format!("{text:?}: {e}"),
        })
}

/// Parses an optional timestamp column.
pub fn from_db_opt(text: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.as_deref().map(from_db).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_order_is_time_order() {
        let a = DateTime::from_timestamp(1_000_000_000, 5_000).unwrap();
        let b = DateTime::from_timestamp(1_000_000_000, 50_000).unwrap();
        let c = DateTime::from_timestamp(2_000_000_000, 0).unwrap();
        assert!(to_db(a) < to_db(b) && to_db(b) < to_db(c));
        assert_eq!(from_db(&to_db(b)).unwrap(), b);
    }

    #[test]
    fn garbage_is_reported() {
        let err = from_db("yesterday").unwrap_err();
        assert!(err.to_string().contains("yesterday"), "{err}");
    }
}
