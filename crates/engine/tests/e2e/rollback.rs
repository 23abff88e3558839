//! Issue 5: rollback after a failing migration returns the sample platform to its previous
//! version with identical data and all applications healthy.

use std::path::Path;
use std::sync::Arc;

use changeover_drivers::SchedulerAdapter;
use changeover_drivers::process::ProcessState;
use changeover_drivers::scheduler::Environment;
use changeover_engine::catalog::BundleVersions;
use changeover_engine::console::{ModeArg, UpgradeCommand};
use changeover_engine::upgrade::Status;

use super::harness::Platform;
use crate::adapters::db::TestDb;

fn start(to: &str, mode: ModeArg) -> UpgradeCommand {
    UpgradeCommand::Start {
        to: to.into(),
        mode,
        estimated_completion: Some("2026-11-23 23:00".into()),
        contact_email: Some("ops@example.com".into()),
        contact_phone: Some("+1 555 0100".into()),
        save_only: false,
        accept_risk: true,
        yes: true,
    }
}

/// The sample bundles, with 1.1.0 given a second migration that fails after the first
/// (`add_owner_column`) applied.
fn bundles_with_failing_migration() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample");
    ["1.0.0", "1.0.1", "1.1.0"]
        .iter()
        .map(|v| {
            let name = format!("{v}.yaml");
            let mut text = std::fs::read_to_string(dir.join(&name)).expect("sample bundle");
            if *v == "1.1.0" {
                let failing = "      - version: 3\n        name: broken\n        sql:\n          sqlite: \"ALTER TABLE no_such_table ADD COLUMN x TEXT\"\n          postgres: \"ALTER TABLE no_such_table ADD COLUMN x TEXT\"\n          mysql: \"ALTER TABLE no_such_table ADD COLUMN x TEXT\"\n    prune_before_backup: []";
                assert!(text.contains("    prune_before_backup: []"));
                text = text.replacen("    prune_before_backup: []", failing, 1);
            }
            (name, text.into_bytes())
        })
        .collect()
}

/// Finished task instances written straight into the metadata (no workflow runs, so the
/// data stays still between the checksums).
fn add_finished_instances(db: &TestDb) {
    let mut sql = String::new();
    for i in 0..5 {
        sql.push_str(&format!(
            "INSERT INTO task_instance (run_id, workflow, task, seq, command, node_type, \
             schedule_type, tenant, environment, business_date, status, pid, exit_code, \
             created_at, started_at, updated_at, finished_at) VALUES ('run{i}', 'wf{i}', \
             'task-1', 1, 'true', 'shell', 'cron', 't1', 'prod', '2026-11-23', 'succeeded', \
             100, 0, '2026-11-23T10:00:00Z', '2026-11-23T10:00:00Z', \
             '2026-11-23T10:00:01Z', '2026-11-23T10:00:01Z');"
        ));
    }
    db.exec(&sql);
}

#[tokio::test]
async fn rollback_after_a_failing_migration_restores_version_and_data_on_sqlite() {
    rollback_after_a_failing_migration(TestDb::sqlite()).await;
}

#[tokio::test]
async fn rollback_after_a_failing_migration_restores_version_and_data_on_postgres() {
    rollback_after_a_failing_migration(TestDb::postgres()).await;
}

#[tokio::test]
async fn rollback_after_a_failing_migration_restores_version_and_data_on_mariadb() {
    rollback_after_a_failing_migration(TestDb::mariadb()).await;
}

async fn rollback_after_a_failing_migration(db: TestDb) {
    let target = db.target.clone();
    let mut p = Platform::start(db, 0, 1).await;
    add_finished_instances(&p.db);
    let files = bundles_with_failing_migration();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let mut versions = BundleVersions::with_bundles("sample", p.settings.clone(), &refs).unwrap();
    versions.ports = p.ports.clone();
    p.console.versions = Arc::new(versions);
    let before = changeover_metadb::table_checksums(&target).await.unwrap();
    assert!(
        before
            .iter()
            .any(|t| t.table.trim_start_matches("public.") == "task_instance" && t.rows == 5),
        "{before:?}"
    );

    // the upgrade fails at the application-upgrade step, after the backup completed
    let _ = p.console.execute(start("1.1.0", ModeArg::Full)).await;
    let r = p.console.store.list().await.unwrap().remove(0);
    assert!(
        r.backup_incomplete().is_none(),
        "{}",
        changeover_engine::view::status(&r)
    );
    assert!(
        changeover_engine::view::status(&r).contains("broken"),
        "{}",
        changeover_engine::view::status(&r)
    );
    assert_ne!(
        changeover_metadb::table_checksums(&target).await.unwrap(),
        before,
        "the first migration applied"
    );
    p.console
        .execute(UpgradeCommand::ForceTerminate {
            mark: changeover_engine::console::MarkArg::Failed,
        })
        .await
        .unwrap();
    p.console
        .execute(UpgradeCommand::Rollback { id: r.id.clone() })
        .await
        .unwrap();
    let r = p.console.store.get(&r.id).await.unwrap();
    assert_eq!(
        r.status,
        Status::RolledBack,
        "{}",
        changeover_engine::view::status(&r)
    );
    assert!(r.milestones.rolled_back_at.is_some());
    assert_eq!(
        changeover_metadb::table_checksums(&target).await.unwrap(),
        before,
        "identical data, the owner column gone"
    );
    assert_eq!(p.client.health().await.unwrap().version, "1.0.0");
    let prod = p.client.toggles().await.unwrap();
    let prod = prod
        .iter()
        .find(|t| t.environment == Environment::Prod)
        .unwrap();
    assert!(
        prod.scheduling && prod.execution,
        "dispatch as before: {prod:?}"
    );
    let statuses = p.driver.statuses().await.unwrap();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    for s in &statuses {
        assert_eq!(s.state, ProcessState::Healthy, "{s:?}");
        assert_eq!(s.instance.as_ref().unwrap().version, "1.0.0", "{s:?}");
    }

    // an upgrade with no complete backup (zero downtime takes none) is refused a rollback
    p.console
        .execute(start("1.0.1", ModeArg::Zero))
        .await
        .unwrap();
    let zero = p.console.store.list().await.unwrap().remove(0);
    assert_eq!(zero.status, Status::Succeeded);
    let err = p
        .console
        .execute(UpgradeCommand::Rollback {
            id: zero.id.clone(),
        })
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "upgrade {} cannot be rolled back: zero downtime mode takes no backup; restore the metadata databases by hand from your own backups",
            zero.id
        )
    );
}
