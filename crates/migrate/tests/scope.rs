//! A canary scope, a project added while the stream runs, and a reversible cutover.

use std::time::Duration;

use anyhow::{Result, bail};
use changeover_migrate::cutover::{Switch, cutover, revert};
use changeover_migrate::dsapi::{DsApi, Release};
use changeover_migrate::migration::{MigrationConfig, run};

use changeover_migrate::target::Target;
use changeover_migrate::verify::verify;
use sqlx::Row;

use crate::fake_dsapi::{FakeDs, TOKEN};
use crate::mariadb_source::{churn, seed, wait_caught_up};
use crate::support::{SOURCE_MYSQL, Server, TARGET_POSTGRES, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_scope_then_a_project_added_mid_stream_then_cutover_and_revert() -> Result<()> {
    let source = TestDb::create(Server::MariaDb, "mig_src", SOURCE_MYSQL).await?;
    let target_db = TestDb::create(Server::Postgres, "mig_tgt", TARGET_POSTGRES).await?;
    let result = scenario(&source, &target_db).await;
    let dropped = (source.drop_now().await, target_db.drop_now().await);
    result?;
    dropped.0?;
    dropped.1
}

async fn release_state(db: &TestDb, sql: &str) -> Result<i64> {
    let mut conn = db.connect().await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut conn)
        .await?;
    Ok(row.try_get(0)?)
}

async fn scenario(source: &TestDb, target_db: &TestDb) -> Result<()> {
    seed(source).await?;
    let config = MigrationConfig {
        source_url: source.url.clone(),
        target_url: target_db.url.clone(),
        projects: vec!["alpha".to_owned()],
        machine: 3,
        server_id: rand::random::<u32>() | 0x4000_0000,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(async move {
        run(&config, async {
            let _ = stop_rx.await;
        })
        .await
    });
    churn(source, 0).await?;
    let target = Target::connect(&target_db.url).await?;
    for _ in 0..300 {
        if target.load_state().await.is_ok_and(|s| s.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_caught_up(source, &target).await?;
    let report = verify(&source.url, &target).await?;
    assert!(
        report.is_clean(),
        "canary differences: {:#?}",
        report.differences
    );
    assert_eq!(
        report.definitions, 5,
        "alpha: diamond, parent and 3 churned"
    );
    assert_eq!(
        report.counts[0].target, 1,
        "only the canary project is migrated"
    );
    assert!(
        target.dead_letters().await?.is_empty(),
        "beta's broken definition is out of scope"
    );

    // Add beta while the stream runs and the source keeps changing.
    target.request_projects(&["beta".to_owned()]).await?;
    churn(source, 1).await?;
    let mut added = false;
    for _ in 0..300 {
        let state = target.load_state().await?.expect("state");
        if state
            .projects
            .as_ref()
            .is_some_and(|p| p.contains(&"beta".to_owned()))
        {
            added = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !added {
        bail!("beta was not added to the scope");
    }
    churn(source, 2).await?;
    wait_caught_up(source, &target).await?;
    let report = verify(&source.url, &target).await?;
    assert!(
        report.is_clean(),
        "differences after adding beta: {:#?}",
        report.differences
    );
    assert_eq!(report.definitions, 3 + 3 * 4);
    let dead = target.dead_letters().await?;
    assert_eq!(dead.iter().map(|d| d.id).collect::<Vec<_>>(), vec![4]);
    let now = changeover_migrate::status::status(&source.url, &target).await?;
    assert_eq!(now.definitions, 15);
    assert_eq!(now.dead_letters, 1);
    assert_eq!(
        now.projects,
        Some(vec!["alpha".to_owned(), "beta".to_owned()])
    );

    // Cut alpha over through the schedulers' APIs (fakes: DolphinScheduler cannot run
    // here): its schedule goes offline in the source and online in the target.
    let (fake, addr) = FakeDs::start(&source.url, &target_db.url).await?;
    let switch = Switch::Api {
        source: Box::new(DsApi::new(
            Release::V13,
            &format!("http://{addr}/ds13/dolphinscheduler"),
            TOKEN,
        )?),
        target: Box::new(DsApi::new(
            Release::V32,
            &format!("http://{addr}/ds32/dolphinscheduler"),
            TOKEN,
        )?),
    };
    let target_schedule = "SELECT CAST(release_state AS BIGINT) FROM t_ds_schedules";
    let source_schedule = "SELECT CAST(release_state AS SIGNED) FROM t_ds_schedules WHERE id = 1";
    assert_eq!(
        release_state(target_db, target_schedule).await?,
        0,
        "schedules stay offline in the target until cutover"
    );
    let wait = Duration::from_secs(60);

    // The 3.2 API refuses: the source schedule is online again, the target's offline.
    fake.refuse_online_32(true);
    let err = cutover(&source.url, &target, "alpha", wait, &switch)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the 3.2 target's API refused schedule")
            && err.contains("the workflow definition is not online")
            && err.contains("source schedules are online again"),
        "{err}"
    );
    assert!(!err.contains(TOKEN), "the token leaked into {err}");
    assert_eq!(release_state(source, source_schedule).await?, 1);
    assert_eq!(release_state(target_db, target_schedule).await?, 0);
    fake.refuse_online_32(false);

    let done = cutover(&source.url, &target, "alpha", wait, &switch).await?;
    assert_eq!(done.source_schedules, vec![1]);
    assert_eq!(release_state(source, source_schedule).await?, 0);
    assert_eq!(release_state(target_db, target_schedule).await?, 1);
    let calls = fake.calls();
    let project_code: i64 = {
        let mut conn = target_db.connect().await?;
        sqlx::query("SELECT code FROM t_ds_project WHERE name = 'alpha'")
            .fetch_one(&mut conn)
            .await?
            .try_get(0)?
    };
    let target_id =
        release_state(target_db, "SELECT CAST(id AS BIGINT) FROM t_ds_schedules").await?;
    assert_eq!(
        calls,
        vec![
            "1.3 alpha offline 1".to_owned(),
            "1.3 alpha online 1".to_owned(),
            "1.3 alpha offline 1".to_owned(),
            format!("3.2 {project_code} online {target_id}"),
        ],
        "the refused cutover switched the source back; the second went through"
    );
    let reverted = revert(&source.url, &target, "alpha", &switch).await?;
    assert_eq!(reverted, vec![1]);
    assert_eq!(release_state(source, source_schedule).await?, 1);
    assert_eq!(release_state(target_db, target_schedule).await?, 0);
    assert_eq!(
        fake.calls()[calls.len()..],
        [
            format!("3.2 {project_code} offline {target_id}"),
            "1.3 alpha online 1".to_owned(),
        ]
    );
    let err = revert(&source.url, &target, "alpha", &switch)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("project alpha was not cut over"),
        "{err}"
    );

    // Rows only (no scheduler running): the same switch by updating the rows.
    let done = cutover(&source.url, &target, "alpha", wait, &Switch::Rows).await?;
    assert_eq!(done.source_schedules, vec![1]);
    assert_eq!(release_state(source, source_schedule).await?, 0);
    assert_eq!(release_state(target_db, target_schedule).await?, 1);
    revert(&source.url, &target, "alpha", &Switch::Rows).await?;
    assert_eq!(release_state(source, source_schedule).await?, 1);
    assert_eq!(release_state(target_db, target_schedule).await?, 0);

    let _ = stop_tx.send(());
    runner.await??;
    Ok(())
}
