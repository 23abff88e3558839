//! Row-level writes the transform emits for the target, independent of the SQL dialect.

use chrono::NaiveDateTime;

use crate::event::SourceTable;

/// A column value. Text is a boxed `str` (16 bytes, not 24): a snapshot builds millions of
/// rows, and a task row of 21 columns then stays under glibc's 1 KiB large-chunk size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Text(Box<str>),
    Time(NaiveDateTime),
    Bool(bool),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> SqlValue {
        SqlValue::Int(v)
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> SqlValue {
        SqlValue::Text(v.into())
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> SqlValue {
        SqlValue::Text(v.into_boxed_str())
    }
}

impl From<NaiveDateTime> for SqlValue {
    fn from(v: NaiveDateTime) -> SqlValue {
        SqlValue::Time(v)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> SqlValue {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// Column name and value pairs.
pub type Columns = Vec<(&'static str, SqlValue)>;

/// One change to a target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Insert {
        table: &'static str,
        row: Columns,
    },
    Delete {
        table: &'static str,
        key: Columns,
    },
    Update {
        table: &'static str,
        set: Columns,
        key: Columns,
    },
}

impl Write {
    pub fn table(&self) -> &'static str {
        match self {
            Write::Insert { table, .. }
            | Write::Delete { table, .. }
            | Write::Update { table, .. } => table,
        }
    }
}

/// A source row the transform could not convert, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub table: SourceTable,
    pub id: i64,
    pub reason: String,
}

/// What the transform made of a batch of changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub writes: Vec<Write>,
    pub dead_letters: Vec<DeadLetter>,
    /// Source rows that converted now after an earlier dead letter, or were deleted.
    pub resolved: Vec<(SourceTable, i64)>,
}
