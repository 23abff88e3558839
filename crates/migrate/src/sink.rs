//! The SQL of a batch of writes, run inside one target transaction with few round trips.
//!
//! Writes are grouped by table (keeping their order within each table), and each run of
//! inserts with the same columns becomes multi-row `INSERT`s, each run of deletes with the
//! same key columns becomes `DELETE … WHERE … IN (…)`. On a PostgreSQL target a long run of
//! inserts is sent as `COPY … FROM STDIN` inside the same transaction.
//!
//! # Guarantees
//! - The target ends in the same state as if each write ran alone, in order.
//!
//! # Assumptions
//! - A write reads no other table (no `INSERT … SELECT`, no triggers, no foreign keys among
//!   the written tables), so writes to different tables commute. 3.2's schema has none.

use std::collections::HashMap;

use sqlx::{Any, AssertSqlSafe, Postgres, Transaction};

use crate::engine::Engine;
use crate::error::{MigrateError, db};
use crate::write::{Columns, SqlValue, Write};

/// Most parameters in one statement (both engines allow 65,535).
const MAX_PARAMS: usize = 30_000;
/// Most rows in one statement.
const MAX_ROWS: usize = 1_000;
/// Most text bytes in one statement (MariaDB's `max_allowed_packet` is 16 MiB by default).
const MAX_BYTES: usize = 4 << 20;

/// A statement and its parameters.
#[derive(Debug, PartialEq)]
pub struct Statement<'a> {
    pub sql: String,
    pub params: Vec<&'a SqlValue>,
}

/// Most rows sent with single statements on PostgreSQL; longer runs of inserts use `COPY`.
const COPY_MIN_ROWS: usize = 64;

/// One step of applying writes.
enum Step<'l, 'a> {
    /// A run of inserts into one table with the same columns.
    Rows(&'l [&'a Write]),
    /// Any other run (deletes with the same key columns, or one update).
    Other(&'l [&'a Write]),
}

/// The writes grouped by table, in the order of each table's first write.
fn by_table<'a>(writes: &[&'a Write]) -> Vec<Vec<&'a Write>> {
    let mut tables: Vec<&str> = Vec::new();
    let mut grouped: HashMap<&str, Vec<&'a Write>> = HashMap::new();
    for write in writes {
        let list = grouped.entry(write.table()).or_insert_with(|| {
            tables.push(write.table());
            Vec::new()
        });
        list.push(write);
    }
    tables
        .into_iter()
        .filter_map(|t| grouped.remove(t))
        .collect()
}

/// The runs of one table's writes.
fn steps<'l, 'a>(list: &'l [&'a Write]) -> Vec<Step<'l, 'a>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < list.len() {
        let end = run_end(list, i);
        out.push(match list[i] {
            Write::Insert { .. } => Step::Rows(&list[i..end]),
            _ => Step::Other(&list[i..end]),
        });
        i = end;
    }
    out
}

fn step_statements<'a>(engine: Engine, step: &Step<'_, 'a>, out: &mut Vec<Statement<'a>>) {
    match step {
        Step::Rows(run) => inserts(engine, run, out),
        Step::Other(run @ [Write::Delete { .. }, ..]) => deletes(engine, run, out),
        Step::Other(run) => out.extend(run.iter().map(|w| single(engine, w))),
    }
}

/// The statements that apply `writes`, in an order equivalent to theirs.
pub fn statements<'a>(engine: Engine, writes: &[&'a Write]) -> Vec<Statement<'a>> {
    let mut out = Vec::new();
    for list in by_table(writes) {
        for step in steps(&list) {
            step_statements(engine, &step, &mut out);
        }
    }
    out
}

fn names(columns: &Columns) -> impl Iterator<Item = &'static str> + '_ {
    columns.iter().map(|(c, _)| *c)
}

/// The end of the run of writes starting at `start` that can share statements.
fn run_end(list: &[&Write], start: usize) -> usize {
    let first = list[start];
    let mut end = start + 1;
    while end < list.len() {
        let same = match (first, list[end]) {
            (Write::Insert { row: a, .. }, Write::Insert { row: b, .. }) => names(a).eq(names(b)),
            (Write::Delete { key: a, .. }, Write::Delete { key: b, .. }) => {
                !a.is_empty() && names(a).eq(names(b))
            }
            _ => false,
        };
        if !same {
            break;
        }
        end += 1;
    }
    end
}

fn text_len(value: &SqlValue) -> usize {
    match value {
        SqlValue::Text(t) => t.len(),
        _ => 8,
    }
}

/// Splits `list` into chunks within the statement limits, `width` parameters per write.
fn chunks<'l, 'a>(list: &'l [&'a Write], width: usize) -> Vec<&'l [&'a Write]> {
    let per_statement = (MAX_PARAMS / width.max(1)).clamp(1, MAX_ROWS);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, write) in list.iter().enumerate() {
        let size: usize = match write {
            Write::Insert { row, .. } => row.iter().map(|(_, v)| text_len(v)).sum(),
            Write::Delete { key, .. } => key.iter().map(|(_, v)| text_len(v)).sum(),
            Write::Update { .. } => 0,
        };
        if i > start && (i - start == per_statement || bytes + size > MAX_BYTES) {
            out.push(&list[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < list.len() {
        out.push(&list[start..]);
    }
    out
}

fn inserts<'a>(engine: Engine, list: &[&'a Write], out: &mut Vec<Statement<'a>>) {
    let Write::Insert { table, row } = list[0] else {
        return;
    };
    let columns: Vec<&str> = names(row).collect();
    for chunk in chunks(list, columns.len()) {
        let mut params = Vec::new();
        let mut tuples = Vec::with_capacity(chunk.len());
        for write in chunk {
            if let Write::Insert { row, .. } = write {
                let values: Vec<String> = row
                    .iter()
                    .map(|(_, v)| expr_for(engine, v, &mut params))
                    .collect();
                tuples.push(format!("({})", values.join(", ")));
            }
        }
        out.push(Statement {
            sql: format!(
                "INSERT INTO {table} ({}) VALUES {}",
                columns.join(", "),
                tuples.join(", ")
            ),
            params,
        });
    }
}

fn deletes<'a>(engine: Engine, list: &[&'a Write], out: &mut Vec<Statement<'a>>) {
    let Write::Delete { table, key } = list[0] else {
        return;
    };
    for chunk in chunks(list, key.len()) {
        let keys: Vec<&'a Columns> = chunk
            .iter()
            .filter_map(|w| match w {
                Write::Delete { key, .. } => Some(key),
                _ => None,
            })
            .collect();
        if keys.len() == 1 {
            out.push(single(engine, chunk[0]));
            continue;
        }
        // Leading key columns equal in every write stay `c = v`; a single remaining column
        // (and no NULL in it) becomes `IN (…)`; otherwise the conditions are OR-ed.
        let width = key.len();
        let shared = (0..width)
            .take_while(|&c| keys.iter().all(|k| k[c].1 == keys[0][c].1))
            .count();
        let mut params = Vec::new();
        let condition =
            if shared + 1 == width && keys.iter().all(|k| k[width - 1].1 != SqlValue::Null) {
                let mut parts: Vec<String> = keys[0][..shared]
                    .iter()
                    .map(|(c, v)| equals(engine, c, v, &mut params))
                    .collect();
                let values: Vec<String> = keys
                    .iter()
                    .map(|k| expr_for(engine, &k[width - 1].1, &mut params))
                    .collect();
                parts.push(format!("{} IN ({})", key[width - 1].0, values.join(", ")));
                parts.join(" AND ")
            } else {
                keys.iter()
                    .map(|k| format!("({})", conditions(engine, k, &mut params)))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            };
        out.push(Statement {
            sql: format!("DELETE FROM {table} WHERE {condition}"),
            params,
        });
    }
}

/// The statement of one write.
pub fn single<'a>(engine: Engine, write: &'a Write) -> Statement<'a> {
    let mut params: Vec<&SqlValue> = Vec::new();
    let sql = match write {
        Write::Insert { table, row } => {
            let names: Vec<&str> = names(row).collect();
            let values: Vec<String> = row
                .iter()
                .map(|(_, v)| expr_for(engine, v, &mut params))
                .collect();
            format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                values.join(", ")
            )
        }
        Write::Delete { table, key } => {
            format!(
                "DELETE FROM {table} WHERE {}",
                conditions(engine, key, &mut params)
            )
        }
        Write::Update { table, set, key } => {
            let sets: Vec<String> = set
                .iter()
                .map(|(c, v)| format!("{c} = {}", expr_for(engine, v, &mut params)))
                .collect();
            format!(
                "UPDATE {table} SET {} WHERE {}",
                sets.join(", "),
                conditions(engine, key, &mut params)
            )
        }
    };
    Statement { sql, params }
}

fn equals<'a>(
    engine: Engine,
    column: &str,
    value: &'a SqlValue,
    params: &mut Vec<&'a SqlValue>,
) -> String {
    match value {
        SqlValue::Null => format!("{column} IS NULL"),
        _ => format!("{column} = {}", expr_for(engine, value, params)),
    }
}

fn conditions<'a>(engine: Engine, key: &'a Columns, params: &mut Vec<&'a SqlValue>) -> String {
    key.iter()
        .map(|(c, v)| equals(engine, c, v, params))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn expr_for<'a>(engine: Engine, value: &'a SqlValue, params: &mut Vec<&'a SqlValue>) -> String {
    match value {
        SqlValue::Null => "NULL".to_owned(),
        SqlValue::Time(_) => {
            params.push(value);
            engine.time_placeholder(params.len())
        }
        _ => {
            params.push(value);
            engine.placeholder(params.len())
        }
    }
}

/// An open target transaction.
pub enum SinkTx {
    /// MySQL/MariaDB (and anything else through sqlx's `Any` driver).
    Any(Transaction<'static, Any>),
    /// PostgreSQL, on a native connection so that runs of inserts can use `COPY`.
    Postgres(Transaction<'static, Postgres>),
}

impl SinkTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            SinkTx::Any(tx) => tx.commit().await,
            SinkTx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// Runs `writes` in `tx` (see the module's guarantees).
pub async fn execute(
    engine: Engine,
    tx: &mut SinkTx,
    writes: &[&Write],
) -> Result<(), MigrateError> {
    for list in by_table(writes) {
        for step in steps(&list) {
            match (&mut *tx, &step) {
                (SinkTx::Postgres(pg), Step::Rows(run)) if run.len() >= COPY_MIN_ROWS => {
                    copy(pg, run).await?;
                }
                (tx, step) => {
                    let mut statements = Vec::new();
                    step_statements(engine, step, &mut statements);
                    for statement in &statements {
                        run_statement(tx, statement).await?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The table a statement writes, for its error message.
fn table_of(sql: &str) -> String {
    sql.split_whitespace()
        .find(|w| w.starts_with("t_ds_") || w.starts_with("changeover_"))
        .unwrap_or("the target")
        .to_owned()
}

macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for value in $params {
            query = match value {
                SqlValue::Int(v) => query.bind(*v),
                SqlValue::Text(v) => query.bind(v.as_str()),
                SqlValue::Time(v) => query.bind(v.format("%Y-%m-%d %H:%M:%S").to_string()),
                SqlValue::Bool(v) => query.bind(*v),
                SqlValue::Null => query,
            };
        }
        query
    }};
}

async fn run_statement(tx: &mut SinkTx, statement: &Statement<'_>) -> Result<(), MigrateError> {
    let sql = AssertSqlSafe(statement.sql.as_str());
    let done = match tx {
        SinkTx::Any(tx) => bind_all!(sqlx::query(sql), &statement.params)
            .execute(&mut **tx)
            .await
            .map(|_| ()),
        SinkTx::Postgres(tx) => bind_all!(sqlx::query(sql), &statement.params)
            .execute(&mut **tx)
            .await
            .map(|_| ()),
    };
    done.map_err(db(format!("writing {}", table_of(&statement.sql))))
}

/// Sends a run of inserts as `COPY … FROM STDIN` (text format).
async fn copy(tx: &mut Transaction<'static, Postgres>, run: &[&Write]) -> Result<(), MigrateError> {
    let Write::Insert { table, row } = run[0] else {
        return Ok(());
    };
    let what = || db(format!("copying rows into {table}"));
    let columns: Vec<&str> = names(row).collect();
    let mut copy = tx
        .copy_in_raw(&format!("COPY {table} ({}) FROM STDIN", columns.join(", ")))
        .await
        .map_err(what())?;
    let mut buffer = Vec::with_capacity(1 << 20);
    for write in run {
        if let Write::Insert { row, .. } = write {
            copy_line(row, &mut buffer);
        }
        if buffer.len() >= 1 << 20 {
            copy.send(std::mem::take(&mut buffer))
                .await
                .map_err(what())?;
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer).await.map_err(what())?;
    }
    copy.finish().await.map_err(what())?;
    Ok(())
}

/// One row in `COPY`'s text format: tab-separated, `\N` for NULL, backslash escapes.
fn copy_line(row: &Columns, out: &mut Vec<u8>) {
    for (i, (_, value)) in row.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match value {
            SqlValue::Null => out.extend_from_slice(b"\\N"),
            SqlValue::Bool(v) => out.push(if *v { b't' } else { b'f' }),
            SqlValue::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
            SqlValue::Time(v) => {
                out.extend_from_slice(v.format("%Y-%m-%d %H:%M:%S").to_string().as_bytes());
            }
            SqlValue::Text(text) => {
                for byte in text.bytes() {
                    match byte {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        other => out.push(other),
                    }
                }
            }
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(table: &'static str, a: i64, b: &str) -> Write {
        Write::Insert {
            table,
            row: vec![("a", a.into()), ("b", b.into())],
        }
    }

    fn delete(table: &'static str, key: Columns) -> Write {
        Write::Delete { table, key }
    }

    #[test]
    fn inserts_of_a_table_become_one_statement_and_keep_their_table_order() {
        let writes = [
            insert("t1", 1, "x"),
            insert("t2", 2, "y"),
            insert("t1", 3, "z"),
            delete("t2", vec![("a", 2.into())]),
            insert("t2", 4, "w"),
        ];
        let refs: Vec<&Write> = writes.iter().collect();
        let out = statements(Engine::Postgres, &refs);
        let sql: Vec<&str> = out.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                "INSERT INTO t1 (a, b) VALUES ($1, $2), ($3, $4)",
                "INSERT INTO t2 (a, b) VALUES ($1, $2)",
                "DELETE FROM t2 WHERE a = $1",
                "INSERT INTO t2 (a, b) VALUES ($1, $2)",
            ]
        );
        assert_eq!(
            out[0].params,
            [
                &SqlValue::Int(1),
                &"x".into(),
                &SqlValue::Int(3),
                &"z".into()
            ]
        );
    }

    #[test]
    fn deletes_share_leading_key_columns_and_list_the_last_one() {
        let writes = [
            delete("m", vec![("kind", "d".into()), ("id", 1.into())]),
            delete("m", vec![("kind", "d".into()), ("id", 2.into())]),
        ];
        let refs: Vec<&Write> = writes.iter().collect();
        let out = statements(Engine::MySql, &refs);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].sql, "DELETE FROM m WHERE kind = ? AND id IN (?, ?)");
        let mixed = [
            delete("m", vec![("kind", "d".into()), ("id", 1.into())]),
            delete("m", vec![("kind", "p".into()), ("id", 2.into())]),
        ];
        let refs: Vec<&Write> = mixed.iter().collect();
        let out = statements(Engine::Postgres, &refs);
        assert_eq!(
            out[0].sql,
            "DELETE FROM m WHERE (kind = $1 AND id = $2) OR (kind = $3 AND id = $4)"
        );
    }

    #[test]
    fn a_long_run_is_cut_at_the_row_limit() {
        let writes: Vec<Write> = (0..2_500).map(|i| insert("t", i, "v")).collect();
        let refs: Vec<&Write> = writes.iter().collect();
        let out = statements(Engine::MySql, &refs);
        let rows: Vec<usize> = out.iter().map(|s| s.params.len() / 2).collect();
        assert_eq!(rows, [1_000, 1_000, 500]);
    }

    #[test]
    fn copy_lines_escape_tabs_newlines_and_backslashes() {
        let row: Columns = vec![
            ("a", 7.into()),
            ("b", "x\ty\nz\\w\r".into()),
            ("c", SqlValue::Null),
        ];
        let mut out = Vec::new();
        copy_line(&row, &mut out);
        assert_eq!(out, b"7\tx\\ty\\nz\\\\w\\r\t\\N\n");
    }

    #[test]
    fn a_null_key_is_matched_with_is_null() {
        let write = delete("t", vec![("a", SqlValue::Null), ("b", 1.into())]);
        let out = single(Engine::Postgres, &write);
        assert_eq!(out.sql, "DELETE FROM t WHERE a IS NULL AND b = $1");
    }
}
