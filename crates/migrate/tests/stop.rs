//! `migrate stop` and the figures of `migrate status`: the migrator (a child process)
//! records its progress in the target, stops cleanly on request with exit code 0, and a
//! new start resumes from the committed position.

use std::time::Duration;

use anyhow::{Result, ensure};
use changeover_migrate::runtime::Phase;
use changeover_migrate::source_postgres::{cleanup, replication_names};
use changeover_migrate::status::status;
use changeover_migrate::target::Target;
use changeover_migrate::verify::verify;

use crate::mariadb_source::{churn, seed, wait_caught_up};
use crate::support::{
    SOURCE_MYSQL, SOURCE_POSTGRES, Server, TARGET_MYSQL, TARGET_POSTGRES, TestDb, spawn_worker,
    wait_exit,
};

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
    let target = Target::connect(&target_db.url).await?;
    ensure!(
        !target.request_stop().await?,
        "a stop request before any migrator ran must say so"
    );
    let child = spawn_worker(source, target_db, 4, None)?;
    wait_snapshot(&target).await?;
    wait_caught_up(source, &target).await?;

    // The snapshot figures: rows read per table, all committed.
    let runtime = target.runtime().await?.expect("the worker registered");
    ensure!(
        runtime.pid == child.id().unwrap_or(0),
        "pid {}",
        runtime.pid
    );
    let totals: Vec<(String, u64, u64)> = runtime
        .progress
        .snapshot
        .iter()
        .map(|t| (t.table.clone(), t.done, t.total))
        .collect();
    ensure!(
        totals
            == vec![
                ("t_ds_tenant".to_owned(), 1, 1),
                ("t_ds_user".to_owned(), 1, 1),
                ("t_ds_datasource".to_owned(), 1, 1),
                ("t_ds_resources".to_owned(), 2, 2),
                ("t_ds_project".to_owned(), 2, 2),
                ("t_ds_process_definition".to_owned(), 4, 4),
                ("t_ds_schedules".to_owned(), 1, 1),
            ],
        "snapshot progress {totals:?}"
    );

    // Stream figures: changes applied, lag and events/s recorded.
    churn(source, 0).await?;
    wait_caught_up(source, &target).await?;
    let mut applied = 0;
    for _ in 0..100 {
        let runtime = target.runtime().await?.expect("registered");
        applied = runtime.progress.events_applied;
        if applied >= 8 && runtime.progress.phase == Phase::Streaming {
            ensure!(runtime.progress.lag_seconds.is_some(), "no lag recorded");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ensure!(
        applied >= 8,
        "the churn's 8 changes were not counted ({applied})"
    );
    let now = status(&source.url, &target).await?;
    ensure!(now.dead_letters == 1, "dead letters {}", now.dead_letters);
    ensure!(now.runtime.is_some(), "status has no runtime figures");

    // `migrate stop`: the worker exits 0 and records that it stopped.
    ensure!(target.request_stop().await?, "no migrator registered");
    let (exit, stderr) = wait_exit(child, Duration::from_secs(60)).await?;
    ensure!(exit.success(), "stop did not exit 0: {exit:?} {stderr}");
    let runtime = target.runtime().await?.expect("registered");
    ensure!(
        runtime.progress.phase == Phase::Stopped,
        "{:?}",
        runtime.progress.phase
    );

    // Changes made while stopped are applied once the migrator starts again.
    churn(source, 1).await?;
    let child = spawn_worker(source, target_db, 4, None)?;
    wait_caught_up(source, &target).await?;
    let report = verify(&source.url, &target).await?;
    ensure!(report.is_clean(), "differences: {:#?}", report.differences);
    ensure!(
        report.definitions == 3 + 2 * 4,
        "{} definitions",
        report.definitions
    );
    let runtime = target.runtime().await?.expect("registered");
    ensure!(
        !runtime.stop_requested,
        "a new start must clear the old stop request"
    );
    ensure!(
        runtime.progress.snapshot.iter().all(|t| t.done == t.total),
        "the resumed run keeps the snapshot figures"
    );
    ensure!(target.request_stop().await?, "no migrator registered");
    let (exit, stderr) = wait_exit(child, Duration::from_secs(60)).await?;
    ensure!(
        exit.success(),
        "second stop did not exit 0: {exit:?} {stderr}"
    );
    Ok(())
}

/// Waits until the worker has committed its snapshot (it creates the state tables first).
async fn wait_snapshot(target: &Target) -> Result<()> {
    for _ in 0..600 {
        if target.load_state().await.is_ok_and(|s| s.is_some()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the worker did not commit its snapshot within a minute")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_request_ends_the_migrator_and_start_resumes_mariadb_to_postgres() -> Result<()> {
    pairing(Server::MariaDb, Server::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_request_ends_the_migrator_and_start_resumes_postgres_to_mariadb() -> Result<()> {
    pairing(Server::Postgres, Server::MariaDb).await
}
