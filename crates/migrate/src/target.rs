//! The sink: a DolphinScheduler 3.2 database. A batch's rows, the id-map entries it
//! changed, its dead letters and the stream position are committed in one transaction.
//!
//! # Guarantees
//! - After a crash at any await, the target holds either all or none of a batch, and the
//!   stored position is the position after the last batch it holds.
//!
//! # Assumptions
//! - The 3.2 schema exists; nothing else writes the migrated rows while the migration runs.

use std::collections::BTreeMap;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::code::CodeGenerator;
use crate::engine::Engine;
use crate::error::{MigrateError, db};
use crate::event::SourceTable;
use crate::idmap::{IdMap, MapEntry};
use crate::nodelay;
use crate::sink::{self, Prepared, SinkTx};
use crate::write::{Batch, Columns, DeadLetter, Write};

/// The row name of this migration in `changeover_migration_state`.
const STATE_NAME: &str = "default";

/// What the target remembers between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    /// The source position after the last committed batch.
    pub position: String,
    pub last_code: i64,
    /// Project names of the scope, `None` for all.
    pub projects: Option<Vec<String>>,
    /// Projects added mid-stream: `(source project ids, snapshot position)`; stream changes
    /// of those projects up to that position are already in their snapshot.
    pub fence: Option<Fence>,
}

/// See `SavedState::fence`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fence {
    pub project_ids: Vec<i64>,
    pub position: String,
}

/// Where a commit leaves the migration.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint<'a> {
    pub position: &'a str,
    pub projects: Option<&'a [String]>,
    pub fence: Option<&'a Fence>,
}

pub struct Target {
    pool: AnyPool,
    /// A native pool on a PostgreSQL target: batches are written through it (`COPY`).
    postgres: Option<PgPool>,
    engine: Engine,
}

fn kind(table: SourceTable) -> &'static str {
    match table {
        SourceTable::Tenant => "tenant",
        SourceTable::User => "user",
        SourceTable::DataSource => "datasource",
        SourceTable::Resource => "resource",
        SourceTable::Project => "project",
        SourceTable::Definition => "definition",
        SourceTable::Schedule => "schedule",
    }
}

fn table_of_kind(kind_name: &str) -> Option<SourceTable> {
    SourceTable::ALL.into_iter().find(|t| kind(*t) == kind_name)
}

impl Target {
    pub async fn connect(url: &str) -> Result<Target, MigrateError> {
        sqlx::any::install_default_drivers();
        let (engine, url) = Engine::of_url(url)?;
        let url = match engine {
            Engine::MySql => with_statement_cache(&url)?,
            Engine::Postgres => url,
        };
        // sqlx leaves Nagle's algorithm on; see `nodelay`.
        let server = nodelay::tcp_server(&url);
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect({
                let server = server.clone();
                move |_, _| {
                    let server = server.clone();
                    Box::pin(async move {
                        if let Some((host, port)) = server {
                            nodelay::set_on_connections_to(&host, port).await;
                        }
                        Ok(())
                    })
                }
            })
            .connect(&url)
            .await
            .map_err(db("connecting to the target"))?;
        let postgres = match engine {
            Engine::Postgres => Some(
                PgPoolOptions::new()
                    .max_connections(2)
                    .after_connect(move |_, _| {
                        let server = server.clone();
                        Box::pin(async move {
                            if let Some((host, port)) = server {
                                nodelay::set_on_connections_to(&host, port).await;
                            }
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
                    .map_err(db("connecting to the target"))?,
            ),
            Engine::MySql => None,
        };
        Ok(Target {
            pool,
            postgres,
            engine,
        })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Creates the migration's own tables if they do not exist.
    pub async fn install_state(&self) -> Result<(), MigrateError> {
        let big_text = match self.engine {
            Engine::Postgres => "TEXT",
            Engine::MySql => "LONGTEXT",
        };
        for ddl in [
            "CREATE TABLE IF NOT EXISTS changeover_migration_state (name VARCHAR(64) PRIMARY KEY, source_position TEXT NOT NULL, last_code BIGINT NOT NULL, projects TEXT, fence TEXT)".to_owned(),
            "CREATE TABLE IF NOT EXISTS changeover_scope_request (project VARCHAR(255) PRIMARY KEY)".to_owned(),
            format!("CREATE TABLE IF NOT EXISTS changeover_id_map (kind VARCHAR(16) NOT NULL, source_id BIGINT NOT NULL, entry {big_text} NOT NULL, PRIMARY KEY (kind, source_id))"),
            "CREATE TABLE IF NOT EXISTS changeover_dead_letter (source_table VARCHAR(64) NOT NULL, source_id BIGINT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (source_table, source_id))".to_owned(),
        ] {
            self.create_if_missing(&ddl, "creating the migration state tables").await?;
        }
        self.install_runtime().await
    }

    /// 3.2 indexes `t_ds_task_definition` by `(project_code, id)` only, and a new version of
    /// a definition deletes its changed tasks by `code`: without an index each such delete
    /// reads the whole table (measured: ~95 ms per batch of 20 edits at 125,000 tasks).
    /// The index is the migration's own (`migrate cleanup` drops it). It is built once the
    /// snapshot is committed, before the stream starts: one sorted build (about a second at
    /// 1.25M tasks) costs less than keeping it up to date during the snapshot's `COPY`,
    /// which the server's side of the snapshot is the critical path of.
    pub async fn install_code_index(&self) -> Result<(), MigrateError> {
        let what = "creating an index on t_ds_task_definition (code) for the migration's updates";
        if self.engine == Engine::Postgres {
            let ddl =
                format!("CREATE INDEX IF NOT EXISTS {CODE_INDEX} ON t_ds_task_definition (code)");
            return self.create_if_missing(&ddl, what).await;
        }
        // MySQL has no `CREATE INDEX IF NOT EXISTS` (MariaDB has): look first.
        if !self.has_code_index().await? {
            let ddl = format!("CREATE INDEX {CODE_INDEX} ON t_ds_task_definition (code)");
            if let Err(e) = sqlx::query(AssertSqlSafe(ddl)).execute(&self.pool).await {
                // Another migrator may have created it meanwhile.
                if !self.has_code_index().await? {
                    return Err(db(what)(e));
                }
            }
        }
        Ok(())
    }

    async fn has_code_index(&self) -> Result<bool, MigrateError> {
        let found = sqlx::query(AssertSqlSafe(format!(
            "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 't_ds_task_definition' AND index_name = '{CODE_INDEX}'"
        )))
        .fetch_optional(&self.pool)
        .await
        .map_err(db("looking up the migration's index"))?;
        Ok(found.is_some())
    }

    /// Runs a `CREATE TABLE IF NOT EXISTS`. Two sessions creating the same table at once
    /// can fail on PostgreSQL (a duplicate `pg_type` row) while the other succeeds; the
    /// statement is then run once more, when the table exists.
    pub(crate) async fn create_if_missing(
        &self,
        ddl: &str,
        what: &str,
    ) -> Result<(), MigrateError> {
        let run = || sqlx::query(AssertSqlSafe(ddl)).execute(&self.pool);
        if run().await.is_err() {
            run().await.map_err(db(what))?;
        }
        Ok(())
    }

    pub async fn load_state(&self) -> Result<Option<SavedState>, MigrateError> {
        let sql = format!(
            "SELECT source_position, {}, projects, fence FROM changeover_migration_state WHERE name = {}",
            self.engine.int("last_code"),
            self.engine.placeholder(1)
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(STATE_NAME)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading the migration state"))?;
        let Some(row) = row else { return Ok(None) };
        let projects: Option<String> = row.try_get(2).map_err(db("reading the migration state"))?;
        let projects = projects
            .map(|p| {
                serde_json::from_str(&p).map_err(|e| MigrateError::State {
                    reason: format!("projects column: {e}"),
                })
            })
            .transpose()?;
        Ok(Some(SavedState {
            position: row.try_get(0).map_err(db("reading the migration state"))?,
            last_code: row.try_get(1).map_err(db("reading the migration state"))?,
            projects,
            fence: {
                let fence: Option<String> =
                    row.try_get(3).map_err(db("reading the migration state"))?;
                fence
                    .map(|f| {
                        serde_json::from_str(&f).map_err(|e| MigrateError::State {
                            reason: format!("fence column: {e}"),
                        })
                    })
                    .transpose()?
            },
        }))
    }

    /// The id map as last committed.
    pub async fn load_map(&self, machine: u8, last_code: i64) -> Result<IdMap, MigrateError> {
        let mut map = IdMap::new(CodeGenerator::new(machine, last_code));
        let sql = format!(
            "SELECT kind, {}, entry FROM changeover_id_map",
            self.engine.int("source_id")
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading the id map"))?;
        for row in rows {
            let kind_name: String = row.try_get(0).map_err(db("reading the id map"))?;
            let id: i64 = row.try_get(1).map_err(db("reading the id map"))?;
            let text: String = row.try_get(2).map_err(db("reading the id map"))?;
            table_of_kind(&kind_name).ok_or_else(|| MigrateError::State {
                reason: format!("unknown id map kind {kind_name}"),
            })?;
            let entry: MapEntry = serde_json::from_str(&text).map_err(|e| MigrateError::State {
                reason: format!("id map entry {kind_name} {id}: {e}"),
            })?;
            map.restore(id, entry);
        }
        Ok(map)
    }

    /// Applies `batch`, the id map's pending changes and the new position in one transaction.
    pub async fn commit(
        &self,
        batch: &Batch,
        map: &mut IdMap,
        checkpoint: Checkpoint<'_>,
    ) -> Result<(), MigrateError> {
        let mut tx = self.begin().await?;
        self.write_batch(&mut tx, batch).await?;
        self.finish(tx, map, checkpoint).await
    }

    /// A target transaction for `write_batch` and `finish`.
    pub async fn begin(&self) -> Result<SinkTx, MigrateError> {
        let what = || db("starting a target transaction");
        Ok(match &self.postgres {
            Some(pool) => SinkTx::Postgres(pool.begin().await.map_err(what())?),
            None => SinkTx::Any(self.pool.begin().await.map_err(what())?),
        })
    }

    /// Writes a batch's rows and dead letters in `tx` (the stream's path; a snapshot
    /// prepares its batches with `prepare_batch` and sends them with `send`).
    pub async fn write_batch(&self, tx: &mut SinkTx, batch: &Batch) -> Result<(), MigrateError> {
        let writes: Vec<&Write> = batch.writes.iter().collect();
        sink::execute(self.engine, tx, &writes).await?;
        let dead = dead_letter_writes(batch);
        let dead: Vec<&Write> = dead.iter().collect();
        sink::execute(self.engine, tx, &dead).await
    }

    /// Sends writes prepared by `prepare_batch` or `prepare_checkpoint` in `tx`.
    pub async fn send(&self, tx: &mut SinkTx, prepared: &Prepared) -> Result<(), MigrateError> {
        sink::send(self.engine, tx, prepared).await
    }

    /// Writes the id map's pending changes and the checkpoint in `tx` and commits it.
    pub async fn finish(
        &self,
        tx: SinkTx,
        map: &mut IdMap,
        checkpoint: Checkpoint<'_>,
    ) -> Result<(), MigrateError> {
        let writes = checkpoint_writes(map, checkpoint);
        let prepared = Prepared::unprepared(writes);
        self.finish_prepared(tx, &prepared).await
    }

    /// `finish` with the checkpoint's writes prepared by `prepare_checkpoint`.
    pub async fn finish_prepared(
        &self,
        mut tx: SinkTx,
        checkpoint: &Prepared,
    ) -> Result<(), MigrateError> {
        sink::send(self.engine, &mut tx, checkpoint).await?;
        fail_point("commit-before");
        tx.commit().await.map_err(db("committing a batch"))?;
        Ok(())
    }

    /// The dead letters, oldest source id first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, MigrateError> {
        let sql = format!(
            "SELECT source_table, {}, reason FROM changeover_dead_letter ORDER BY source_table, source_id",
            self.engine.int("source_id")
        );
        let rows: Vec<AnyRow> = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading dead letters"))?;
        rows.iter()
            .map(|row| {
                let table: String = row.try_get(0).map_err(db("reading dead letters"))?;
                Ok(DeadLetter {
                    table: SourceTable::from_name(&table).ok_or_else(|| MigrateError::State {
                        reason: format!("dead letter of unknown table {table}"),
                    })?,
                    id: row.try_get(1).map_err(db("reading dead letters"))?,
                    reason: row.try_get(2).map_err(db("reading dead letters"))?,
                })
            })
            .collect()
    }

    /// Asks a running migration to add projects to its scope (snapshot, then stream).
    pub async fn request_projects(&self, names: &[String]) -> Result<(), MigrateError> {
        let mut tx = self.begin().await?;
        let mut writes = Vec::new();
        for name in names {
            let key: Columns = vec![("project", name.as_str().into())];
            writes.push(Write::Delete {
                table: "changeover_scope_request",
                key: key.clone(),
            });
            writes.push(Write::Insert {
                table: "changeover_scope_request",
                row: key,
            });
        }
        let refs: Vec<&Write> = writes.iter().collect();
        sink::execute(self.engine, &mut tx, &refs).await?;
        tx.commit().await.map_err(db("requesting projects"))
    }

    /// Projects requested and not yet added.
    pub async fn requested_projects(&self) -> Result<Vec<String>, MigrateError> {
        let rows = sqlx::query("SELECT project FROM changeover_scope_request ORDER BY project")
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading project requests"))?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(db("reading project requests")))
            .collect()
    }

    /// Drops the migration's own tables (the migrated rows stay).
    pub async fn drop_state(&self) -> Result<(), MigrateError> {
        for table in [
            "changeover_migration_state",
            "changeover_id_map",
            "changeover_dead_letter",
            "changeover_scope_request",
            "changeover_migration_runtime",
        ] {
            sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
                .execute(&self.pool)
                .await
                .map_err(db("dropping the migration state tables"))?;
        }
        let drop_index = match self.engine {
            Engine::Postgres => Some(format!("DROP INDEX IF EXISTS {CODE_INDEX}")),
            Engine::MySql => self
                .has_code_index()
                .await?
                .then(|| format!("DROP INDEX {CODE_INDEX} ON t_ds_task_definition")),
        };
        if let Some(sql) = drop_index {
            sqlx::query(AssertSqlSafe(sql))
                .execute(&self.pool)
                .await
                .map_err(db("dropping the migration's index"))?;
        }
        Ok(())
    }
}

/// The migration's own index on `t_ds_task_definition (code)` (see `install_code_index`).
pub const CODE_INDEX: &str = "changeover_task_definition_code";

/// A batch's rows and then its dead letters, prepared for `Target::send` (CPU only: the
/// snapshot runs it on its transform thread).
pub fn prepare_batch(engine: Engine, batch: Batch) -> Prepared {
    let dead = dead_letter_writes(&batch);
    let mut prepared = sink::prepare(engine, batch.writes);
    prepared.append(sink::prepare(engine, dead));
    prepared
}

/// The id map's pending changes and the checkpoint, prepared for `Target::finish_prepared`.
pub fn prepare_checkpoint(engine: Engine, map: &mut IdMap, checkpoint: Checkpoint<'_>) -> Prepared {
    sink::prepare(engine, checkpoint_writes(map, checkpoint))
}

/// The writes that replace the dead letters of a batch's rows: resolved rows lose theirs,
/// failed rows get their newest reason.
fn dead_letter_writes(batch: &Batch) -> Vec<Write> {
    let letter_key = |table: SourceTable, id: i64| -> Columns {
        vec![
            ("source_table", table.name().into()),
            ("source_id", id.into()),
        ]
    };
    let mut dead: Vec<Write> = batch
        .resolved
        .iter()
        .map(|(table, id)| Write::Delete {
            table: "changeover_dead_letter",
            key: letter_key(*table, *id),
        })
        .collect();
    // The last letter of a row wins (a row may fail twice in one source transaction).
    let mut letters: BTreeMap<(SourceTable, i64), &DeadLetter> = BTreeMap::new();
    for letter in &batch.dead_letters {
        letters.insert((letter.table, letter.id), letter);
    }
    for (table, id) in letters.keys() {
        dead.push(Write::Delete {
            table: "changeover_dead_letter",
            key: letter_key(*table, *id),
        });
    }
    for ((table, id), letter) in &letters {
        let mut row = letter_key(*table, *id);
        row.push(("reason", letter.reason.as_str().into()));
        dead.push(Write::Insert {
            table: "changeover_dead_letter",
            row,
        });
    }
    dead
}

/// The writes of the id map's pending changes and of the checkpoint.
fn checkpoint_writes(map: &mut IdMap, checkpoint: Checkpoint<'_>) -> Vec<Write> {
    let Checkpoint {
        position,
        projects,
        fence,
    } = checkpoint;
    let mut writes: Vec<Write> = Vec::new();
    let mut inserts: Vec<Write> = Vec::new();
    for (table, id, entry) in map.take_changes() {
        let key: Columns = vec![("kind", kind(table).into()), ("source_id", id.into())];
        writes.push(Write::Delete {
            table: "changeover_id_map",
            key: key.clone(),
        });
        if let Some(entry) = entry {
            let mut row = key;
            row.push((
                "entry",
                serde_json::to_string(&entry).unwrap_or_default().into(),
            ));
            inserts.push(Write::Insert {
                table: "changeover_id_map",
                row,
            });
        }
    }
    writes.append(&mut inserts);
    let state_key: Columns = vec![("name", STATE_NAME.into())];
    writes.push(Write::Delete {
        table: "changeover_migration_state",
        key: state_key.clone(),
    });
    let mut state = state_key;
    state.push(("source_position", position.into()));
    state.push(("last_code", map.codes.last().into()));
    state.push((
        "projects",
        projects
            .map(|p| serde_json::to_string(p).unwrap_or_default())
            .into(),
    ));
    state.push((
        "fence",
        fence
            .map(|f| serde_json::to_string(f).unwrap_or_default())
            .into(),
    ));
    for name in projects.unwrap_or_default() {
        writes.push(Write::Delete {
            table: "changeover_scope_request",
            key: vec![("project", name.as_str().into())],
        });
    }
    writes.push(Write::Insert {
        table: "changeover_migration_state",
        row: state,
    });
    writes
}

/// A named crash point for tests (`CHANGEOVER_MIGRATE_CRASH=<name>` aborts the process there).
pub fn fail_point(name: &str) {
    if std::env::var("CHANGEOVER_MIGRATE_CRASH").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// How many prepared statements each MySQL/MariaDB target connection keeps (sqlx keeps 100).
/// The stream's multi-row statements come in many shapes (one per group size and table);
/// past the cache's size every new shape evicts one with a close command the server does
/// not answer, and the next packet then waits for the server's delayed acknowledgement
/// (~40 ms each: measured p99 lag PostgreSQL → MariaDB of 1.1 s, against 98 ms with a
/// large cache). 4 connections × 1,024 stays well under MariaDB's server-wide
/// `max_prepared_stmt_count` (16,382 by default).
const MYSQL_STATEMENT_CACHE: usize = 1024;

/// `url` with sqlx's `statement-cache-capacity` set to [`MYSQL_STATEMENT_CACHE`] unless the
/// URL already sets it.
fn with_statement_cache(url: &str) -> Result<String, MigrateError> {
    let mut parsed = url::Url::parse(url).map_err(|_| MigrateError::BadUrl {
        reason: "the target URL does not parse",
    })?;
    if parsed
        .query_pairs()
        .any(|(k, _)| k == "statement-cache-capacity")
    {
        return Ok(url.to_owned());
    }
    parsed.query_pairs_mut().append_pair(
        "statement-cache-capacity",
        &MYSQL_STATEMENT_CACHE.to_string(),
    );
    Ok(parsed.into())
}

#[cfg(test)]
mod statement_cache_tests {
    use super::*;

    #[test]
    fn a_mysql_target_gets_a_large_statement_cache_unless_its_url_sets_one() {
        let got = with_statement_cache("mysql://root:p%40ss@db:3306/ds32").unwrap();
        assert_eq!(
            got,
            "mysql://root:p%40ss@db:3306/ds32?statement-cache-capacity=1024"
        );
        let got = with_statement_cache("mysql://root@db/ds32?ssl-mode=DISABLED").unwrap();
        assert!(
            got.ends_with("?ssl-mode=DISABLED&statement-cache-capacity=1024"),
            "{got}"
        );
        let own = "mysql://root@db/ds32?statement-cache-capacity=50";
        assert_eq!(with_statement_cache(own).unwrap(), own);
    }
}
