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
        dump: Default::default(),
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

/// A bundle's `databases[].dump` reaches the backup: `format: directory` gives a
/// `pg_dump -Fd` directory, which restores (real PostgreSQL).
#[tokio::test]
async fn a_bundle_asking_for_the_directory_format_gets_a_directory_backup_that_restores() {
    use changeover_core::bundle::{self, ValidationContext};
    use changeover_engine::resolve::resolve;
    use changeover_engine::settings::PlatformSettings;
    use changeover_metadb::PgFormat;

    let db = TestDb::postgres();
    db.exec("CREATE TABLE wf (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    db.exec("CREATE TABLE run (id INTEGER PRIMARY KEY, wf INTEGER NOT NULL)");
    db.exec("INSERT INTO wf SELECT g, 'wf' || g FROM generate_series(1, 200) g");
    db.exec("INSERT INTO run SELECT g, g % 200 + 1 FROM generate_series(1, 1000) g");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sample/1.0.0.yaml"
    );
    let text = std::fs::read_to_string(fixture).unwrap();
    assert!(text.contains("    engine: sqlite\n"));
    let text = text.replacen(
        "    engine: sqlite\n",
        "    engine: postgres\n    dump: { format: directory, jobs: 3 }\n",
        1,
    );
    let bundle = bundle::read(text.as_bytes(), "1.0.0.yaml").unwrap();
    let report = bundle.validate(&ValidationContext::default());
    assert!(report.is_ok(), "{report:?}");
    let data = tempfile::tempdir().unwrap();
    let settings = PlatformSettings {
        bin_dir: data.path().join("bin"),
        data_dir: data.path().to_path_buf(),
        contract_url: "http://127.0.0.1:1".into(),
        metadb_url: Some(db.url.clone()),
    };
    let resolved = resolve(&bundle, &settings).unwrap();
    let dump = &resolved.databases[0].dump;
    assert_eq!(dump.pg_format, PgFormat::Directory { jobs: 3 });
    assert_eq!(dump.jobs, 3);
    let m = Metadb::new(data.path(), resolved.databases, vec![]).unwrap();

    let backup = m.backup("metadata", "u-dir").await.unwrap();
    let path = std::path::Path::new(&backup.file);
    assert!(
        path.is_dir() && path.ends_with("metadata.dir"),
        "{}",
        backup.file
    );
    assert!(path.join("toc.dat").is_file());
    // one data file per table, besides the table of contents
    assert!(std::fs::read_dir(path).unwrap().count() >= 3);

    db.exec("DELETE FROM run WHERE id > 10; DROP TABLE wf");
    m.restore("metadata", "u-dir").await.unwrap();
    assert_eq!(db.exec("SELECT COUNT(*) FROM wf"), "200");
    assert_eq!(db.exec("SELECT COUNT(*), SUM(wf) FROM run"), "1000|100500");
}
