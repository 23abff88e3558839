//! The three behaviours: 1.1.0 needs the migrated column and serves `owner`.

use std::path::Path;

use sample_platform::PlatformVersion;
use serde_json::json;

use crate::harness::{Engine, Process, TestDb, refused};

crate::on_both_engines!(v110_refuses_without_owner_and_serves_it_after_migration);

async fn v110_refuses_without_owner_and_serves_it_after_migration(
    engine: Engine,
) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let old = Process::scheduler(&db, "1.0.0").await?;
    old.add_workflow("w", "prod", &["true"]).await?;
    let first = old.trigger("w", "adhoc").await?;
    old.wait_status(&first, "succeeded").await?;
    drop(old);
    let patch = Process::dataservice(&db, "1.0.1").await?;
    let (_, health) = patch.get("/health").await?;
    assert_eq!(health, json!({"status": "ok", "version": "1.0.1"}));
    let (_, list) = patch.get("/api/instances?date=2026-11-20").await?;
    assert!(list[0].get("owner").is_none(), "{list}");
    drop(patch);

    let data_dir = db.data_dir();
    let args = [
        "--platform-version",
        "1.1.0",
        "--port",
        "0",
        "--db",
        &db.url,
        "--data-dir",
        data_dir.to_str().unwrap_or_default(),
    ];
    let err = refused(Path::new(env!("CARGO_BIN_EXE_sample-scheduler")), &args)?;
    assert!(err.contains("task_instance.owner"), "{err}");
    let err = refused(
        Path::new(env!("CARGO_BIN_EXE_sample-dataservice")),
        &[
            "--platform-version",
            "1.1.0",
            "--port",
            "0",
            "--db",
            &db.url,
        ],
    )?;
    assert!(err.contains("add_owner_column"), "{err}");

    // The bundle's migration, then the data update that fills old rows.
    let meta = db.metadb().await?;
    sqlx::query("ALTER TABLE task_instance ADD COLUMN owner TEXT")
        .execute(&meta.pool)
        .await?;
    sqlx::query("UPDATE task_instance SET owner = tenant WHERE owner IS NULL")
        .execute(&meta.pool)
        .await?;
    meta.prepare(PlatformVersion::V1_1_0).await?;

    let new = Process::scheduler(&db, "1.1.0").await?;
    let (_, health) = new.get("/health").await?;
    assert_eq!(health["version"], "1.1.0");
    let second = new.trigger("w", "adhoc").await?;
    new.wait_status(&second, "succeeded").await?;
    let service = Process::dataservice(&db, "1.1.0").await?;
    let (status, list) = service.get("/api/instances?date=2026-11-20").await?;
    assert_eq!(status, 200);
    let owners: Vec<_> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["owner"].clone())
        .collect();
    assert_eq!(owners, vec![json!("acme"), json!("acme")]);
    let (status, one) = service.get(&format!("/api/instances/{second}")).await?;
    assert_eq!((status, one["owner"].clone()), (200, json!("acme")));
    let (status, _) = service.get("/api/instances/12345").await?;
    assert_eq!(status, 404);
    let (_, summary) = service.get("/api/summary").await?;
    assert_eq!(summary["total"], 2);
    assert_eq!(summary["by_status"]["succeeded"], 2);

    // Graceful shutdown: SIGTERM ends the data service cleanly.
    let mut service = service;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(service.child.id())?),
        nix::sys::signal::Signal::SIGTERM,
    )?;
    let status = service.child.wait()?;
    assert!(status.success(), "data service exited with {status}");
    Ok(())
}
