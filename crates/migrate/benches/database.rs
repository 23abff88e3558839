//! The database benchmark of the live migration: generates 1.3 workflow definitions (5–20
//! tasks each) in a real source database, migrates them to a real 3.2 target and prints
//! - the snapshot time and the target rows/s it wrote;
//! - under a steady rate of changes on the source (200/s by default), the p50/p99
//!   end-to-end lag of each change, from its source commit to its first sight in the
//!   target (the change writes its sequence number into the definition's description; a
//!   poller reads the changed definitions back from the target every few milliseconds);
//! - the time of a plain bulk load of the same target rows into a fresh 3.2 database
//!   (PostgreSQL `COPY … FROM STDIN`; MariaDB multi-row `INSERT`s of literal rows), the
//!   physical reference.
//!
//! A PostgreSQL target gets an untimed `CHECKPOINT` before the snapshot and before the bulk
//! load, so that each starts with clean buffers.
//!
//! ```text
//! cargo bench -p changeover-migrate --bench database -- --definitions 100000 --pair mariadb-postgres
//! ```
//! Options: `--definitions N` (10000), `--pair SOURCE-TARGET` of `mariadb`/`postgres`, or
//! `all` (mariadb-postgres), `--rate CHANGES_PER_SECOND` (200), `--seconds S` (20).
//! Servers: `CHANGEOVER_BENCH_MARIADB` (mysql://root@127.0.0.1:3306, needs log_bin and
//! binlog_format=ROW) and `CHANGEOVER_BENCH_POSTGRES` (postgres://postgres@127.0.0.1:5432,
//! needs wal_level=logical). Every database it creates is dropped at the end.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use changeover_migrate::migration::{MigrationConfig, run};
use changeover_migrate::rows::TARGET_TABLES;
use changeover_migrate::runtime::Phase;
use changeover_migrate::source_postgres::{cleanup, replication_names};
use changeover_migrate::target::Target;
use futures::TryStreamExt;
use sqlx::{AnyConnection, AssertSqlSafe, Connection, PgConnection, Row};
use tokio::sync::Mutex;

/// The allocator `changeover` runs the migration with (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/workflows.rs"]
mod workflows;
use workflows::workflow;

const SOURCE_MYSQL: &str = include_str!("../fixtures/ds-1.3.9-mysql.sql");
const SOURCE_POSTGRES: &str = include_str!("../fixtures/ds-1.3.9-postgresql.sql");
const TARGET_MYSQL: &str = include_str!("../fixtures/ds-3.2.2-mysql.sql");
const TARGET_POSTGRES: &str = include_str!("../fixtures/ds-3.2.2-postgresql.sql");

/// Definitions changed by the load (each gets a change every `WINDOW / rate` seconds).
const WINDOW: i64 = 200;
/// Writer connections on the source; definition `i` is always changed by writer `i % 8`,
/// so the changes of one definition commit in sequence order.
const WRITERS: i64 = 8;
/// Projects the definitions are spread over.
const PROJECTS: i64 = 10;
/// How often the poller reads the changed definitions back from the target.
const POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    MariaDb,
    Postgres,
}

impl Server {
    fn parse(name: &str) -> Result<Server> {
        match name {
            "mariadb" | "mysql" => Ok(Server::MariaDb),
            "postgres" | "postgresql" => Ok(Server::Postgres),
            other => bail!("--pair: unknown server {other:?} (expected mariadb or postgres)"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Server::MariaDb => "mariadb",
            Server::Postgres => "postgres",
        }
    }

    fn base_url(self) -> String {
        let (variable, default) = match self {
            Server::MariaDb => ("CHANGEOVER_BENCH_MARIADB", "mysql://root@127.0.0.1:3306"),
            Server::Postgres => (
                "CHANGEOVER_BENCH_POSTGRES",
                "postgres://postgres@127.0.0.1:5432",
            ),
        };
        std::env::var(variable)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map_or_else(
                || default.to_owned(),
                |v| v.trim_end_matches('/').to_owned(),
            )
    }

    /// A string literal of this dialect.
    fn quote(self, text: &str) -> String {
        match self {
            Server::MariaDb => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''")),
            Server::Postgres => format!("'{}'", text.replace('\'', "''")),
        }
    }
}

struct Options {
    definitions: i64,
    pairs: Vec<(Server, Server)>,
    rate: u32,
    seconds: u32,
}

fn options() -> Result<Options> {
    let mut options = Options {
        definitions: 10_000,
        pairs: vec![(Server::MariaDb, Server::Postgres)],
        rate: 200,
        seconds: 20,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--definitions" => {
                let v = value("--definitions")?;
                options.definitions = v
                    .parse()
                    .ok()
                    .filter(|n| *n >= WINDOW)
                    .with_context(|| format!("--definitions {v:?}: a number >= {WINDOW}"))?;
            }
            "--pair" => {
                let v = value("--pair")?;
                options.pairs = if v == "all" {
                    vec![
                        (Server::MariaDb, Server::Postgres),
                        (Server::MariaDb, Server::MariaDb),
                        (Server::Postgres, Server::Postgres),
                        (Server::Postgres, Server::MariaDb),
                    ]
                } else {
                    let (s, t) = v
                        .split_once('-')
                        .with_context(|| format!("--pair {v:?}: SOURCE-TARGET or all"))?;
                    vec![(Server::parse(s)?, Server::parse(t)?)]
                };
            }
            "--rate" => {
                let v = value("--rate")?;
                options.rate = v
                    .parse()
                    .ok()
                    .filter(|r| (1..=5_000).contains(r))
                    .with_context(|| format!("--rate {v:?}: changes per second, 1-5000"))?;
            }
            "--seconds" => {
                let v = value("--seconds")?;
                options.seconds = v
                    .parse()
                    .ok()
                    .filter(|s| (1..=3_600).contains(s))
                    .with_context(|| format!("--seconds {v:?}: 1-3600"))?;
            }
            // cargo bench passes --bench; a bare number is the definition count.
            "--bench" => {}
            other => match other.parse::<i64>() {
                Ok(n) if n >= WINDOW => options.definitions = n,
                _ => bail!("unknown argument {other:?}"),
            },
        }
    }
    Ok(options)
}

/// A database created for the run; `drop_now` removes it.
struct Db {
    server: Server,
    name: String,
    url: String,
}

impl Db {
    async fn create(server: Server, prefix: &str, schema: &str) -> Result<Db> {
        let name = format!("{prefix}_{:012x}", rand::random::<u64>() >> 16);
        let mut admin = AnyConnection::connect(&format!("{}/test", server.base_url())).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let url = format!("{}/{name}", server.base_url());
        let mut conn = AnyConnection::connect(&url).await?;
        sqlx::raw_sql(AssertSqlSafe(schema.to_owned()))
            .execute(&mut conn)
            .await
            .with_context(|| format!("loading the schema into {name}"))?;
        conn.close().await?;
        Ok(Db { server, name, url })
    }

    /// Before a timed phase (untimed): on PostgreSQL a `CHECKPOINT`, so that neither the
    /// snapshot nor the bulk load pays for the other's dirty buffers (the 5M rows of one
    /// leave gigabytes of WAL behind, and the checkpoint they trigger would otherwise land
    /// in whichever phase comes next). MariaDB has no such command; nothing is done there.
    async fn settle(&self) -> Result<()> {
        if self.server == Server::Postgres {
            let mut conn = AnyConnection::connect(&self.url).await?;
            sqlx::raw_sql("CHECKPOINT").execute(&mut conn).await?;
            conn.close().await?;
        }
        Ok(())
    }

    async fn drop_now(&self) -> Result<()> {
        let mut admin = AnyConnection::connect(&format!("{}/test", self.server.base_url())).await?;
        let sql = match self.server {
            Server::MariaDb => format!("DROP DATABASE IF EXISTS {}", self.name),
            Server::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        };
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut admin)
            .await?;
        Ok(())
    }
}

const T: &str = "'2024-03-01 10:20:30'";

/// Fills the source: a tenant, `PROJECTS` projects, `count` definitions, a schedule for
/// every tenth definition. Returns the task count.
async fn generate(source: &Db, count: i64) -> Result<i64> {
    let mut conn = AnyConnection::connect(&source.url).await?;
    let q = |t: &str| source.server.quote(t);
    sqlx::raw_sql(AssertSqlSafe(format!("INSERT INTO t_ds_tenant (id, tenant_code, tenant_name, queue_id, create_time, update_time) VALUES (1, 'etl', 'etl', 1, {T}, {T})")))
        .execute(&mut conn)
        .await?;
    let projects: Vec<String> = (1..=PROJECTS)
        .map(|p| format!("({p}, 'project{p}', 'p', 1, 1, {T}, {T})"))
        .collect();
    sqlx::raw_sql(AssertSqlSafe(format!("INSERT INTO t_ds_project (id, name, description, user_id, flag, create_time, update_time) VALUES {}", projects.join(", "))))
        .execute(&mut conn)
        .await?;
    let mut tasks = 0;
    let ids: Vec<i64> = (1..=count).collect();
    for chunk in ids.chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|id| {
                let (json, locations) = workflow(*id);
                tasks += 5 + id % 16;
                format!(
                    "({id}, {}, 1, 1, {}, 1, {}, 'd', '[]', 1, {}, '[]', {T}, 0, 1, {T})",
                    q(&format!("wf{id}")),
                    1 + id % PROJECTS,
                    q(&json),
                    q(&locations)
                )
            })
            .collect();
        sqlx::raw_sql(AssertSqlSafe(format!("INSERT INTO t_ds_process_definition (id, name, version, release_state, project_id, user_id, process_definition_json, description, global_params, flag, locations, connects, create_time, timeout, tenant_id, update_time) VALUES {}", rows.join(", "))))
            .execute(&mut conn)
            .await?;
    }
    let schedules: Vec<String> = (1..=count)
        .filter(|id| id % 10 == 0)
        .map(|id| format!("({id}, {id}, {T}, '2030-01-01 00:00:00', '0 0 1 * * ? *', 1, 1, 0, 0, 0, 2, 'default', {T}, {T})"))
        .collect();
    for chunk in schedules.chunks(1_000) {
        sqlx::raw_sql(AssertSqlSafe(format!("INSERT INTO t_ds_schedules (id, process_definition_id, start_time, end_time, crontab, failure_strategy, user_id, release_state, warning_type, warning_group_id, process_instance_priority, worker_group, create_time, update_time) VALUES {}", chunk.join(", "))))
            .execute(&mut conn)
            .await?;
    }
    conn.close().await?;
    Ok(tasks)
}

/// Rows of the 3.2 tables the migration writes.
async fn target_rows(target: &Db) -> Result<BTreeMap<&'static str, i64>> {
    let mut conn = AnyConnection::connect(&target.url).await?;
    let mut counts = BTreeMap::new();
    for table in TARGET_TABLES {
        let sql = format!("SELECT CAST(COUNT(*) AS SIGNED) FROM {table}");
        let sql = if target.server == Server::Postgres {
            sql.replace("SIGNED", "BIGINT")
        } else {
            sql
        };
        let row = sqlx::query(AssertSqlSafe(sql)).fetch_one(&mut conn).await?;
        counts.insert(table, row.try_get::<i64, _>(0)?);
    }
    conn.close().await?;
    Ok(counts)
}

/// The migrated rows of each table, as the bulk load will send them.
enum Dump {
    /// `COPY … TO STDOUT` text per table.
    Copy(Vec<(&'static str, Vec<u8>)>),
    /// Literal row tuples `(…)` per table, with the column list.
    Tuples(Vec<(&'static str, String, Vec<String>)>),
}

async fn dump(target: &Db) -> Result<Dump> {
    match target.server {
        Server::Postgres => {
            let mut conn = PgConnection::connect(&target.url).await?;
            let mut tables = Vec::new();
            for table in TARGET_TABLES {
                let mut out = Vec::new();
                let mut stream = conn
                    .copy_out_raw(&format!("COPY {table} TO STDOUT"))
                    .await?;
                while let Some(bytes) = stream.try_next().await? {
                    out.extend_from_slice(&bytes);
                }
                drop(stream);
                tables.push((table, out));
            }
            conn.close().await?;
            Ok(Dump::Copy(tables))
        }
        Server::MariaDb => {
            let mut conn = AnyConnection::connect(&target.url).await?;
            let mut tables = Vec::new();
            for table in TARGET_TABLES {
                let columns: Vec<String> = sqlx::query("SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position")
                    .bind(target.name.as_str())
                    .bind(table)
                    .fetch_all(&mut conn)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>(0))
                    .collect::<Result<_, _>>()?;
                let quoted: Vec<String> = columns.iter().map(|c| format!("QUOTE({c})")).collect();
                let sql = format!(
                    "SELECT CONCAT('(', CONCAT_WS(',', {}), ')') FROM {table}",
                    quoted.join(", ")
                );
                let tuples: Vec<String> = sqlx::query(AssertSqlSafe(sql))
                    .fetch_all(&mut conn)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>(0))
                    .collect::<Result<_, _>>()?;
                tables.push((table, columns.join(", "), tuples));
            }
            conn.close().await?;
            Ok(Dump::Tuples(tables))
        }
    }
}

/// Loads `dump` into `into` (a fresh 3.2 database of the same engine); the time it took.
async fn bulk_load(dump: &Dump, into: &Db) -> Result<Duration> {
    match dump {
        Dump::Copy(tables) => {
            let mut conn = PgConnection::connect(&into.url).await?;
            let started = Instant::now();
            for (table, data) in tables {
                let mut copy = conn
                    .copy_in_raw(&format!("COPY {table} FROM STDIN"))
                    .await?;
                for piece in data.chunks(1 << 20) {
                    copy.send(piece).await?;
                }
                copy.finish().await?;
            }
            let elapsed = started.elapsed();
            conn.close().await?;
            Ok(elapsed)
        }
        Dump::Tuples(tables) => {
            let mut conn = AnyConnection::connect(&into.url).await?;
            let started = Instant::now();
            for (table, columns, tuples) in tables {
                let mut statement = String::new();
                for tuple in tuples {
                    if statement.len() + tuple.len() > 4 << 20 {
                        sqlx::raw_sql(AssertSqlSafe(std::mem::take(&mut statement)))
                            .execute(&mut conn)
                            .await?;
                    }
                    if statement.is_empty() {
                        statement = format!("INSERT INTO {table} ({columns}) VALUES ");
                    } else {
                        statement.push(',');
                    }
                    statement.push_str(tuple);
                }
                if !statement.is_empty() {
                    sqlx::raw_sql(AssertSqlSafe(statement))
                        .execute(&mut conn)
                        .await?;
                }
            }
            let elapsed = started.elapsed();
            conn.close().await?;
            Ok(elapsed)
        }
    }
}

/// Commit and first-sight instants of each change, by sequence number.
#[derive(Default)]
struct Lags {
    committed: HashMap<i64, Instant>,
    seen: HashMap<i64, Instant>,
}

/// Runs the load: `rate` changes per second for `seconds`, definition `1 + k % WINDOW` gets
/// change `k`; waits until every change is seen in the target (at most 60 s more).
async fn load(
    source: &Db,
    target: &Db,
    rate: u32,
    seconds: u32,
) -> Result<(Vec<Duration>, usize, f64)> {
    let total = i64::from(rate) * i64::from(seconds);
    let lags = Arc::new(Mutex::new(Lags::default()));
    // The changed definitions are read back by name (3.2's unique (name, project_code)
    // index; `code` has no index of its own on MySQL).
    let mut target_conn = AnyConnection::connect(&target.url).await?;
    let names: Vec<String> = (1..=WINDOW).map(|id| format!("'wf{id}'")).collect();
    let poll_sql = format!(
        "SELECT description FROM t_ds_process_definition WHERE name IN ({})",
        names.join(", ")
    );
    let present = sqlx::query(AssertSqlSafe(poll_sql.as_str()))
        .fetch_all(&mut target_conn)
        .await?
        .len();
    ensure!(
        present == usize::try_from(WINDOW)?,
        "only {present} of the {WINDOW} changed definitions are in the target"
    );
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let url = source.url.clone();
        let lags = lags.clone();
        writers.push(tokio::spawn(async move {
            let mut conn = AnyConnection::connect(&url).await?;
            let mut k = w;
            while k < total {
                let due = started + interval * u32::try_from(k)?;
                tokio::time::sleep_until(due.into()).await;
                let id = 1 + k % WINDOW;
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "UPDATE t_ds_process_definition SET description = 'lag {k}' WHERE id = {id}"
                )))
                .execute(&mut conn)
                .await?;
                lags.lock().await.committed.insert(k, Instant::now());
                k += WRITERS;
            }
            conn.close().await?;
            anyhow::Ok(())
        }));
    }
    // The poller: a definition showing change k has every earlier change of it applied.
    let mut last: HashMap<i64, i64> = HashMap::new();
    let deadline = started + Duration::from_secs(u64::from(seconds) + 60);
    loop {
        let rows = sqlx::query(AssertSqlSafe(poll_sql.as_str()))
            .fetch_all(&mut target_conn)
            .await?;
        let now = Instant::now();
        let mut guard = lags.lock().await;
        for row in rows {
            let description: Option<String> = row.try_get(0)?;
            let Some(k) = description
                .as_deref()
                .and_then(|d| d.strip_prefix("lag "))
                .and_then(|k| k.parse::<i64>().ok())
            else {
                continue;
            };
            let definition = k % WINDOW;
            let from = last.get(&definition).map_or(definition, |s| s + WINDOW);
            let mut s = from;
            while s <= k {
                guard.seen.entry(s).or_insert(now);
                s += WINDOW;
            }
            last.insert(definition, k.max(from - WINDOW));
        }
        let done = guard.seen.len() >= usize::try_from(total)?;
        drop(guard);
        if done || now > deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let writing = started.elapsed();
    for writer in writers {
        writer.await??;
    }
    target_conn.close().await?;
    let guard = lags.lock().await;
    let mut samples: Vec<Duration> = guard
        .committed
        .iter()
        .filter_map(|(k, at)| {
            guard
                .seen
                .get(k)
                .map(|seen| seen.saturating_duration_since(*at))
        })
        .collect();
    samples.sort();
    let unseen = guard.committed.len() - samples.len();
    #[allow(clippy::cast_precision_loss)]
    let achieved = guard.committed.len() as f64 / writing.as_secs_f64().max(f64::from(seconds));
    Ok((samples, unseen, achieved))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn pairing(options: &Options, source_server: Server, target_server: Server) -> Result<()> {
    let source_schema = match source_server {
        Server::MariaDb => SOURCE_MYSQL,
        Server::Postgres => SOURCE_POSTGRES,
    };
    let target_schema = match target_server {
        Server::MariaDb => TARGET_MYSQL,
        Server::Postgres => TARGET_POSTGRES,
    };
    let source = Db::create(source_server, "bench_src", source_schema).await?;
    let target = Db::create(target_server, "bench_tgt", target_schema).await?;
    let reference = Db::create(target_server, "bench_ref", target_schema).await?;
    let result = measure(options, &source, &target, &reference).await;
    let cleaned = if source_server == Server::Postgres {
        let (slot, publication) = replication_names(&target.url);
        cleanup(&source.url, &slot, &publication)
            .await
            .map_err(anyhow::Error::from)
    } else {
        Ok(())
    };
    let dropped = (
        source.drop_now().await,
        target.drop_now().await,
        reference.drop_now().await,
    );
    result?;
    cleaned?;
    dropped.0?;
    dropped.1?;
    dropped.2
}

async fn measure(options: &Options, source: &Db, target: &Db, reference: &Db) -> Result<()> {
    let pair = format!("{}->{}", source.server.name(), target.server.name());
    let started = Instant::now();
    let tasks = generate(source, options.definitions).await?;
    println!(
        "[{pair}] source: {} definitions, {tasks} tasks, generated in {:.1} s",
        options.definitions,
        started.elapsed().as_secs_f64()
    );
    let config = MigrationConfig {
        source_url: source.url.clone(),
        target_url: target.url.clone(),
        projects: Vec::new(),
        machine: 1,
        server_id: rand::random::<u32>() | 0x4000_0000,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    target.settle().await?;
    let started = Instant::now();
    let migrator = tokio::spawn(async move {
        run(&config, async {
            let _ = stop_rx.await;
        })
        .await
    });
    let handle = Target::connect(&target.url).await?;
    loop {
        if migrator.is_finished() {
            migrator.await??;
            bail!("the migration ended during its snapshot");
        }
        if let Ok(Some(runtime)) = handle.runtime().await
            && runtime.progress.phase == Phase::Streaming
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let snapshot = started.elapsed();
    let counts = target_rows(target).await?;
    let rows: i64 = counts.values().sum();
    #[allow(clippy::cast_precision_loss)]
    let rate = rows as f64 / snapshot.as_secs_f64();
    println!(
        "[{pair}] snapshot: {:.1} s, {rows} target rows ({}), {rate:.0} rows/s",
        snapshot.as_secs_f64(),
        counts
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let dumped = dump(target).await?;
    let (lags, unseen, achieved) = load(source, target, options.rate, options.seconds).await?;
    println!(
        "[{pair}] lag under {} changes/s for {} s ({} changes, {achieved:.1}/s achieved, {unseen} not seen): p50 {}, p99 {}, max {}",
        options.rate,
        options.seconds,
        lags.len() + unseen,
        ms(percentile(&lags, 0.50)),
        ms(percentile(&lags, 0.99)),
        ms(lags.last().copied().unwrap_or_default()),
    );
    let _ = stop_tx.send(());
    migrator.await??;
    reference.settle().await?;
    let bulk = bulk_load(&dumped, reference).await?;
    let reference_rows: i64 = target_rows(reference).await?.values().sum();
    ensure!(
        reference_rows == rows,
        "the bulk load wrote {reference_rows} rows, the snapshot {rows}"
    );
    #[allow(clippy::cast_precision_loss)]
    let bulk_rate = rows as f64 / bulk.as_secs_f64();
    let how = match target.server {
        Server::Postgres => "COPY FROM STDIN",
        Server::MariaDb => "multi-row INSERT",
    };
    println!(
        "[{pair}] bulk load ({how}) of the same {rows} rows: {:.1} s, {bulk_rate:.0} rows/s; snapshot rate / bulk rate = {:.2}",
        bulk.as_secs_f64(),
        rate / bulk_rate
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    // The migrator's own logs (RUST_LOG, default warn) go to stderr; figures to stdout.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    sqlx::any::install_default_drivers();
    let options = options()?;
    for (source, target) in options.pairs.clone() {
        pairing(&options, source, target).await?;
    }
    Ok(())
}
