//! The metadb adapter on real SQLite and PostgreSQL: backups taken once per upgrade, the
//! migration applied once, a data-update run id never run twice, restore from the backup.

use changeover_engine::adapter::metadb::{DatabaseSpec, Metadb};
use changeover_engine::port::{Databases, TaskRun};
use changeover_metadb::{DataUpdateTask, Migration, TaskKind};

use super::db::TestDb;

async fn lifecycle(db: TestDb) {
    db.exec("CREATE TABLE wf (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    db.exec("INSERT INTO wf (id, name) VALUES (1, 'daily'), (2, 'hourly')");
    let data = tempfile::tempdir().unwrap();
    let spec = DatabaseSpec {
        schema: None,
        name: "metadata".into(),
        target: db.target.clone(),
        migrations: vec![Migration::new(
            2,
            "add_owner",
            "ALTER TABLE wf ADD COLUMN owner TEXT",
        )],
        prune: vec![],
    };
    let task = DataUpdateTask {
        name: "backfill_owner".into(),
        blocking: true,
        skippable: true,
        manual_start: false,
        kind: TaskKind::Sql {
            target: db.target.clone(),
            sql: "UPDATE wf SET owner = 'ops' WHERE owner IS NULL".into(),
        },
    };
    let m = Metadb::new(data.path(), vec![spec], vec![task]).unwrap();

    let first = m.backup("metadata", "u1").await.unwrap();
    assert!(first.size > 0);
    let modified = std::fs::metadata(&first.file).unwrap().modified().unwrap();
    let again = m.backup("metadata", "u1").await.unwrap();
    assert_eq!(
        again, first,
        "the same upgrade's backup is found, not taken again"
    );
    assert_eq!(
        std::fs::metadata(&again.file).unwrap().modified().unwrap(),
        modified
    );
    let err = m.backup("nope", "u1").await.unwrap_err();
    assert_eq!(err.to_string(), "no metadata database `nope` in the bundle");

    m.dry_run("metadata").await.unwrap();
    assert!(
        db.exec("SELECT * FROM wf WHERE id = 1").split('|').count() == 2,
        "dry run changed nothing"
    );
    m.migrate("metadata").await.unwrap();
    m.migrate("metadata").await.unwrap();
    assert_eq!(db.exec("SELECT COUNT(*) FROM wf WHERE owner IS NULL"), "2");

    assert_eq!(
        m.run_data_update("backfill_owner", "u1:backfill_owner:1")
            .await
            .unwrap(),
        TaskRun::Succeeded
    );
    assert_eq!(db.exec("SELECT COUNT(*) FROM wf WHERE owner = 'ops'"), "2");
    // the same run id again (a resume after a crash) runs nothing
    db.exec("UPDATE wf SET owner = NULL");
    assert_eq!(
        m.run_data_update("backfill_owner", "u1:backfill_owner:1")
            .await
            .unwrap(),
        TaskRun::Succeeded
    );
    assert_eq!(
        db.exec("SELECT COUNT(*) FROM wf WHERE owner IS NULL"),
        "2",
        "not run twice"
    );

    db.exec("INSERT INTO wf (id, name, owner) VALUES (3, 'after', 'x')");
    m.restore("metadata", "u1").await.unwrap();
    assert_eq!(db.exec("SELECT COUNT(*) FROM wf"), "2", "rows as backed up");
    let columns = match db.postgres {
        Some(_) => db.exec("SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'wf' AND column_name = 'owner'"),
        None => db.exec("SELECT COUNT(*) FROM pragma_table_info('wf') WHERE name = 'owner'"),
    };
    assert_eq!(columns, "0", "schema as backed up, before the migration");
    let err = m.restore("metadata", "u-none").await.unwrap_err();
    assert!(err.to_string().contains("u-none"), "{err}");
}

#[tokio::test]
async fn metadb_adapter_on_sqlite() {
    lifecycle(TestDb::sqlite()).await;
}

#[tokio::test]
async fn metadb_adapter_on_postgres() {
    lifecycle(TestDb::postgres()).await;
}
