//! The PostgreSQL source: a publication and a logical replication slot (pgoutput) that
//! changeover creates, reports and drops on cleanup.
//!
//! Consistency: the slot is created inside a transaction that holds SHARE locks on the
//! followed tables, and the tables are read in that same transaction. Writers wait for the
//! lock, so the rows read are exactly the state at the slot's start LSN; the stream then
//! starts at that LSN. (The replication protocol's `EXPORT_SNAPSHOT` needs a replication
//! connection, which sqlx cannot open; the lock is held only while the four tables are read.)
//! The followed tables are set to `REPLICA IDENTITY FULL` so an update that leaves a large
//! `process_definition_json` unchanged still carries it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use md5::{Digest, Md5};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};
use tokio::sync::mpsc;

use crate::decode::decode as decode_row;
use crate::engine::Engine;
use crate::error::{MigrateError, db};
use crate::event::{Change, SourceTable};
use crate::pgoutput::{Message, decode, fields};
use crate::position::{Position, format_lsn, parse_lsn};
use crate::snapshot::read_tables;

/// The slot and publication names of the migration into `target_url`.
pub fn replication_names(target_url: &str) -> (String, String) {
    let digest = hex::encode(Md5::digest(target_url.as_bytes()));
    (
        format!("changeover_slot_{}", &digest[..12]),
        format!("changeover_pub_{}", &digest[..12]),
    )
}

async fn connect(url: &str) -> Result<AnyConnection, MigrateError> {
    sqlx::any::install_default_drivers();
    let (_, url) = Engine::of_url(url)?;
    AnyConnection::connect(&url)
        .await
        .map_err(db("connecting to the source"))
}

async fn exec(conn: &mut AnyConnection, sql: String, what: &str) -> Result<(), MigrateError> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map_err(db(what))?;
    Ok(())
}

fn tables() -> String {
    SourceTable::ALL
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Creates the publication and the slot, and reads the tables at the slot's start.
pub async fn snapshot(
    url: &str,
    slot: &str,
    publication: &str,
) -> Result<(Vec<Change>, Position), MigrateError> {
    let mut conn = connect(url).await?;
    let exists = sqlx::query(AssertSqlSafe(format!(
        "SELECT 1 FROM pg_publication WHERE pubname = '{publication}'"
    )))
    .fetch_optional(&mut conn)
    .await
    .map_err(db("looking up the publication"))?;
    if exists.is_none() {
        exec(
            &mut conn,
            format!("CREATE PUBLICATION {publication} FOR TABLE {}", tables()),
            "creating the publication",
        )
        .await?;
    }
    for table in SourceTable::ALL {
        exec(
            &mut conn,
            format!("ALTER TABLE {} REPLICA IDENTITY FULL", table.name()),
            "setting replica identity",
        )
        .await?;
    }
    drop_slot(&mut conn, slot).await?;
    exec(&mut conn, "BEGIN".to_owned(), "starting the snapshot").await?;
    exec(
        &mut conn,
        format!("LOCK TABLE {} IN SHARE MODE", tables()),
        "locking the source tables",
    )
    .await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT CAST(lsn AS TEXT) FROM pg_create_logical_replication_slot('{slot}', 'pgoutput')"
    )))
    .fetch_one(&mut conn)
    .await
    .map_err(db("creating the replication slot"))?;
    let lsn: String = row
        .try_get(0)
        .map_err(db("creating the replication slot"))?;
    let changes = read_tables(&mut conn, Engine::Postgres).await?;
    exec(&mut conn, "COMMIT".to_owned(), "ending the snapshot").await?;
    let lsn = parse_lsn(&lsn).ok_or_else(|| MigrateError::State {
        reason: format!("slot lsn {lsn} does not parse"),
    })?;
    Ok((changes, Position::Lsn(lsn)))
}

async fn drop_slot(conn: &mut AnyConnection, slot: &str) -> Result<(), MigrateError> {
    let exists = sqlx::query(AssertSqlSafe(format!(
        "SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}'"
    )))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("looking up the replication slot"))?;
    if exists.is_none() {
        return Ok(());
    }
    let sql = format!("SELECT 1 FROM (SELECT pg_drop_replication_slot('{slot}')) AS dropped");
    let mut attempts = 0;
    loop {
        match sqlx::raw_sql(AssertSqlSafe(sql.clone()))
            .execute(&mut *conn)
            .await
        {
            Ok(_) => return Ok(()),
            // A stopped migrator's session may hold the slot for a moment.
            Err(e)
                if e.to_string().contains("is active for PID") && attempts < SLOT_BUSY_RETRIES =>
            {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(db("dropping the replication slot")(e)),
        }
    }
}

/// Drops the slot and the publication (`migrate cleanup`).
pub async fn cleanup(url: &str, slot: &str, publication: &str) -> Result<(), MigrateError> {
    let mut conn = connect(url).await?;
    drop_slot(&mut conn, slot).await?;
    exec(
        &mut conn,
        format!("DROP PUBLICATION IF EXISTS {publication}"),
        "dropping the publication",
    )
    .await?;
    conn.close()
        .await
        .map_err(db("closing the source connection"))
}

/// The source's current flushed WAL position.
pub async fn current_lsn(url: &str) -> Result<Position, MigrateError> {
    let mut conn = connect(url).await?;
    let row = sqlx::query("SELECT CAST(pg_current_wal_flush_lsn() AS TEXT)")
        .fetch_one(&mut conn)
        .await
        .map_err(db("reading the source position"))?;
    let text: String = row.try_get(0).map_err(db("reading the source position"))?;
    conn.close()
        .await
        .map_err(db("closing the source connection"))?;
    parse_lsn(&text)
        .map(Position::Lsn)
        .ok_or_else(|| MigrateError::State {
            reason: format!("lsn {text} does not parse"),
        })
}

/// How long (in 200 ms steps) to wait for a slot another session still holds.
const SLOT_BUSY_RETRIES: u32 = 150;

/// Polls the slot from `start`, sending each committed transaction with its end LSN. The
/// slot is advanced to `committed` (set by the sink after each commit) so WAL is released.
pub async fn stream(
    url: &str,
    slot: &str,
    publication: &str,
    start: u64,
    committed: Arc<AtomicU64>,
    out: mpsc::Sender<(Vec<Change>, Position)>,
) -> Result<(), MigrateError> {
    let mut conn = connect(url).await?;
    let mut relations: BTreeMap<u32, (SourceTable, Vec<String>)> = BTreeMap::new();
    let mut sent = start;
    let mut advanced = 0;
    let mut busy_retries = 0;
    loop {
        let done = committed.load(Ordering::SeqCst);
        if done > advanced {
            exec(&mut conn, format!("SELECT 1 FROM (SELECT pg_replication_slot_advance('{slot}', '{}')) AS advanced", format_lsn(done)), "advancing the replication slot").await?;
            advanced = done;
        }
        // Everything flushed before the peek is decoded by it: an empty answer means the
        // slot is idle up to `flushed`, which becomes the position (so lag can reach zero
        // while other databases of the cluster keep writing WAL).
        let row = sqlx::query("SELECT CAST(pg_current_wal_flush_lsn() AS TEXT)")
            .fetch_one(&mut conn)
            .await
            .map_err(db("reading the flush position"))?;
        let flushed: String = row.try_get(0).map_err(db("reading the flush position"))?;
        let flushed = parse_lsn(&flushed).unwrap_or(0);
        let sql = format!(
            "SELECT data FROM pg_logical_slot_peek_binary_changes('{slot}', NULL, 2000, 'proto_version', '1', 'publication_names', '{publication}')"
        );
        let rows = match sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut conn).await {
            Ok(rows) => rows,
            // The previous run's session may still hold the slot for a moment.
            Err(e)
                if e.to_string().contains("is active for PID")
                    && busy_retries < SLOT_BUSY_RETRIES =>
            {
                busy_retries += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => return Err(db("reading the replication slot")(e)),
        };
        busy_retries = 0;
        if rows.is_empty() && flushed > sent {
            if out
                .send((Vec::new(), Position::Lsn(flushed)))
                .await
                .is_err()
            {
                return Ok(());
            }
            sent = flushed;
        }
        let mut pending: Vec<Change> = Vec::new();
        let mut sent_any = false;
        for row in rows {
            let data: Vec<u8> = row.try_get(0).map_err(db("reading the replication slot"))?;
            let message = decode(&data).map_err(|reason| MigrateError::SourceRow {
                table: "pgoutput",
                reason,
            })?;
            let change = match message {
                Message::Relation {
                    id, name, columns, ..
                } => {
                    if let Some(table) = SourceTable::from_name(&name) {
                        relations.insert(id, (table, columns));
                    }
                    None
                }
                Message::Begin { .. } => {
                    pending.clear();
                    None
                }
                Message::Commit { end_lsn, .. } => {
                    if end_lsn > sent {
                        if out
                            .send((std::mem::take(&mut pending), Position::Lsn(end_lsn)))
                            .await
                            .is_err()
                        {
                            return Ok(());
                        }
                        sent = end_lsn;
                        sent_any = true;
                    }
                    None
                }
                Message::Insert { relation, new } => upsert(&relations, relation, &new, None)?,
                Message::Update { relation, old, new } => {
                    upsert(&relations, relation, &new, old.as_deref())?
                }
                Message::Delete { relation, old } => match relations.get(&relation) {
                    Some((table, columns)) => {
                        let f = fields(columns, &old, None);
                        let id = f.get("id").cloned().flatten().and_then(|v| v.parse().ok());
                        id.map(|id| Change::Delete { table: *table, id })
                    }
                    None => None,
                },
                Message::Other(_) => None,
            };
            pending.extend(change);
        }
        if !sent_any {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn upsert(
    relations: &BTreeMap<u32, (SourceTable, Vec<String>)>,
    relation: u32,
    new: &[crate::pgoutput::Datum],
    old: Option<&[crate::pgoutput::Datum]>,
) -> Result<Option<Change>, MigrateError> {
    let Some((table, columns)) = relations.get(&relation) else {
        return Ok(None);
    };
    let f = fields(columns, new, old);
    let row = decode_row(*table, &f).map_err(|reason| MigrateError::SourceRow {
        table: table.name(),
        reason,
    })?;
    Ok(Some(Change::Upsert(row)))
}
