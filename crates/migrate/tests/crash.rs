//! Crash and restart: the migrator runs as a child process (`changeover-migrate-worker`)
//! and is SIGKILLed at random moments during the snapshot and the stream while a writer
//! keeps changing the source; after a final run the target must verify clean with exactly
//! one log row per version. Every source/target pairing.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use anyhow::{Result, ensure};
use changeover_migrate::source_postgres::{cleanup, replication_names};
use changeover_migrate::target::Target;
use changeover_migrate::verify::verify;
use rand::Rng;
use sqlx::Row;

use crate::mariadb_source::{churn, insert_definition, seed, wait_caught_up};
use crate::support::{
    SOURCE_MYSQL, SOURCE_POSTGRES, Server, TARGET_MYSQL, TARGET_POSTGRES, TestDb, diamond,
    spawn_worker, wait_exit,
};

/// Random SIGKILLs per pairing (besides the deterministic crash inside the snapshot commit).
const KILLS: usize = 12;
/// Rounds of concurrent source changes (each: 5 inserts, an edit, a delete, a rename).
const ROUNDS: i64 = 16;
/// Definitions loaded before the first start, so the snapshot takes a while.
const BULK: i64 = 150;

async fn pairing(source_server: Server, target_server: Server) -> Result<()> {
    let source_schema = match source_server {
        Server::MariaDb => SOURCE_MYSQL,
        Server::Postgres => SOURCE_POSTGRES,
    };
    let target_schema = match target_server {
        Server::MariaDb => TARGET_MYSQL,
        Server::Postgres => TARGET_POSTGRES,
    };
    let source = TestDb::create(source_server, "mig_src", source_schema).await?;
    let target_db = TestDb::create(target_server, "mig_tgt", target_schema).await?;
    let result = scenario(&source, &target_db).await;
    let cleaned = if source_server == Server::Postgres {
        let (slot, publication) = replication_names(&target_db.url);
        cleanup(&source.url, &slot, &publication).await
    } else {
        Ok(())
    };
    let dropped = (source.drop_now().await, target_db.drop_now().await);
    result?;
    cleaned?;
    dropped.0?;
    dropped.1
}

async fn scenario(source: &TestDb, target_db: &TestDb) -> Result<()> {
    seed(source).await?;
    let bulk: Vec<String> = (0..BULK)
        .map(|i| {
            insert_definition(
                10_000 + i,
                1 + i % 2,
                &format!("bulk{i}"),
                &diamond(&format!("b{i}")),
            )
        })
        .collect();
    source.exec(&bulk.join(";\n")).await?;
    let target = Target::connect(&target_db.url).await?;

    // A deterministic crash inside the snapshot: after reading, before its commit.
    let child = spawn_worker(source, target_db, 3, Some("snapshot-commit"))?;
    let (status, stderr) = wait_exit(child, Duration::from_secs(120)).await?;
    ensure!(
        status.signal().is_some(),
        "the worker should have aborted at the crash point: {status:?} {stderr}"
    );
    ensure!(
        target.load_state().await?.is_none(),
        "a crashed snapshot left a state"
    );

    // A writer changes the source all along while the worker is killed and restarted.
    let writer = {
        let source = source.handle();
        tokio::spawn(async move {
            for round in 0..ROUNDS {
                churn(&source, round).await?;
                let pause = rand::rng().random_range(0..200);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            anyhow::Ok(())
        })
    };
    let mut before_snapshot = 0;
    for kill in 0..KILLS {
        let mut child = spawn_worker(source, target_db, 3, None)?;
        // Short first pauses land in the snapshot, later ones in the stream.
        let pause = if kill < 3 {
            rand::rng().random_range(0..300)
        } else {
            rand::rng().random_range(0..900)
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if let Some(status) = child.try_wait()? {
            let (_, stderr) = wait_exit(child, Duration::from_secs(5)).await?;
            anyhow::bail!("the worker exited by itself ({status:?}): {stderr}");
        }
        if target.load_state().await?.is_none() {
            before_snapshot += 1;
        }
        child.start_kill()?;
        let (status, _) = wait_exit(child, Duration::from_secs(30)).await?;
        ensure!(
            status.signal() == Some(9),
            "not killed by SIGKILL: {status:?}"
        );
    }
    writer.await??;
    eprintln!("{KILLS} SIGKILLs, {before_snapshot} of them before the snapshot was committed");

    let mut child = spawn_worker(source, target_db, 3, None)?;
    if let Err(e) = wait_caught_up(source, &target).await {
        child.start_kill()?;
        let (_, stderr) = wait_exit(child, Duration::from_secs(30)).await?;
        let state = target.load_state().await?.map(|s| s.position);
        let runtime = target.runtime().await?.map(|r| format!("{:?}", r.progress));
        anyhow::bail!(
            "{e:#}\ncommitted position: {state:?}\nruntime: {runtime:?}\nthe final migrator's stderr:\n{stderr}"
        );
    }
    let report = verify(&source.url, &target).await?;
    ensure!(report.is_clean(), "differences: {:#?}", report.differences);
    let expected = 3 + usize::try_from(BULK + ROUNDS * 4)?;
    ensure!(
        report.definitions == expected,
        "{} definitions compared, expected {expected}",
        report.definitions
    );
    // Every definition has exactly one log row per version, 1..=version.
    let rows = sqlx::query(
        "SELECT CAST(d.code AS CHAR(20)), CAST(d.version AS SIGNED), CAST(COUNT(l.id) AS SIGNED), CAST(MAX(l.version) AS SIGNED) \
         FROM t_ds_process_definition d JOIN t_ds_process_definition_log l ON l.code = d.code GROUP BY d.code, d.version",
    );
    let rows = match target.engine() {
        changeover_migrate::engine::Engine::MySql => rows.fetch_all(target.pool()).await?,
        changeover_migrate::engine::Engine::Postgres => {
            sqlx::query(
                "SELECT CAST(d.code AS TEXT), CAST(d.version AS BIGINT), CAST(COUNT(l.id) AS BIGINT), CAST(MAX(l.version) AS BIGINT) \
                 FROM t_ds_process_definition d JOIN t_ds_process_definition_log l ON l.code = d.code GROUP BY d.code, d.version",
            )
            .fetch_all(target.pool())
            .await?
        }
    };
    ensure!(
        rows.len() == report.definitions,
        "{} definitions with log rows",
        rows.len()
    );
    for row in rows {
        let (code, version, logs, max): (String, i64, i64, i64) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        ensure!(
            (logs, max) == (version, version),
            "definition {code}: {logs} log rows up to version {max} for version {version}"
        );
    }
    ensure!(target.request_stop().await?, "no migrator registered");
    let (status, stderr) = wait_exit(child, Duration::from_secs(60)).await?;
    ensure!(
        status.success(),
        "the worker did not stop cleanly: {status:?} {stderr}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_migrator_mariadb_to_mariadb_loses_and_duplicates_nothing() -> Result<()> {
    pairing(Server::MariaDb, Server::MariaDb).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_migrator_mariadb_to_postgres_loses_and_duplicates_nothing() -> Result<()> {
    pairing(Server::MariaDb, Server::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_migrator_postgres_to_postgres_loses_and_duplicates_nothing() -> Result<()> {
    pairing(Server::Postgres, Server::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_migrator_postgres_to_mariadb_loses_and_duplicates_nothing() -> Result<()> {
    pairing(Server::Postgres, Server::MariaDb).await
}
