//! MariaDB binlog source end to end: snapshot with concurrent changes, stream, verify.

use std::time::Duration;

use anyhow::Result;
use changeover_migrate::cutover::wait_for_zero_lag;
use changeover_migrate::migration::{MigrationConfig, run};
use changeover_migrate::target::Target;
use changeover_migrate::verify::verify;
use serde_json::json;
use sqlx::{AssertSqlSafe, Row};

use crate::support::{
    SOURCE_MYSQL, Server, TARGET_MYSQL, TARGET_POSTGRES, TestDb, diamond, quote, task, workflow,
};

const T: &str = "'2024-03-01 10:20:30'";

pub fn insert_definition(id: i64, project: i64, name: &str, json: &str) -> String {
    format!(
        "INSERT INTO t_ds_process_definition (id, name, version, release_state, project_id, user_id, process_definition_json, description, global_params, flag, locations, connects, create_time, timeout, tenant_id, update_time) \
         VALUES ({id}, {}, 1, 1, {project}, 1, {}, 'd', '[]', 1, NULL, '[]', {T}, 0, 1, {T})",
        quote(name),
        quote(json)
    )
}

/// A secret-looking password hash and data source password that must reach the target.
pub const PASSWORD_HASH: &str = "7ad2410b2f4c074479a8937a28a22b8f";

pub async fn seed(source: &TestDb) -> Result<()> {
    source.exec(&format!("INSERT INTO t_ds_tenant (id, tenant_code, tenant_name, queue_id, create_time, update_time) VALUES (1, 'etl', 'etl', 1, {T}, {T})")).await?;
    source.exec(&format!("INSERT INTO t_ds_user (id, user_name, user_password, user_type, email, phone, tenant_id, create_time, update_time, queue) VALUES (1, 'admin', '{PASSWORD_HASH}', 0, 'a@example.com', '', 1, {T}, {T}, 'default')")).await?;
    source.exec(&format!("INSERT INTO t_ds_datasource (id, name, note, type, user_id, connection_params, create_time, update_time) VALUES (1, 'warehouse', 'n', 0, 1, '{{\"user\":\"etl\",\"password\":\"c2VjcmV0\"}}', {T}, {T})")).await?;
    source.exec(&format!("INSERT INTO t_ds_resources (id, alias, file_name, description, user_id, type, size, create_time, update_time, pid, full_name, is_directory) VALUES (1, 'run.sh', 'run.sh', '', 1, 0, 42, {T}, {T}, -1, '/run.sh', 0), (2, 'lib', 'lib', '', 1, 0, 0, {T}, {T}, -1, '/lib', 1)")).await?;
    for (id, name) in [(1, "alpha"), (2, "beta")] {
        source.exec(&format!("INSERT INTO t_ds_project (id, name, description, user_id, flag, create_time, update_time) VALUES ({id}, '{name}', 'p', 1, 1, {T}, {T})")).await?;
    }
    source
        .exec(&insert_definition(1, 1, "diamond", &diamond("x")))
        .await?;
    let sub = workflow(vec![task(
        "tasks-s",
        "call",
        "SUB_PROCESS",
        json!({"processDefinitionId": 1}),
        &[],
    )]);
    source
        .exec(&insert_definition(2, 1, "parent", &sub))
        .await?;
    let mut dep = task("tasks-d", "wait", "DEPENDENT", json!({}), &[]);
    dep["dependence"] = json!({"relation": "AND", "dependTaskList": [{"relation": "AND", "dependItemList": [{"projectId": 1, "definitionId": 1, "depTasks": "d", "cycle": "day", "dateValue": "today"}]}]});
    source
        .exec(&insert_definition(3, 2, "downstream", &workflow(vec![dep])))
        .await?;
    source.exec(&insert_definition(4, 2, "broken", "")).await?;
    source.exec(&format!(
        "INSERT INTO t_ds_schedules (id, process_definition_id, start_time, end_time, crontab, failure_strategy, user_id, release_state, warning_type, warning_group_id, process_instance_priority, worker_group, create_time, update_time) \
         VALUES (1, 1, {T}, '2030-01-01 00:00:00', '0 0 1 * * ? *', 1, 1, 1, 0, 0, 2, 'default', {T}, {T})"
    )).await?;
    Ok(())
}

/// Changes made while the migration runs: inserts, an edit, a delete, a rename; a data
/// source and a resource inserted, the previous round's resource deleted, the user edited.
pub async fn churn(source: &TestDb, round: i64) -> Result<()> {
    source.exec(&format!("INSERT INTO t_ds_datasource (id, name, note, type, user_id, connection_params, create_time, update_time) VALUES ({}, 'ds{round}', NULL, 1, 1, '{{}}', {T}, NULL)", 100 + round)).await?;
    source.exec(&format!("INSERT INTO t_ds_resources (id, alias, file_name, description, user_id, type, size, create_time, update_time, pid, full_name, is_directory) VALUES ({}, 'r{round}', 'r{round}', NULL, 1, 0, {round}, {T}, {T}, 2, '/lib/r{round}', 0)", 100 + round)).await?;
    if round > 0 {
        source
            .exec(&format!(
                "DELETE FROM t_ds_resources WHERE id = {}",
                99 + round
            ))
            .await?;
    }
    source
        .exec(&format!(
            "UPDATE t_ds_user SET email = 'r{round}@example.com' WHERE id = 1"
        ))
        .await?;
    let base = 100 + round * 10;
    for i in 0..5 {
        source
            .exec(&insert_definition(
                base + i,
                1 + i % 2,
                &format!("wf{base}_{i}"),
                &diamond(&format!("{base}{i}")),
            ))
            .await?;
    }
    let edited = workflow(vec![task(
        "tasks-xa",
        "a",
        "SHELL",
        json!({"rawScript": format!("echo edited {round}")}),
        &[],
    )]);
    source.exec(&format!("UPDATE t_ds_process_definition SET process_definition_json = {}, update_time = '2024-03-02 00:00:00' WHERE id = {}", quote(&edited), base)).await?;
    source
        .exec(&format!(
            "DELETE FROM t_ds_process_definition WHERE id = {}",
            base + 1
        ))
        .await?;
    source
        .exec(&format!(
            "UPDATE t_ds_process_definition SET name = 'renamed{base}' WHERE id = {}",
            base + 2
        ))
        .await?;
    Ok(())
}

pub async fn wait_caught_up(source: &TestDb, target: &Target) -> Result<()> {
    wait_for_zero_lag(&source.url, target, Duration::from_secs(60)).await?;
    Ok(())
}

pub async fn end_to_end(target_server: Server) -> Result<()> {
    let source = TestDb::create(Server::MariaDb, "mig_src", SOURCE_MYSQL).await?;
    let schema = if target_server == Server::Postgres {
        TARGET_POSTGRES
    } else {
        TARGET_MYSQL
    };
    let target_db = TestDb::create(target_server, "mig_tgt", schema).await?;
    let result = scenario(&source, &target_db).await;
    let dropped = (source.drop_now().await, target_db.drop_now().await);
    result?;
    dropped.0?;
    dropped.1
}

pub async fn scenario(source: &TestDb, target_db: &TestDb) -> Result<()> {
    seed(source).await?;
    let config = MigrationConfig {
        source_url: source.url.clone(),
        target_url: target_db.url.clone(),
        projects: Vec::new(),
        machine: 1,
        server_id: rand::random::<u32>() | 0x4000_0000,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let config = config.clone();
        tokio::spawn(async move {
            run(&config, async {
                let _ = stop_rx.await;
            })
            .await
        })
    };
    // Changes racing the snapshot, then changes on the stream.
    churn(source, 0).await?;
    let target = Target::connect(&target_db.url).await?;
    for _ in 0..300 {
        if runner.is_finished() || target.load_state().await.is_ok_and(|s| s.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    churn(source, 1).await?;
    wait_caught_up(source, &target).await?;
    let report = verify(&source.url, &target).await?;
    assert!(report.is_clean(), "differences: {:#?}", report.differences);
    assert_eq!(
        report.definitions,
        3 + 2 * 4,
        "diamond, parent, downstream and 4 live per churn round"
    );
    // Users, data sources and resources are copied with their ids, counted by verify.
    let count = |table: &str| {
        report
            .counts
            .iter()
            .find(|c| c.table == table)
            .map(|c| (c.source, c.target))
    };
    assert_eq!(count("t_ds_user"), Some((1, 1)));
    assert_eq!(
        count("t_ds_datasource"),
        Some((3, 3)),
        "seed + one per round"
    );
    assert_eq!(count("t_ds_resources"), Some((3, 3)), "1, 2 and round 1's");
    let e = target.engine();
    let user = sqlx::query(AssertSqlSafe(format!(
        "SELECT email, user_password FROM t_ds_user WHERE id = {}",
        e.placeholder(1)
    )))
    .bind(1_i64)
    .fetch_one(target.pool())
    .await?;
    assert_eq!(user.try_get::<String, _>(0)?, "r1@example.com");
    assert_eq!(user.try_get::<String, _>(1)?, PASSWORD_HASH);
    let directories: Vec<i64> = sqlx::query(AssertSqlSafe(format!(
        "SELECT {} FROM t_ds_resources ORDER BY id",
        e.int("CASE WHEN is_directory THEN 1 ELSE 0 END")
    )))
    .fetch_all(target.pool())
    .await?
    .iter()
    .map(|r| r.try_get::<i64, _>(0))
    .collect::<Result<_, _>>()?;
    assert_eq!(directories, [0, 1, 0]);

    let dead = target.dead_letters().await?;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, 4);
    assert_eq!(dead[0].reason, "process_definition_json is empty");

    // Fixing the broken definition resolves its dead letter.
    source
        .exec(&format!(
            "UPDATE t_ds_process_definition SET process_definition_json = {} WHERE id = 4",
            quote(&diamond("fixed"))
        ))
        .await?;
    wait_caught_up(source, &target).await?;
    assert!(target.dead_letters().await?.is_empty());
    let report = verify(&source.url, &target).await?;
    assert!(
        report.is_clean(),
        "differences after the fix: {:#?}",
        report.differences
    );

    // A change made while the migrator is stopped is applied exactly once after a restart.
    let _ = stop_tx.send(());
    runner.await??;
    source
        .exec(
            "UPDATE t_ds_process_definition SET description = 'changed while stopped' WHERE id = 1",
        )
        .await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(async move {
        run(&config, async {
            let _ = stop_rx.await;
        })
        .await
    });
    wait_caught_up(source, &target).await?;
    let report = verify(&source.url, &target).await?;
    assert!(
        report.is_clean(),
        "differences after restart: {:#?}",
        report.differences
    );
    let _ = stop_tx.send(());
    runner.await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_to_postgres_snapshot_and_stream_verify_clean() -> Result<()> {
    end_to_end(Server::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_to_mariadb_snapshot_and_stream_verify_clean() -> Result<()> {
    end_to_end(Server::MariaDb).await
}
