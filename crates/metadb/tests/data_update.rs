use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use changeover_metadb::{
    DataUpdateTask, DataUpdates, Engine, Progress, TaskKind, TaskRecord, TaskState,
};

use crate::common::TestDb;

fn command(name: &str, script: &str) -> DataUpdateTask {
    DataUpdateTask {
        name: name.into(),
        blocking: true,
        skippable: true,
        manual_start: false,
        kind: TaskKind::Command {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env: BTreeMap::new(),
            workdir: None,
        },
    }
}

async fn wait_state(u: &DataUpdates, name: &str, state: TaskState) -> TaskRecord {
    for _ in 0..1000 {
        let r = u.record(name).expect("record");
        if r.state == state {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{name} never reached {state:?}: {:?}", u.record(name));
}

#[tokio::test]
async fn states_progress_and_rerun_of_only_failed_or_never_run() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let flag = dir.path().join("fixed");
    let counter = dir.path().join("runs");
    let tasks = vec![
        command(
            "ok",
            &format!(
                "echo run >> {}; echo 'PROGRESS total=4 remaining=0 succeeded=4 failed=0'",
                counter.display()
            ),
        ),
        command(
            "flaky",
            &format!(
                "test -f {} || {{ echo broken >&2; exit 3; }}",
                flag.display()
            ),
        ),
        DataUpdateTask {
            manual_start: true,
            skippable: false,
            ..command("acquisition", "true")
        },
    ];
    let u = DataUpdates::new(tasks.clone(), vec![])?;
    assert!(u.records().iter().all(|r| r.state == TaskState::NotRun));
    assert_eq!(u.run_pending(), vec!["ok", "flaky"]);
    u.wait().await;
    let ok = u.record("ok")?;
    assert_eq!(ok.state, TaskState::Succeeded);
    assert_eq!(
        ok.progress,
        Some(Progress {
            total: 4,
            remaining: 0,
            succeeded: 4,
            failed: 0
        })
    );
    let flaky = u.record("flaky")?;
    assert_eq!(flaky.state, TaskState::Failed);
    assert!(
        flaky.error.as_deref().unwrap_or("").contains("broken"),
        "{flaky:?}"
    );
    assert_eq!(
        u.record("acquisition")?.state,
        TaskState::NotRun,
        "manual start only"
    );
    assert!(!u.blocking_done());

    // Persisted and restored (the engine stores records as JSON).
    let saved: Vec<TaskRecord> = serde_json::from_str(&serde_json::to_string(&u.records())?)?;
    let u = DataUpdates::new(tasks, saved)?;
    std::fs::write(&flag, "")?;
    assert_eq!(
        u.run_pending(),
        vec!["flaky"],
        "succeeded ones do not run again"
    );
    u.wait().await;
    assert_eq!(u.record("flaky")?.state, TaskState::Succeeded);
    assert_eq!(u.record("flaky")?.attempts, 2);
    assert_eq!(std::fs::read_to_string(&counter)?.lines().count(), 1);
    assert!(u.run("ok").is_err(), "a succeeded task is not run again");
    assert!(
        u.skip("acquisition")
            .unwrap_err()
            .to_string()
            .contains("cannot be skipped")
    );
    assert!(!u.blocking_done());
    u.run("acquisition")?;
    u.wait().await;
    assert!(u.blocking_done() && u.all_done());
    assert!(
        u.run("nope")
            .unwrap_err()
            .to_string()
            .contains("unknown data-update task `nope`")
    );
    Ok(())
}

#[tokio::test]
async fn stop_a_running_command_task() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let child_pid = dir.path().join("pid");
    let u = DataUpdates::new(
        vec![command(
            "long",
            &format!(
                "sleep 300 & echo $! > {}; echo started; wait",
                child_pid.display()
            ),
        )],
        vec![],
    )?;
    u.run_pending();
    let r = wait_state(&u, "long", TaskState::Running).await;
    assert_eq!(r.attempts, 1);
    for _ in 0..500 {
        if u.record("long")?.log.iter().any(|l| l.ends_with("started")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    u.stop("long")?;
    u.wait().await;
    assert_eq!(u.record("long")?.state, TaskState::Stopped);
    // The whole process group is gone, grandchildren included.
    let pid: i32 = std::fs::read_to_string(&child_pid)?.trim().parse()?;
    let mut gone = false;
    for _ in 0..200 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "the sleep grandchild survived the stop");
    // Stopped tasks run again; they can also be skipped.
    u.skip("long")?;
    assert_eq!(u.record("long")?.state, TaskState::Skipped);
    assert!(u.run_pending().is_empty());
    assert!(u.blocking_done());
    Ok(())
}

#[tokio::test]
async fn failed_items_hold_the_step_until_confirmed() -> Result<()> {
    let u = DataUpdates::new(
        vec![command(
            "refresh",
            "echo 'PROGRESS total=10 remaining=5 succeeded=5 failed=0'; echo 'PROGRESS total=10 remaining=0 succeeded=8 failed=2'",
        )],
        vec![],
    )?;
    u.run_pending();
    u.wait().await;
    let r = u.record("refresh")?;
    assert_eq!(r.state, TaskState::Succeeded);
    assert_eq!(r.progress.map(|p| (p.succeeded, p.failed)), Some((8, 2)));
    assert!(r.holds_step() && !u.blocking_done());
    u.confirm_failed_items("refresh")?;
    assert!(u.blocking_done());
    Ok(())
}

#[tokio::test]
async fn a_running_record_restored_after_a_crash_runs_again() -> Result<()> {
    let mut saved = TaskRecord::new("t");
    saved.state = TaskState::Running;
    let u = DataUpdates::new(vec![command("t", "true")], vec![saved])?;
    let r = u.record("t")?;
    assert_eq!(r.state, TaskState::Failed);
    assert!(r.error.unwrap_or_default().contains("interrupted"));
    assert_eq!(u.run_pending(), vec!["t"]);
    u.wait().await;
    assert_eq!(u.record("t")?.state, TaskState::Succeeded);
    Ok(())
}

#[tokio::test]
async fn sql_tasks_run_in_one_transaction() -> Result<()> {
    for engine in [Engine::Postgres, Engine::Mysql, Engine::Sqlite] {
        let db = TestDb::new(engine);
        db.exec("CREATE TABLE job (id INT PRIMARY KEY, owner VARCHAR(20)); INSERT INTO job (id) VALUES (1), (2)");
        let sql = |name: &str, sql: &str| DataUpdateTask {
            name: name.into(),
            blocking: true,
            skippable: true,
            manual_start: false,
            kind: TaskKind::Sql {
                target: db.target.clone(),
                sql: sql.into(),
            },
        };
        let u = DataUpdates::new(
            vec![
                sql(
                    "backfill",
                    "UPDATE job SET owner = 'admin' WHERE owner IS NULL",
                ),
                sql(
                    "broken",
                    "UPDATE job SET owner = 'x' WHERE id = 1; UPDATE no_such_table SET a = 1",
                ),
            ],
            vec![],
        )?;
        u.run_pending();
        u.wait().await;
        assert_eq!(
            u.record("backfill")?.state,
            TaskState::Succeeded,
            "{engine}: {:?}",
            u.record("backfill")?.error
        );
        assert_eq!(u.record("broken")?.state, TaskState::Failed);
        assert_eq!(
            db.query("SELECT owner FROM job WHERE id = 1"),
            "admin",
            "{engine}: the failed task was rolled back"
        );
    }
    Ok(())
}
