//! The PostgreSQL source: a publication and a logical replication slot (pgoutput) that
//! changeover creates, reports and drops on cleanup.
//!
//! Consistency: the slot is created on a replication connection with
//! `CREATE_REPLICATION_SLOT … LOGICAL pgoutput (SNAPSHOT 'export')`, and the tables are read
//! in a repeatable-read transaction that imports that snapshot (the exporting connection
//! stays open and idle until the import is done). The rows read are exactly the state at
//! the slot's consistent point, and the stream starts there. No table is locked: writers go
//! on while the slot is created and the snapshot is read, and what they commit after the
//! consistent point arrives through the stream.
//!
//! Streaming: `START_REPLICATION` on a replication connection (CopyBoth, through
//! `pgwire-replication`): the server pushes each transaction when it commits. The position
//! the sink has committed is reported back as flushed, so the slot releases WAL; a restart
//! asks for the stream from the committed position, and the server sends only transactions
//! that commit after it.
//!
//! The followed tables are set to `REPLICA IDENTITY FULL`: an update that leaves a TOASTed
//! value (a large `process_definition_json`) unchanged sends that value only in the old
//! tuple, which the default identity (the primary key) does not log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use md5::{Digest, Md5};
use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig, ReplicationEvent};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};
use tokio::sync::mpsc;

use crate::decode::decode as decode_row;
use crate::engine::Engine;
use crate::error::{MigrateError, db, replication};
use crate::event::{Change, SourceTable};
use crate::pgoutput::{Message, decode, fields};
use crate::position::{Position, parse_lsn};
use crate::snapshot::{OnBlock, read_tables_in_blocks};

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

/// Session settings of the replication connection, the same sqlx sets on its own
/// connections, so values arrive in the text form the snapshot reads them in.
const SESSION_OPTIONS: &str = "-c DateStyle=ISO,MDY -c TimeZone=UTC -c extra_float_digits=2";

/// How often the committed position is reported to the server at most.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// How often the stream looks at the committed position while no event arrives.
const ACK_CHECK: Duration = Duration::from_millis(250);

/// The replication connection's settings from a `postgres://` URL (user, password, host or
/// `?host=/socket/dir`, port, database). The password is taken from the URL, else from
/// `PGPASSWORD`, as sqlx does; it is never logged.
fn replication_config(
    url: &str,
    slot: &str,
    publication: &str,
) -> Result<ReplicationConfig, MigrateError> {
    let parsed = url::Url::parse(url).map_err(|_| MigrateError::BadUrl {
        reason: "the PostgreSQL source URL does not parse",
    })?;
    let decoded = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(|t| t.into_owned())
            .map_err(|_| MigrateError::BadUrl {
                reason: "the PostgreSQL source URL has a user or password that is not UTF-8",
            })
    };
    let mut host = parsed
        .host_str()
        .unwrap_or("localhost")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "host" => host = value.into_owned(),
            "sslmode" if !matches!(value.as_ref(), "disable" | "allow" | "prefer") => {
                return Err(MigrateError::Unsupported {
                    what: "TLS on the PostgreSQL replication connection",
                    reason: "this build has no TLS; use sslmode=disable or prefer",
                });
            }
            _ => {}
        }
    }
    // Like sqlx: the URL's user, else PGUSER, else the account's name.
    let user = match parsed.username() {
        "" => std::env::var("PGUSER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "postgres".to_owned()),
        name => decoded(name)?,
    };
    let password = match parsed.password() {
        Some(p) => decoded(p)?,
        None => std::env::var("PGPASSWORD").unwrap_or_default(),
    };
    let database = decoded(parsed.path().trim_start_matches('/'))?;
    if database.is_empty() {
        return Err(MigrateError::BadUrl {
            reason: "the PostgreSQL source URL names no database",
        });
    }
    Ok(
        ReplicationConfig::new(host, user, password, database, slot, publication)
            .with_port(parsed.port().unwrap_or(5432))
            .with_options(SESSION_OPTIONS)
            .with_status_interval(STATUS_INTERVAL)
            .with_application_name(format!("changeover {slot}")),
    )
}

/// A slot just created, with its exported snapshot imported into a repeatable-read
/// transaction: [`SlotSnapshot::read`] sees exactly the state at [`SlotSnapshot::position`],
/// and the stream from that position carries every later change. Writers are not blocked.
pub struct SlotSnapshot {
    conn: AnyConnection,
    position: Position,
}

impl SlotSnapshot {
    /// Creates the publication (if missing) and the slot (dropping an older one of the same
    /// name), and imports the slot's snapshot.
    pub async fn begin(
        url: &str,
        slot: &str,
        publication: &str,
    ) -> Result<SlotSnapshot, MigrateError> {
        let config = replication_config(url, slot, publication)?;
        let mut conn = connect(url).await?;
        prepare_tables(&mut conn, publication).await?;
        drop_slot(&mut conn, slot).await?;
        let mut session = ReplicationClient::connect_gated(config)
            .await
            .map_err(replication(
                "opening a replication connection to the source",
            ))?;
        let rows = session
            .simple_query(&format!(
                "CREATE_REPLICATION_SLOT {slot} LOGICAL pgoutput (SNAPSHOT 'export')"
            ))
            .await
            .map_err(replication("creating the replication slot"))?;
        // slot_name, consistent_point, snapshot_name, output_plugin
        let column = |i: usize| {
            rows.first()
                .and_then(|row| row.get(i))
                .and_then(Option::as_ref)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let (Some(point), Some(snapshot)) = (column(1), column(2)) else {
            return Err(MigrateError::State {
                reason: "CREATE_REPLICATION_SLOT returned no consistent point or snapshot"
                    .to_owned(),
            });
        };
        let lsn = parse_lsn(&point).ok_or_else(|| MigrateError::State {
            reason: format!("slot consistent point {point} does not parse"),
        })?;
        if snapshot.is_empty() || !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(MigrateError::State {
                reason: format!("exported snapshot name {snapshot:?} is not a snapshot id"),
            });
        }
        exec(
            &mut conn,
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY".to_owned(),
            "starting the snapshot",
        )
        .await?;
        exec(
            &mut conn,
            format!("SET TRANSACTION SNAPSHOT '{snapshot}'"),
            "importing the slot's snapshot",
        )
        .await?;
        // Imported: the exporting session may end (the slot stays).
        drop(session);
        Ok(SlotSnapshot {
            conn,
            position: Position::Lsn(lsn),
        })
    }

    /// Where the stream of this snapshot starts (the slot's consistent point).
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// Reads the followed tables in the snapshot and ends its transaction.
    pub async fn read(self) -> Result<(Vec<Change>, Position), MigrateError> {
        let mut changes = Vec::new();
        let position = self
            .read_in_blocks(&mut |block| changes.extend(block))
            .await?;
        Ok((changes, position))
    }

    /// `read`, handing the rows to `on_block` as they are read (`read_tables_in_blocks`).
    pub async fn read_in_blocks(mut self, on_block: OnBlock<'_>) -> Result<Position, MigrateError> {
        read_tables_in_blocks(&mut self.conn, Engine::Postgres, on_block).await?;
        exec(&mut self.conn, "COMMIT".to_owned(), "ending the snapshot").await?;
        self.conn
            .close()
            .await
            .map_err(db("closing the source connection"))?;
        Ok(self.position)
    }
}

/// Creates the publication if it is missing and sets `REPLICA IDENTITY FULL` on the
/// followed tables that do not have it yet (an `ALTER TABLE` waits for, and briefly holds,
/// a lock on the table, so it is skipped when there is nothing to change).
async fn prepare_tables(conn: &mut AnyConnection, publication: &str) -> Result<(), MigrateError> {
    let exists = sqlx::query(AssertSqlSafe(format!(
        "SELECT 1 FROM pg_publication WHERE pubname = '{publication}'"
    )))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("looking up the publication"))?;
    if exists.is_none() {
        exec(
            conn,
            format!("CREATE PUBLICATION {publication} FOR TABLE {}", tables()),
            "creating the publication",
        )
        .await?;
    }
    for table in SourceTable::ALL {
        let full = sqlx::query(AssertSqlSafe(format!(
            "SELECT 1 FROM pg_class WHERE oid = '{}'::regclass AND relreplident = 'f'",
            table.name()
        )))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("reading the replica identity"))?;
        if full.is_none() {
            exec(
                conn,
                format!("ALTER TABLE {} REPLICA IDENTITY FULL", table.name()),
                "setting replica identity",
            )
            .await?;
        }
    }
    Ok(())
}

/// Creates the publication and the slot, and reads the tables at the slot's start.
pub async fn snapshot(
    url: &str,
    slot: &str,
    publication: &str,
) -> Result<(Vec<Change>, Position), MigrateError> {
    SlotSnapshot::begin(url, slot, publication)
        .await?
        .read()
        .await
}

/// `snapshot`, handing the rows to `on_block` as they are read (`read_tables_in_blocks`).
pub async fn snapshot_in_blocks(
    url: &str,
    slot: &str,
    publication: &str,
    on_block: OnBlock<'_>,
) -> Result<Position, MigrateError> {
    SlotSnapshot::begin(url, slot, publication)
        .await?
        .read_in_blocks(on_block)
        .await
}

/// SQLSTATE `undefined_object`: the slot no longer exists.
fn slot_gone(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "42704")
}

fn slot_busy(message: &str) -> bool {
    message.contains("is active for PID")
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
            // A slot whose creating session was killed before it finished is ephemeral: the
            // ending session removes it, possibly between the look-up and the drop.
            Err(e) if slot_gone(&e) => return Ok(()),
            // A stopped migrator's session may hold the slot for a moment.
            Err(e) if slot_busy(&e.to_string()) && attempts < SLOT_BUSY_RETRIES => {
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

/// Opens the replication stream of `slot` from `start` (the committed position, also
/// reported as flushed until the sink commits more), waiting while a previous session of
/// this migration still holds the slot.
async fn start_replication(
    url: &str,
    slot: &str,
    publication: &str,
    start: u64,
) -> Result<ReplicationClient, MigrateError> {
    let mut attempts = 0;
    loop {
        let config = replication_config(url, slot, publication)?.with_start_lsn(Lsn(start));
        let mut client = ReplicationClient::connect(config)
            .await
            .map_err(replication(
                "opening a replication connection to the source",
            ))?;
        match client.wait_started().await {
            Ok(()) => return Ok(client),
            Err(e) if slot_busy(&e.to_string()) && attempts < SLOT_BUSY_RETRIES => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(replication("starting the replication stream")(e)),
        }
    }
}

/// Follows the slot from `start`, sending each committed transaction with its end LSN, and
/// position-only advances (empty) when the server reports that it has read the WAL up to a
/// later point with nothing published in between (other tables and databases of the
/// cluster). The position the sink committed (`committed`) is reported to the server.
/// Returns when `out` is closed.
pub async fn stream(
    url: &str,
    slot: &str,
    publication: &str,
    start: u64,
    committed: Arc<AtomicU64>,
    out: mpsc::Sender<(Vec<Change>, Position)>,
) -> Result<(), MigrateError> {
    let mut client = start_replication(url, slot, publication, start).await?;
    let mut relations: BTreeMap<u32, (SourceTable, Vec<String>)> = BTreeMap::new();
    let mut pending: Vec<Change> = Vec::new();
    let mut in_transaction = false;
    let mut sent = start;
    let mut acknowledged = start;
    let mut check = tokio::time::interval(ACK_CHECK);
    loop {
        let done = committed.load(Ordering::SeqCst);
        if done > acknowledged {
            client.update_applied_lsn(Lsn(done));
            acknowledged = done;
        }
        let event = tokio::select! {
            event = client.recv() => event.map_err(replication("reading the replication stream"))?,
            _ = check.tick() => continue,
        };
        let Some(event) = event else {
            return Err(MigrateError::State {
                reason: "the source ended the replication stream".to_owned(),
            });
        };
        let (changes, position) = match event {
            ReplicationEvent::Begin { .. } => {
                pending.clear();
                in_transaction = true;
                continue;
            }
            ReplicationEvent::Commit { end_lsn, .. } => {
                in_transaction = false;
                let changes = std::mem::take(&mut pending);
                // A transaction at or before the start was applied already.
                if end_lsn.0 <= sent {
                    continue;
                }
                (changes, end_lsn.0)
            }
            // Every transaction that commits before `wal_end` has been sent before this.
            ReplicationEvent::KeepAlive { wal_end, .. } => {
                if in_transaction || wal_end.0 <= sent {
                    continue;
                }
                (Vec::new(), wal_end.0)
            }
            ReplicationEvent::XLogData { data, .. } => {
                let message = decode(&data).map_err(|reason| MigrateError::SourceRow {
                    table: "pgoutput",
                    reason,
                })?;
                pending.extend(change_of(&mut relations, message)?);
                continue;
            }
            ReplicationEvent::Message { .. } | ReplicationEvent::StoppedAt { .. } => continue,
        };
        if out.send((changes, Position::Lsn(position))).await.is_err() {
            return Ok(());
        }
        sent = position;
    }
}

/// The change a pgoutput message carries (relations are remembered for the rows after them).
fn change_of(
    relations: &mut BTreeMap<u32, (SourceTable, Vec<String>)>,
    message: Message,
) -> Result<Option<Change>, MigrateError> {
    Ok(match message {
        Message::Relation {
            id, name, columns, ..
        } => {
            if let Some(table) = SourceTable::from_name(&name) {
                relations.insert(id, (table, columns));
            }
            None
        }
        Message::Insert { relation, new } => upsert(relations, relation, &new, None)?,
        Message::Update { relation, old, new } => {
            upsert(relations, relation, &new, old.as_deref())?
        }
        Message::Delete { relation, old } => match relations.get(&relation) {
            Some((table, columns)) => {
                let f = fields(columns, &old, None);
                let id = f.get("id").cloned().flatten().and_then(|v| v.parse().ok());
                id.map(|id| Change::Delete { table: *table, id })
            }
            None => None,
        },
        Message::Begin { .. } | Message::Commit { .. } | Message::Other(_) => None,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_settings_come_from_the_url_and_tls_is_refused() {
        let config = replication_config(
            "postgres://mig%40ops:p%2Fss@db.internal:6543/ds13",
            "s",
            "p",
        )
        .unwrap();
        assert_eq!(
            (
                config.host.as_str(),
                config.port,
                config.user.as_str(),
                config.password.as_str(),
                config.database.as_str()
            ),
            ("db.internal", 6543, "mig@ops", "p/ss", "ds13")
        );
        let socket =
            replication_config("postgres:///ds13?host=/var/run/postgresql", "s", "p").unwrap();
        assert_eq!(socket.host, "/var/run/postgresql");
        assert!(matches!(
            replication_config("postgres://u@h/db?sslmode=require", "s", "p"),
            Err(MigrateError::Unsupported { .. })
        ));
        assert!(matches!(
            replication_config("postgres://u@h:5432", "s", "p"),
            Err(MigrateError::BadUrl { .. })
        ));
    }
}
