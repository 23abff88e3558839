//! Snapshot progress: the snapshot is written in chunks inside one target transaction and
//! the migrator records `done` per table after each chunk. A migrator aborted right after
//! its first chunk leaves `done` between 0 and the total, and nothing of the snapshot in the
//! target (the transaction never committed); a new start then completes it.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use anyhow::{Result, ensure};
use changeover_migrate::migration::SNAPSHOT_CHUNK;
use changeover_migrate::target::Target;
use changeover_migrate::verify::verify;
use sqlx::Row;

use crate::mariadb_source::{insert_definition, seed, wait_caught_up};
use crate::support::{
    SOURCE_MYSQL, Server, TARGET_POSTGRES, TestDb, diamond, spawn_worker, wait_exit,
};

/// Definitions besides the seed: more than two chunks.
const BULK: i64 = 1_200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_done_moves_per_chunk_inside_one_uncommitted_transaction() -> Result<()> {
    let source = TestDb::create(Server::MariaDb, "mig_src", SOURCE_MYSQL).await?;
    let target_db = TestDb::create(Server::Postgres, "mig_tgt", TARGET_POSTGRES).await?;
    let result = scenario(&source, &target_db).await;
    let dropped = (source.drop_now().await, target_db.drop_now().await);
    result?;
    dropped.0?;
    dropped.1
}

async fn scenario(source: &TestDb, target_db: &TestDb) -> Result<()> {
    seed(source).await?;
    let bulk: Vec<String> = (0..BULK)
        .map(|i| {
            insert_definition(
                20_000 + i,
                1,
                &format!("bulk{i}"),
                &diamond(&format!("p{i}")),
            )
        })
        .collect();
    for statement in bulk.chunks(200) {
        source.exec(&statement.join(";\n")).await?;
    }
    let target = Target::connect(&target_db.url).await?;

    let child = spawn_worker(source, target_db, 5, Some("snapshot-chunk"))?;
    let (status, stderr) = wait_exit(child, Duration::from_secs(120)).await?;
    ensure!(
        status.signal().is_some(),
        "the worker should have aborted after its first chunk: {status:?} {stderr}"
    );
    let runtime = target.runtime().await?.expect("the worker registered");
    let definitions = runtime
        .progress
        .snapshot
        .iter()
        .find(|t| t.table == "t_ds_process_definition")
        .expect("definitions are counted");
    ensure!(
        definitions.total == u64::try_from(BULK)? + 4,
        "total {}",
        definitions.total
    );
    ensure!(
        definitions.done > 0 && definitions.done < definitions.total,
        "after one chunk of {SNAPSHOT_CHUNK} rows: done {} of {}",
        definitions.done,
        definitions.total
    );
    let all_done: u64 = runtime.progress.snapshot.iter().map(|t| t.done).sum();
    ensure!(
        all_done == u64::try_from(SNAPSHOT_CHUNK)?,
        "one chunk's rows recorded, got {all_done}"
    );
    ensure!(
        target.load_state().await?.is_none(),
        "an aborted snapshot left a state"
    );
    let written: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM t_ds_process_definition")
        .fetch_one(target.pool())
        .await?
        .try_get(0)?;
    ensure!(
        written == 0,
        "{written} definitions of an uncommitted snapshot"
    );

    // A new start completes the snapshot; every table's done reaches its total.
    let child = spawn_worker(source, target_db, 5, None)?;
    wait_caught_up(source, &target).await?;
    let runtime = target.runtime().await?.expect("the worker registered");
    for table in &runtime.progress.snapshot {
        ensure!(table.done == table.total, "{table:?}");
    }
    let report = verify(&source.url, &target).await?;
    ensure!(report.is_clean(), "differences: {:#?}", report.differences);
    ensure!(target.request_stop().await?, "the worker is registered");
    let (status, stderr) = wait_exit(child, Duration::from_secs(60)).await?;
    ensure!(status.success(), "{status:?} {stderr}");
    Ok(())
}
