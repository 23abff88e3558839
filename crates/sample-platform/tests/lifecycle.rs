//! Terminate, re-run, multi-task runs, and surviving a scheduler restart.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{DEADLINE, Engine, Process, TestDb};

crate::on_both_engines!(
    terminate_is_idempotent,
    rerun_is_idempotent_per_request_id,
    tasks_of_a_workflow_run_in_order,
    scheduler_restart_loses_no_instance,
    sigterm_stops_the_scheduler_but_not_its_tasks,
);

async fn terminate_is_idempotent(engine: Engine) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let p = Process::scheduler(&db, "1.0.0").await?;
    p.add_workflow("long", "prod", &["sleep 60"]).await?;
    let id = p.trigger("long", "adhoc").await?;
    p.wait_status(&id, "running").await?;
    let (_, running) = p.get("/changeover/v1/instances?status=running").await?;
    assert_eq!(running.as_array().map(Vec::len), Some(1));

    let body = json!({"ids": [id, "999999", "nope"]});
    let (status, first) = p.post("/changeover/v1/instances/terminate", &body).await?;
    assert_eq!(status, 200);
    assert_eq!(
        first,
        json!({"terminated": [id], "already_finished": [], "not_found": ["999999", "nope"]})
    );
    assert_eq!(p.status_of(&id).await?, "killed");
    let (_, second) = p.post("/changeover/v1/instances/terminate", &body).await?;
    assert_eq!(
        second,
        json!({"terminated": [], "already_finished": [id], "not_found": ["999999", "nope"]})
    );
    // The process group is gone, so no exit file will ever appear and the status stays.
    let pid = db
        .metadb()
        .await?
        .instance(id.parse()?)
        .await?
        .and_then(|i| i.pid)
        .expect("pid recorded");
    assert!(
        !sample_platform::task::group_alive(pid),
        "task process survived"
    );
    let (_, running) = p.get("/changeover/v1/instances?status=running").await?;
    assert_eq!(running, json!([]));
    Ok(())
}

async fn rerun_is_idempotent_per_request_id(engine: Engine) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let p = Process::scheduler(&db, "1.0.0").await?;
    p.add_workflow("flaky", "prod", &["exit 3"]).await?;
    p.add_workflow("long", "prod", &["sleep 60"]).await?;
    let failed = p.trigger("flaky", "backfill").await?;
    let running = p.trigger("long", "adhoc").await?;
    p.wait_status(&failed, "failed").await?;
    p.wait_status(&running, "running").await?;

    let body = json!({"request_id": "upgrade-1/rerun", "ids": [failed, running, "424242"]});
    let (status, first) = p.post("/changeover/v1/instances/rerun", &body).await?;
    assert_eq!(status, 200, "{first}");
    let reruns = first["rerun"].as_array().cloned().unwrap_or_default();
    assert_eq!(reruns.len(), 1, "{first}");
    assert_eq!(reruns[0]["id"], failed.as_str());
    let new_id = reruns[0]["new_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        first["skipped"],
        json!([{"id": running, "reason": "not_finished"}, {"id": "424242", "reason": "not_found"}])
    );
    let count = p.instances().await?.len();
    let (_, again) = p.post("/changeover/v1/instances/rerun", &body).await?;
    assert_eq!(again, first);
    assert_eq!(
        p.instances().await?.len(),
        count,
        "a repeated request started something"
    );
    // The re-run really runs (and fails again, as its command does).
    p.wait_status(&new_id, "failed").await?;

    let (status, err) = p
        .post(
            "/changeover/v1/instances/rerun",
            &json!({"request_id": " ", "ids": []}),
        )
        .await?;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_request_id"))
    );
    let _ = p
        .post(
            "/changeover/v1/instances/terminate",
            &json!({"ids": [running]}),
        )
        .await?;
    Ok(())
}

async fn tasks_of_a_workflow_run_in_order(engine: Engine) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let p = Process::scheduler(&db, "1.0.0").await?;
    let marker = db.dir.path().join("order.txt");
    let first = format!("echo one >> {}", marker.display());
    let second = format!("echo two >> {}", marker.display());
    p.add_workflow("chain", "prod", &[&first, &second]).await?;
    let id = p.trigger("chain", "adhoc").await?;
    p.wait_status(&id, "succeeded").await?;
    let start = Instant::now();
    loop {
        let list = p.instances().await?;
        if list.len() == 2 && list[1]["status"] == "succeeded" {
            assert_eq!(list[1]["task"], "t1");
            break;
        }
        anyhow::ensure!(
            start.elapsed() < DEADLINE,
            "second task never succeeded: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(std::fs::read_to_string(&marker)?, "one\ntwo\n");
    Ok(())
}

async fn scheduler_restart_loses_no_instance(engine: Engine) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let mut p = Process::scheduler(&db, "1.0.0").await?;
    p.add_workflow("long", "prod", &["sleep 2"]).await?;
    p.add_workflow("doomed", "prod", &["sleep 60"]).await?;
    let long = p.trigger("long", "scheduled").await?;
    let doomed = p.trigger("doomed", "adhoc").await?;
    p.wait_status(&long, "running").await?;
    p.wait_status(&doomed, "running").await?;
    let meta = db.metadb().await?;
    let start = std::time::Instant::now();
    let pid = loop {
        if let Some(pid) = meta.instance(doomed.parse()?).await?.and_then(|i| i.pid) {
            break pid;
        }
        anyhow::ensure!(start.elapsed() < DEADLINE, "pid never recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    p.kill(); // SIGKILL: no chance to clean up.

    // While the scheduler is down, one task vanishes without writing its exit code.
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(i32::try_from(pid)?),
        nix::sys::signal::Signal::SIGKILL,
    )?;

    let p = Process::scheduler(&db, "1.0.0").await?;
    p.wait_status(&long, "succeeded").await?;
    p.wait_status(&doomed, "failed").await?;
    let all = p.instances().await?;
    assert_eq!(all.len(), 2, "{all:?}");
    Ok(())
}

async fn sigterm_stops_the_scheduler_but_not_its_tasks(engine: Engine) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let mut p = Process::scheduler(&db, "1.0.0").await?;
    p.add_workflow("long", "prod", &["sleep 2"]).await?;
    let long = p.trigger("long", "backfill").await?;
    p.wait_status(&long, "running").await?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(p.child.id())?),
        nix::sys::signal::Signal::SIGTERM,
    )?;
    let status = p.child.wait()?;
    assert!(status.success(), "scheduler exited with {status}");
    let p = Process::scheduler(&db, "1.0.1").await?;
    p.wait_status(&long, "succeeded").await?;
    let (_, health) = p.get("/health").await?;
    assert_eq!(health["version"], "1.0.1");
    Ok(())
}
