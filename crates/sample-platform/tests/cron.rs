//! Cron triggers and workflows defined from the command line.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{DEADLINE, Engine, Process, TestDb, refused};

crate::on_both_engines!(
    cron_triggers_scheduled_runs_that_obey_scheduling,
    cli_adds_workflows
);

async fn wait_for<F: Fn(&[Value]) -> bool>(
    p: &Process,
    what: &str,
    f: F,
) -> anyhow::Result<Vec<Value>> {
    let start = Instant::now();
    loop {
        let list = p.instances().await?;
        if f(&list) {
            return Ok(list);
        }
        anyhow::ensure!(
            start.elapsed() < DEADLINE,
            "{what} never happened: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn cron_triggers_scheduled_runs_that_obey_scheduling(engine: Engine) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let p = Process::scheduler(&db, "1.0.0").await?;
    let body = json!({"name": "every-second", "tenant": "acme", "cron": "* * * * * *",
        "tasks": [{"name": "t0", "command": "true"}]});
    let (status, answer) = p.post("/admin/workflows", &body).await?;
    assert_eq!(status, 201, "{answer}");
    wait_for(&p, "two scheduled successes", |list| {
        list.iter()
            .filter(|i| i["schedule_type"] == "scheduled" && i["status"] == "succeeded")
            .count()
            >= 2
    })
    .await?;
    p.set_toggles("prod", json!({"scheduling": false})).await?;
    wait_for(&p, "a held scheduled instance", |list| {
        list.iter().any(|i| i["status"] == "waiting")
    })
    .await?;
    let (status, err) = p
        .post(
            "/admin/workflows",
            &json!({"name": "bad", "tenant": "a", "cron": "soon",
            "tasks": [{"name": "t0", "command": "true"}]}),
        )
        .await?;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_workflow"))
    );
    Ok(())
}

async fn cli_adds_workflows(engine: Engine) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let bin = env!("CARGO_BIN_EXE_sample-scheduler");
    let out = Command::new(bin)
        .args([
            "--platform-version",
            "1.0.0",
            "--db",
            &db.url,
            "workflow",
            "add",
            "nightly",
        ])
        .args([
            "--cron",
            "0 3 * * *",
            "--tenant",
            "acme",
            "--task",
            "echo hi",
            "--task",
            "true",
        ])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = refused(
        Path::new(bin),
        &[
            "--db", &db.url, "workflow", "add", "x", "--cron", "never", "--tenant", "a", "--task",
            "true",
        ],
    )?;
    assert!(err.contains("invalid cron expression"), "{err}");

    let p = Process::scheduler(&db, "1.0.0").await?;
    let first = p.trigger("nightly", "backfill").await?;
    p.wait_status(&first, "succeeded").await?;
    let list = wait_for(&p, "the second task", |list| {
        list.len() == 2 && list[1]["status"] == "succeeded"
    })
    .await?;
    assert_eq!(list[1]["task"], "task-2");
    assert_eq!(list[0]["business_date"], "2026-11-20");
    Ok(())
}
