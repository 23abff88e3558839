//! The MySQL/MariaDB source: a consistent snapshot and its binary log position, then the
//! ROW-format binary log from exactly that position, one source transaction at a time.

use std::collections::BTreeMap;
use std::fmt;

use futures::StreamExt;
use mysql_async::binlog::events::EventData;
use mysql_async::{BinlogStreamRequest, Conn, Opts};
use sqlx::{AnyConnection, Connection, Row};
use tokio::sync::mpsc;

use crate::decode::{Fields, decode, is_time};
use crate::engine::Engine;
use crate::error::{MigrateError, db};
use crate::event::{Change, SourceTable};
use crate::snapshot::{OnBlock, read_tables_in_blocks};

/// A binary log position: the file and the offset after the last applied transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogPosition {
    pub file: String,
    pub pos: u64,
}

impl fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

impl BinlogPosition {
    pub fn parse(text: &str) -> Option<BinlogPosition> {
        let (file, pos) = text.rsplit_once(':')?;
        Some(BinlogPosition {
            file: file.to_owned(),
            pos: pos.parse().ok()?,
        })
    }
}

/// One source transaction's changes to the followed tables and the position after it.
pub type SourceTransaction = (Vec<Change>, BinlogPosition);

/// Reads every followed row in one consistent snapshot and returns the binlog position of
/// that snapshot (MariaDB's `binlog_snapshot_file`/`binlog_snapshot_position`).
pub async fn snapshot(url: &str) -> Result<(Vec<Change>, BinlogPosition), MigrateError> {
    let mut changes = Vec::new();
    let position = snapshot_in_blocks(url, &mut |block| changes.extend(block)).await?;
    Ok((changes, position))
}

/// `snapshot`, handing the rows to `on_block` as they are read (`read_tables_in_blocks`).
pub async fn snapshot_in_blocks(
    url: &str,
    on_block: OnBlock<'_>,
) -> Result<BinlogPosition, MigrateError> {
    sqlx::any::install_default_drivers();
    let (_, url) = Engine::of_url(url)?;
    let mut conn = AnyConnection::connect(&url)
        .await
        .map_err(db("connecting to the source"))?;
    sqlx::raw_sql("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut conn)
        .await
        .map_err(db("starting the snapshot"))?;
    sqlx::raw_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .execute(&mut conn)
        .await
        .map_err(db("starting the snapshot"))?;
    let rows = sqlx::raw_sql("SHOW STATUS LIKE 'binlog_snapshot_%'")
        .fetch_all(&mut conn)
        .await
        .map_err(db("reading the snapshot position"))?;
    let mut status = BTreeMap::new();
    for row in rows {
        let name: String = row
            .try_get(0)
            .map_err(db("reading the snapshot position"))?;
        let value: String = row
            .try_get(1)
            .map_err(db("reading the snapshot position"))?;
        status.insert(name.to_lowercase(), value);
    }
    let position = match (
        status.get("binlog_snapshot_file"),
        status.get("binlog_snapshot_position"),
    ) {
        (Some(file), Some(pos)) if !file.is_empty() => BinlogPosition {
            file: file.clone(),
            pos: pos.parse().unwrap_or(4),
        },
        _ => {
            return Err(MigrateError::Unsupported {
                what: "this MySQL server",
                reason: "it does not report binlog_snapshot_file; use MariaDB or enable log_bin",
            });
        }
    };
    read_tables_in_blocks(&mut conn, Engine::MySql, on_block).await?;
    sqlx::raw_sql("COMMIT")
        .execute(&mut conn)
        .await
        .map_err(db("ending the snapshot"))?;
    Ok(position)
}

/// Column names by ordinal for the followed tables (used when the binlog carries none).
async fn column_names(
    url: &str,
    database: &str,
) -> Result<BTreeMap<String, Vec<String>>, MigrateError> {
    let (_, url) = Engine::of_url(url)?;
    let mut conn = AnyConnection::connect(&url)
        .await
        .map_err(db("connecting to the source"))?;
    let rows = sqlx::query("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ? ORDER BY table_name, ordinal_position")
        .bind(database)
        .fetch_all(&mut conn)
        .await
        .map_err(db("reading the source columns"))?;
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        let table: String = row.try_get(0).map_err(db("reading the source columns"))?;
        let column: String = row.try_get(1).map_err(db("reading the source columns"))?;
        names.entry(table).or_default().push(column);
    }
    Ok(names)
}

fn render(value: &mysql_async::Value) -> Option<String> {
    use mysql_async::Value;
    match value {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(v) => Some(v.to_string()),
        Value::UInt(v) => Some(v.to_string()),
        Value::Float(v) => Some(v.to_string()),
        Value::Double(v) => Some(v.to_string()),
        Value::Date(y, m, d, h, i, s, _) => {
            Some(format!("{y:04}-{m:02}-{d:02} {h:02}:{i:02}:{s:02}"))
        }
        Value::Time(neg, d, h, i, s, _) => Some(format!(
            "{}{}:{i:02}:{s:02}",
            if *neg { "-" } else { "" },
            u32::from(*h) + d * 24
        )),
    }
}

fn fields_of(row: &mysql_async::binlog::row::BinlogRow, fallback: Option<&Vec<String>>) -> Fields {
    let mut fields = Fields::new();
    for (i, column) in row.columns_ref().iter().enumerate() {
        let mut name = column.name_str().into_owned();
        if name.is_empty() {
            name = fallback.and_then(|f| f.get(i)).cloned().unwrap_or_default();
        }
        let value = match row.as_ref(i) {
            Some(mysql_async::binlog::value::BinlogValue::Value(v)) => render(v),
            _ => None,
        };
        let value = match value {
            Some(v) if is_time(&name) && v.starts_with("0000-00-00") => None,
            other => other,
        };
        fields.insert(name, value);
    }
    fields
}

/// Follows the binary log from `start`, sending each committed transaction that touched a
/// followed table of `database` (and an empty one for others, so the position advances).
/// Returns when the receiver is dropped.
pub async fn stream(
    url: &str,
    database: &str,
    start: BinlogPosition,
    server_id: u32,
    out: mpsc::Sender<SourceTransaction>,
) -> Result<(), MigrateError> {
    let (_, sqlx_url) = Engine::of_url(url)?;
    let names = column_names(url, database).await?;
    let opts = Opts::from_url(&sqlx_url).map_err(|_| MigrateError::BadUrl {
        reason: "the source url is not a valid mysql url",
    })?;
    let conn = Conn::new(opts)
        .await
        .map_err(|source| MigrateError::Binlog { source })?;
    let request = BinlogStreamRequest::new(server_id)
        .with_filename(start.file.as_bytes())
        .with_pos(start.pos);
    let mut binlog = conn
        .get_binlog_stream(request)
        .await
        .map_err(|source| MigrateError::Binlog { source })?;
    let mut file = start.file.clone();
    let mut pending: Vec<Change> = Vec::new();
    while let Some(event) = binlog.next().await {
        let event = event.map_err(|source| MigrateError::Binlog { source })?;
        let log_pos = u64::from(event.header().log_pos());
        let data = event.read_data().map_err(|e| MigrateError::Binlog {
            source: mysql_async::Error::Io(e.into()),
        })?;
        match data {
            // The stream opens with a synthetic rotate (log_pos 0) naming the file we asked
            // for; its name may carry checksum bytes, so it is ignored.
            Some(EventData::RotateEvent(rotate)) if log_pos != 0 => {
                file = rotated_name(&rotate.name(), &file)
            }
            Some(EventData::RowsEvent(rows)) => {
                let Some(tme) = binlog.get_tme(rows.table_id()) else {
                    continue;
                };
                if tme.database_name() != database {
                    continue;
                }
                let table_name = tme.table_name().into_owned();
                let Some(table) = SourceTable::from_name(&table_name) else {
                    continue;
                };
                for row in rows.rows(tme) {
                    let (before, after) = row.map_err(|e| MigrateError::Binlog {
                        source: mysql_async::Error::Io(e.into()),
                    })?;
                    let fallback = names.get(&table_name);
                    let change = match (before, after) {
                        (_, Some(after)) => {
                            let fields = fields_of(&after, fallback);
                            Change::Upsert(decode(table, &fields).map_err(|reason| {
                                MigrateError::SourceRow {
                                    table: table.name(),
                                    reason,
                                }
                            })?)
                        }
                        (Some(before), None) => {
                            let fields = fields_of(&before, fallback);
                            let id = fields
                                .get("id")
                                .cloned()
                                .flatten()
                                .and_then(|v| v.parse().ok())
                                .ok_or(MigrateError::SourceRow {
                                    table: table.name(),
                                    reason: "deleted row has no id".to_owned(),
                                })?;
                            Change::Delete { table, id }
                        }
                        (None, None) => continue,
                    };
                    pending.push(change);
                }
            }
            Some(EventData::XidEvent(_)) => {
                let position = BinlogPosition {
                    file: file.clone(),
                    pos: log_pos,
                };
                if out
                    .send((std::mem::take(&mut pending), position))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
            }
            Some(EventData::QueryEvent(query))
                if query.query().trim().eq_ignore_ascii_case("COMMIT") =>
            {
                let position = BinlogPosition {
                    file: file.clone(),
                    pos: log_pos,
                };
                if out
                    .send((std::mem::take(&mut pending), position))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The file a real rotate names. Binlog file names are `<base>.<digits>` of fixed width;
/// a name longer than the current one with the same base carries trailing checksum bytes.
fn rotated_name(name: &str, current: &str) -> String {
    let clean: String = name
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    let base = current.rsplit_once('.').map_or(current, |(b, _)| b);
    if clean.len() > current.len() && clean.starts_with(base) {
        clean[..current.len()].to_owned()
    } else {
        clean
    }
}

/// The database name of a mysql URL.
pub fn database_of(url: &str) -> Result<String, MigrateError> {
    let parsed = url::Url::parse(url).map_err(|_| MigrateError::BadUrl {
        reason: "the source url does not parse",
    })?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    if name.is_empty() {
        return Err(MigrateError::BadUrl {
            reason: "the source url names no database",
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotate_name_with_checksum_bytes_is_cut_to_the_file_name() {
        assert_eq!(
            rotated_name("mysql-bin.0000045", "mysql-bin.000003"),
            "mysql-bin.000004"
        );
        assert_eq!(
            rotated_name("mysql-bin.000004\u{7f}", "mysql-bin.000003"),
            "mysql-bin.000004"
        );
        assert_eq!(
            rotated_name("mysql-bin.000004", "mysql-bin.000003"),
            "mysql-bin.000004"
        );
    }

    #[test]
    fn positions_round_trip_through_text() {
        let p = BinlogPosition {
            file: "mysql-bin.000003".into(),
            pos: 1234,
        };
        assert_eq!(BinlogPosition::parse(&p.to_string()), Some(p));
        assert_eq!(BinlogPosition::parse("nofile"), None);
    }
}
