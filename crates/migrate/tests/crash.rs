//! Crash and restart: the migrator is aborted at random moments while the source changes;
//! after a final run the target must verify clean with no duplicated or lost version.

use std::time::Duration;

use anyhow::Result;
use changeover_migrate::migration::{MigrationConfig, run};
use changeover_migrate::target::Target;
use changeover_migrate::verify::verify;
use rand::Rng;
use sqlx::Row;

use crate::mariadb_source::{churn, seed, wait_caught_up};
use crate::support::{SOURCE_MYSQL, Server, TARGET_POSTGRES, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborting_the_migrator_at_random_moments_loses_and_duplicates_nothing() -> Result<()> {
    let source = TestDb::create(Server::MariaDb, "co_src", SOURCE_MYSQL).await?;
    let target_db = TestDb::create(Server::Postgres, "co_tgt", TARGET_POSTGRES).await?;
    let result = scenario(&source, &target_db).await;
    let dropped = (source.drop_now().await, target_db.drop_now().await);
    result?;
    dropped.0?;
    dropped.1
}

async fn scenario(source: &TestDb, target_db: &TestDb) -> Result<()> {
    seed(source).await?;
    let config = MigrationConfig {
        source_url: source.url.clone(),
        target_url: target_db.url.clone(),
        projects: Vec::new(),
        machine: 2,
        server_id: rand::random::<u32>() | 0x4000_0000,
    };
    for round in 0..12 {
        let runner = {
            let config = config.clone();
            tokio::spawn(async move { run(&config, std::future::pending()).await })
        };
        churn(source, round).await?;
        let pause = rand::rng().random_range(0..400);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        runner.abort();
        let _ = runner.await;
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(async move {
        run(&config, async {
            let _ = stop_rx.await;
        })
        .await
    });
    let target = Target::connect(&target_db.url).await?;
    wait_caught_up(source, &target).await?;
    let report = verify(&source.url, &target).await?;
    assert!(report.is_clean(), "differences: {:#?}", report.differences);
    assert_eq!(report.definitions, 3 + 12 * 4);
    // Every definition has exactly one log row per version, 1..=version.
    let rows = sqlx::query(
        "SELECT CAST(d.code AS TEXT), CAST(d.version AS BIGINT), CAST(COUNT(l.id) AS BIGINT), CAST(MAX(l.version) AS BIGINT) \
         FROM t_ds_process_definition d JOIN t_ds_process_definition_log l ON l.code = d.code GROUP BY d.code, d.version",
    )
    .fetch_all(target.pool())
    .await?;
    assert_eq!(rows.len(), report.definitions);
    for row in rows {
        let (code, version, logs, max): (String, i64, i64, i64) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        assert_eq!(
            (logs, max),
            (version, version),
            "definition {code}: logs do not match its version"
        );
    }
    let _ = stop_tx.send(());
    runner.await??;
    Ok(())
}
