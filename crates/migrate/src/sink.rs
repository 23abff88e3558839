//! The SQL of a batch of writes, run inside one target transaction with few round trips.
//!
//! Writes are grouped by table (keeping their order within each table, but for deletes moved
//! ahead of inserts they cannot touch: `hoist`), and each run of
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
use crate::hoist::hoist_deletes;
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
/// The same for the stream's batches (`execute`): a `COPY` ends with a small `CopyDone`
/// written right after its data, and sqlx's sockets keep Nagle's algorithm on, so when the
/// server delays its ACK of a data segment that fits one packet the `CopyDone` waits ~40 ms
/// for it. Measured: each `COPY` of a few hundred relation rows took 44 ms, which made a
/// batch of 20 edited definitions take 95 ms and the lag at 200 changes/s settle near
/// 140 ms. A multi-row `INSERT` is one write answered by the server. The snapshot's large
/// `COPY`s (`prepare`) stay.
const STREAM_COPY_MIN_ROWS: usize = 2_000;

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
        .map(hoist_deletes)
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

/// Whether `next` (of the same table) can share statements with the run `first` began.
fn same_run(first: &Write, next: &Write) -> bool {
    match (first, next) {
        (Write::Insert { row: a, .. }, Write::Insert { row: b, .. }) => names(a).eq(names(b)),
        (Write::Delete { key: a, .. }, Write::Delete { key: b, .. }) => {
            !a.is_empty() && names(a).eq(names(b))
        }
        _ => false,
    }
}

/// The end of the run of writes starting at `start` that can share statements.
fn run_end(list: &[&Write], start: usize) -> usize {
    let first = list[start];
    let mut end = start + 1;
    while end < list.len() && same_run(first, list[end]) {
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
                (SinkTx::Postgres(pg), Step::Rows(run)) if run.len() >= STREAM_COPY_MIN_ROWS => {
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

/// A batch's writes made ready to send: on a PostgreSQL target each long run of inserts is
/// already `COPY` text, the rest stays writes for `execute`. Building it is CPU work only
/// (the snapshot does it on its transform thread, ahead of the writes); `send` just talks
/// to the database. Sending it has the effect of `execute` on the same writes.
#[derive(Debug, Default)]
pub struct Prepared {
    steps: Vec<PreparedStep>,
}

#[derive(Debug)]
enum PreparedStep {
    /// `COPY table (columns) FROM STDIN` and its rows in text format.
    Copy {
        table: &'static str,
        sql: String,
        data: Vec<u8>,
    },
    /// Writes sent as statements (one run, or any writes on a MySQL target).
    Writes(Vec<Write>),
}

impl Prepared {
    /// Bytes of `COPY` text in it.
    pub fn copy_bytes(&self) -> usize {
        self.steps
            .iter()
            .map(|s| match s {
                PreparedStep::Copy { data, .. } => data.len(),
                PreparedStep::Writes(_) => 0,
            })
            .sum()
    }

    /// `writes` sent as they are (`send` then is `execute`).
    pub fn unprepared(writes: Vec<Write>) -> Prepared {
        Prepared {
            steps: vec![PreparedStep::Writes(writes)],
        }
    }

    /// Appends `other`, to be sent after this.
    pub fn append(&mut self, mut other: Prepared) {
        self.steps.append(&mut other.steps);
    }
}

/// `writes` made ready for `send` (see `Prepared`).
pub fn prepare(engine: Engine, writes: Vec<Write>) -> Prepared {
    if engine != Engine::Postgres {
        return Prepared {
            steps: vec![PreparedStep::Writes(writes)],
        };
    }
    let mut steps = Vec::new();
    for list in by_table_owned(writes) {
        let mut runs = Vec::new();
        let mut start = 0;
        for i in 1..=list.len() {
            if i == list.len() || !same_run(&list[i - 1], &list[i]) {
                runs.push(i - start);
                start = i;
            }
        }
        let mut rest = list.into_iter();
        for len in runs {
            let first = rest.as_slice().first();
            let copy = match first {
                Some(Write::Insert { table, row }) if len >= COPY_MIN_ROWS => {
                    let columns: Vec<&str> = names(row).collect();
                    Some((
                        *table,
                        format!("COPY {table} ({}) FROM STDIN", columns.join(", ")),
                    ))
                }
                _ => None,
            };
            let run = rest.by_ref().take(len);
            match copy {
                Some((table, sql)) => {
                    let mut data = Vec::with_capacity(len * 256);
                    for write in run {
                        if let Write::Insert { row, .. } = write {
                            copy_line(&row, &mut data);
                        }
                    }
                    steps.push(PreparedStep::Copy { table, sql, data });
                }
                None => steps.push(PreparedStep::Writes(run.collect())),
            }
        }
    }
    Prepared { steps }
}

/// `by_table` for owned writes.
fn by_table_owned(writes: Vec<Write>) -> Vec<Vec<Write>> {
    let mut tables: Vec<(&'static str, Vec<Write>)> = Vec::new();
    for write in writes {
        let table = write.table();
        match tables.iter_mut().find(|(t, _)| *t == table) {
            Some((_, list)) => list.push(write),
            None => tables.push((table, vec![write])),
        }
    }
    tables
        .into_iter()
        .map(|(_, list)| hoist_deletes(list))
        .collect()
}

/// Sends `prepared` in `tx`.
pub async fn send(
    engine: Engine,
    tx: &mut SinkTx,
    prepared: &Prepared,
) -> Result<(), MigrateError> {
    for step in &prepared.steps {
        match (step, &mut *tx) {
            (PreparedStep::Copy { table, sql, data }, SinkTx::Postgres(pg)) => {
                let what = || db(format!("copying rows into {table}"));
                let mut copy = pg.copy_in_raw(sql).await.map_err(what())?;
                for piece in data.chunks(1 << 20) {
                    copy.send(piece).await.map_err(what())?;
                }
                copy.finish().await.map_err(what())?;
            }
            (PreparedStep::Copy { table, .. }, SinkTx::Any(_)) => {
                return Err(MigrateError::State {
                    reason: format!("rows for {table} were prepared as COPY for a MySQL target"),
                });
            }
            (PreparedStep::Writes(writes), tx) => {
                let refs: Vec<&Write> = writes.iter().collect();
                execute(engine, tx, &refs).await?;
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
                SqlValue::Text(v) => query.bind(&**v),
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
            SqlValue::Int(v) => push_int(*v, out),
            SqlValue::Time(v) => push_time(v, out),
            SqlValue::Text(text) => push_escaped(text.as_bytes(), out),
        }
    }
    out.push(b'\n');
}

/// `text` with `COPY`'s escapes for backslash, newline, carriage return and tab.
fn push_escaped(mut text: &[u8], out: &mut Vec<u8>) {
    while let Some(at) = text
        .iter()
        .position(|b| matches!(b, b'\\' | b'\n' | b'\r' | b'\t'))
    {
        out.extend_from_slice(&text[..at]);
        out.extend_from_slice(match text[at] {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => b"\\t",
        });
        text = &text[at + 1..];
    }
    out.extend_from_slice(text);
}

/// `value` in decimal.
fn push_int(value: i64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// `value` as `%Y-%m-%d %H:%M:%S` (what `bind_all!` sends), without chrono's formatter for
/// the years 0–9999.
fn push_time(value: &chrono::NaiveDateTime, out: &mut Vec<u8>) {
    use chrono::{Datelike, Timelike};
    let year = u32::try_from(value.year()).unwrap_or(u32::MAX);
    // Years beyond four digits and leap seconds (`:60`) keep chrono's rendering.
    if year > 9999 || value.nanosecond() >= 1_000_000_000 {
        out.extend_from_slice(value.format("%Y-%m-%d %H:%M:%S").to_string().as_bytes());
        return;
    }
    let two = |n: u32| {
        [
            b'0' + u8::try_from(n / 10 % 10).unwrap_or(0),
            b'0' + u8::try_from(n % 10).unwrap_or(0),
        ]
    };
    out.extend_from_slice(&two(year / 100));
    out.extend_from_slice(&two(year % 100));
    out.push(b'-');
    out.extend_from_slice(&two(value.month()));
    out.push(b'-');
    out.extend_from_slice(&two(value.day()));
    out.push(b' ');
    out.extend_from_slice(&two(value.hour()));
    out.push(b':');
    out.extend_from_slice(&two(value.minute()));
    out.push(b':');
    out.extend_from_slice(&two(value.second()));
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
    fn copy_text_renders_values_as_the_bound_parameters_do() {
        use chrono::NaiveDate;
        let at = |y, mo, d, h, mi, s| {
            NaiveDate::from_ymd_opt(y, mo, d)
                .and_then(|day| day.and_hms_opt(h, mi, s))
                .unwrap()
        };
        for time in [
            at(2024, 3, 1, 10, 20, 30),
            at(1, 1, 1, 0, 0, 0),
            at(999, 12, 31, 23, 59, 59),
            at(12_345, 6, 7, 8, 9, 10),
            at(-44, 3, 15, 12, 0, 0),
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 1_500))
                .unwrap(),
        ] {
            let mut out = Vec::new();
            push_time(&time, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                time.format("%Y-%m-%d %H:%M:%S").to_string()
            );
        }
        for n in [0, 7, -7, 10, 1_234_567_890_123, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_int(n, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
        let row: Columns = vec![("a", SqlValue::Bool(true)), ("b", "plain".into())];
        let mut out = Vec::new();
        copy_line(&row, &mut out);
        assert_eq!(out, b"t\tplain\n");
    }

    #[test]
    fn prepared_writes_copy_long_insert_runs_and_keep_the_rest_in_order() {
        let mut writes = vec![delete("t1", vec![("a", 1.into())])];
        writes.extend((0..70).map(|i| insert("t1", i, "x")));
        writes.push(insert("t2", 1, "y"));
        writes.push(delete("t1", vec![("a", 2.into())]));
        let prepared = prepare(Engine::Postgres, writes.clone());
        let shape: Vec<String> = prepared
            .steps
            .iter()
            .map(|s| match s {
                PreparedStep::Copy { sql, data, .. } => {
                    format!(
                        "{sql} [{} lines]",
                        data.iter().filter(|b| **b == b'\n').count()
                    )
                }
                PreparedStep::Writes(w) => format!("{} writes to {}", w.len(), w[0].table()),
            })
            .collect();
        assert_eq!(
            shape,
            [
                "1 writes to t1",
                "COPY t1 (a, b) FROM STDIN [70 lines]",
                "1 writes to t1",
                "1 writes to t2",
            ]
        );
        let PreparedStep::Copy { data, .. } = &prepared.steps[1] else {
            unreachable!("checked above")
        };
        assert!(data.starts_with(b"0\tx\n1\tx\n"));
        let mysql = prepare(Engine::MySql, writes.clone());
        assert!(matches!(&mysql.steps[..], [PreparedStep::Writes(w)] if *w == writes));
        assert_eq!(mysql.copy_bytes(), 0);
    }

    #[test]
    fn a_null_key_is_matched_with_is_null() {
        let write = delete("t", vec![("a", SqlValue::Null), ("b", 1.into())]);
        let out = single(Engine::Postgres, &write);
        assert_eq!(out.sql, "DELETE FROM t WHERE a IS NULL AND b = $1");
    }
}
