//! `changeover migrate stop` against a real PostgreSQL target: refused when no migrator
//! ever ran, a saved request (taken by the migrator between batches) when one did, and
//! `--wait` returning once the migrator records that it stopped.

use changeover_migrate::runtime::{Phase, Progress};
use changeover_migrate::target::Target;
use sqlx::Executor;

use crate::common::changeover_in;

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A fresh, randomly named database, dropped by [`Scratch::drop_now`].
struct Scratch {
    name: String,
}

impl Scratch {
    async fn new() -> Scratch {
        let name = format!("changeover_stop_{:08x}", rand_suffix());
        let admin = sqlx::PgPool::connect(&format!("{SERVER}/postgres"))
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (run scripts/services)");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create database");
        admin.close().await;
        Scratch { name }
    }

    fn url(&self) -> String {
        format!("{SERVER}/{}", self.name)
    }

    async fn drop_now(self) {
        let admin = sqlx::PgPool::connect(&format!("{SERVER}/postgres"))
            .await
            .expect("connect");
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .await;
        admin.close().await;
    }
}

fn rand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    nanos ^ std::process::id().rotate_left(16)
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_stop_asks_the_running_migrator_and_waits_for_it() {
    let db = Scratch::new().await;
    let url = db.url();
    let dir = tempfile::tempdir().expect("tempdir");

    // Nothing ever ran against this target: nothing to stop.
    let run = changeover_in(dir.path(), &["migrate", "stop", "--target", &url]);
    let err = run.fails(1);
    assert!(err.contains("no migrator has ever run"), "{err}");
    assert!(!err.contains("postgres://"), "the URL leaked: {err}");

    // A migrator registered (as `migrate start` does): the request is saved for it.
    let target = Target::connect(&url).await.expect("target");
    target
        .register_run(4242, &Progress::new(Phase::Streaming), 0)
        .await
        .expect("register");
    assert!(!target.stop_requested().await.expect("read"));
    let run = changeover_in(dir.path(), &["migrate", "stop", "--target", &url]);
    assert!(run.ok().contains("stop requested"), "{}", run.stdout);
    assert!(target.stop_requested().await.expect("read"));

    // --wait returns only once the migrator records phase `stopped`; without it, the
    // timeout ends the wait with an error.
    let run = changeover_in(
        dir.path(),
        &[
            "migrate",
            "stop",
            "--target",
            &url,
            "--wait",
            "--timeout",
            "1",
        ],
    );
    assert!(run.fails(1).contains("has not stopped within 1 s"));
    target
        .record_progress(&Progress::new(Phase::Stopped), 1)
        .await
        .expect("record");
    let run = changeover_in(
        dir.path(),
        &[
            "migrate",
            "stop",
            "--target",
            &url,
            "--wait",
            "--timeout",
            "30",
        ],
    );
    assert!(run.ok().contains("migrator stopped"), "{}", run.stdout);

    drop(target);
    db.drop_now().await;
}
