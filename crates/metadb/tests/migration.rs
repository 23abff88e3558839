use std::time::Duration;

use anyhow::Result;
use changeover_metadb::{
    DbTarget, Engine, Error, MigrateOptions, Migration, dry_run, history, migrate, pending,
};

use crate::common::{ENGINES, TestDb};

fn list(engine: Engine) -> Vec<Migration> {
    let int = if engine == Engine::Mysql {
        "INT"
    } else {
        "INTEGER"
    };
    vec![
        Migration::new(
            1,
            "create_job",
            format!("CREATE TABLE job (id {int} PRIMARY KEY, name VARCHAR(50) NOT NULL)"),
        ),
        Migration::new(
            2,
            "add_owner",
            "ALTER TABLE job ADD COLUMN owner VARCHAR(50)",
        ),
        Migration::new(
            3,
            "seed_jobs",
            "INSERT INTO job (id, name, owner) VALUES (1, 'a', 'x'); INSERT INTO job (id, name) VALUES (2, 'b')",
        ),
    ]
}

fn has_table(db: &TestDb, table: &str) -> bool {
    let sql = match db.engine() {
        Engine::Postgres => {
            format!("SELECT count(*) FROM information_schema.tables WHERE table_name = '{table}'")
        }
        Engine::Mysql => format!(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"
        ),
        Engine::Sqlite => format!("SELECT count(*) FROM sqlite_master WHERE name = '{table}'"),
    };
    db.query(&sql) != "0"
}

#[tokio::test]
async fn applies_in_order_records_history_and_is_idempotent() -> Result<()> {
    for engine in ENGINES {
        let db = TestDb::new(engine);
        let opts = MigrateOptions::default();
        let r = migrate(&db.target, &list(engine)[..2], &opts).await?;
        assert_eq!(
            r.applied.iter().map(|a| a.version).collect::<Vec<_>>(),
            vec![1, 2]
        );
        let r = migrate(&db.target, &list(engine), &opts).await?;
        assert_eq!(
            r.applied.iter().map(|a| a.version).collect::<Vec<_>>(),
            vec![3],
            "{engine}"
        );
        assert_eq!(r.already_applied, vec![1, 2]);
        let h = history(&db.target).await?;
        assert_eq!(
            h.iter()
                .map(|e| (e.version, e.name.as_str(), e.success))
                .collect::<Vec<_>>(),
            vec![
                (1, "create_job", true),
                (2, "add_owner", true),
                (3, "seed_jobs", true)
            ]
        );
        assert_eq!(h[1].checksum, list(engine)[1].checksum());
        assert!(h[0].applied_at.ends_with('Z'));
        assert_eq!(db.query("SELECT count(*) FROM job"), "2");
        let r = migrate(&db.target, &list(engine), &opts).await?;
        assert!(r.applied.is_empty());
        assert!(pending(&db.target, &list(engine)).await?.is_empty());
    }
    Ok(())
}

#[tokio::test]
async fn a_changed_applied_migration_is_an_error_naming_it() -> Result<()> {
    for engine in ENGINES {
        let db = TestDb::new(engine);
        migrate(&db.target, &list(engine), &MigrateOptions::default()).await?;
        let mut changed = list(engine);
        changed[1].sql = "ALTER TABLE job ADD COLUMN owner VARCHAR(80)".into();
        changed.push(Migration::new(4, "later", "CREATE TABLE later (x INT)"));
        let err = migrate(&db.target, &changed, &MigrateOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::MigrationChanged { version: 2, .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("V2") && msg.contains("add_owner"), "{msg}");
        assert!(
            !has_table(&db, "later"),
            "{engine}: nothing after the error"
        );
        assert!(matches!(
            pending(&db.target, &changed).await,
            Err(Error::MigrationChanged { .. })
        ));
        assert!(matches!(
            dry_run(&db.target, &changed, &MigrateOptions::default()).await,
            Err(Error::MigrationChanged { .. })
        ));
    }
    Ok(())
}

#[tokio::test]
async fn a_failing_migration_is_not_recorded_and_rolled_back_where_transactional() -> Result<()> {
    for engine in ENGINES {
        let db = TestDb::new(engine);
        let mut ms = list(engine);
        ms.push(Migration::new(
            4,
            "half_broken",
            "CREATE TABLE audit (x INT); INSERT INTO no_such_table VALUES (1)",
        ));
        let err = migrate(&db.target, &ms, &MigrateOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::MigrationFailed { version: 4, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("half_broken"));
        let versions: Vec<i64> = history(&db.target)
            .await?
            .iter()
            .map(|h| h.version)
            .collect();
        assert_eq!(versions, vec![1, 2, 3], "{engine}");
        if engine != Engine::Mysql {
            assert!(
                !has_table(&db, "audit"),
                "{engine}: schema must be unchanged"
            );
        }
        // Fixed, it applies.
        ms[3].sql = "CREATE TABLE audit2 (x INT)".into();
        let r = migrate(&db.target, &ms, &MigrateOptions::default()).await?;
        assert_eq!(r.applied.len(), 1);
    }
    Ok(())
}

#[tokio::test]
async fn dry_run_leaves_no_trace() -> Result<()> {
    for engine in ENGINES {
        let db = TestDb::new(engine);
        migrate(&db.target, &list(engine)[..1], &MigrateOptions::default()).await?;
        let r = dry_run(&db.target, &list(engine), &MigrateOptions::default()).await?;
        assert!(r.dry_run);
        assert_eq!(
            r.applied.iter().map(|a| a.version).collect::<Vec<_>>(),
            vec![2, 3],
            "{engine}"
        );
        assert_eq!(history(&db.target).await?.len(), 1);
        assert_eq!(db.query("SELECT count(*) FROM job"), "0");
        assert_eq!(pending(&db.target, &list(engine)).await?.len(), 2);
        // A broken pending migration is reported by the dry-run, still without trace.
        let mut broken = list(engine);
        broken[2].sql = "INSERT INTO job (id, nope) VALUES (1, 2)".into();
        let err = dry_run(&db.target, &broken, &MigrateOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::MigrationFailed { version: 3, .. }),
            "{err}"
        );
        assert_eq!(history(&db.target).await?.len(), 1);
        // On a database never migrated, not even the history table is created.
        let fresh = TestDb::new(engine);
        dry_run(&fresh.target, &list(engine), &MigrateOptions::default()).await?;
        assert!(!has_table(&fresh, "changeover_schema_history"), "{engine}");
        assert!(!has_table(&fresh, "job"), "{engine}");
        if engine != Engine::Sqlite {
            let left = match engine {
                Engine::Postgres => crate::common::psql_admin(
                    "SELECT count(*) FROM pg_database WHERE datname LIKE 'changeover_dryrun_%'",
                ),
                _ => crate::common::mariadb_admin(
                    "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'changeover_dryrun_%'",
                ),
            };
            assert_eq!(
                left.trim(),
                "0",
                "{engine}: the scratch schema copy must be dropped"
            );
        }
    }
    Ok(())
}

fn counting(engine: Engine) -> Vec<Migration> {
    let sleep = match engine {
        Engine::Postgres => "SELECT pg_sleep(0.3)",
        Engine::Mysql => "DO SLEEP(0.3)",
        Engine::Sqlite => "SELECT 1",
    };
    vec![
        Migration::new(1, "create_counter", "CREATE TABLE counter (n INT)"),
        Migration::new(
            2,
            "count_once",
            format!("{sleep}; INSERT INTO counter VALUES (1)"),
        ),
        Migration::new(
            3,
            "count_again",
            format!("{sleep}; INSERT INTO counter VALUES (1)"),
        ),
    ]
}

#[tokio::test]
async fn two_racing_runners_never_double_apply() -> Result<()> {
    for engine in ENGINES {
        let db = TestDb::new(engine);
        let ms = counting(engine);
        let run = |t: DbTarget, ms: Vec<Migration>| {
            tokio::spawn(async move { migrate(&t, &ms, &MigrateOptions::default()).await })
        };
        let (a, b) = (
            run(db.target.clone(), ms.clone()),
            run(db.target.clone(), ms.clone()),
        );
        let (a, b) = (a.await??, b.await??);
        let mut all: Vec<i64> = a
            .applied
            .iter()
            .chain(b.applied.iter())
            .map(|m| m.version)
            .collect();
        all.sort();
        assert_eq!(
            all,
            vec![1, 2, 3],
            "{engine}: each migration applied exactly once"
        );
        assert_eq!(db.query("SELECT count(*) FROM counter"), "2");
        assert_eq!(history(&db.target).await?.len(), 3);
    }
    Ok(())
}

#[tokio::test]
async fn a_runner_that_cannot_get_the_lock_names_the_holder() -> Result<()> {
    for engine in [Engine::Postgres, Engine::Mysql] {
        let db = TestDb::new(engine);
        let slow = vec![Migration::new(
            1,
            "slow",
            match engine {
                Engine::Postgres => "SELECT pg_sleep(2)",
                _ => "DO SLEEP(2)",
            },
        )];
        let t = db.target.clone();
        let s = slow.clone();
        let first = tokio::spawn(async move { migrate(&t, &s, &MigrateOptions::default()).await });
        // Wait until the first runner holds the lock (never a fixed sleep: the machine is shared).
        let held = match engine {
            Engine::Postgres => format!(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = {} AND objid = 1 \
                 AND database = (SELECT oid FROM pg_database WHERE datname = '{}')",
                0x4348_474F_u32, db.target.database
            ),
            _ => format!(
                "SELECT IS_USED_LOCK('changeover_migrate:{}') IS NOT NULL",
                db.target.database
            ),
        };
        let mut waited = 0;
        while db.query(&held) != "1" {
            assert!(
                waited < 1000,
                "{engine}: the first runner never took the lock"
            );
            waited += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let impatient = MigrateOptions {
            lock_timeout: Duration::from_millis(200),
        };
        let err = migrate(&db.target, &slow, &impatient).await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::LockBusy { .. }), "{engine}: {msg}");
        let expect = if engine == Engine::Postgres {
            "pid "
        } else {
            "connection "
        };
        assert!(
            msg.contains(expect) && msg.contains("held by"),
            "{engine}: {msg}"
        );
        assert_eq!(first.await??.applied.len(), 1);
        assert_eq!(history(&db.target).await?.len(), 1);
    }
    Ok(())
}

#[tokio::test]
async fn a_bad_migration_list_is_refused() -> Result<()> {
    let db = TestDb::new(Engine::Sqlite);
    let ms = vec![
        Migration::new(2, "b", "SELECT 1"),
        Migration::new(1, "a", "SELECT 1"),
    ];
    let err = migrate(&db.target, &ms, &MigrateOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("versions must increase"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_crash_between_migration_and_record_never_leaves_it_half_recorded() -> Result<()> {
    for engine in ENGINES {
        let db = TestDb::new(engine);
        let ms = list(engine);
        migrate(&db.target, &ms[..1], &MigrateOptions::default()).await?;
        let point = format!(
            "{}:{}",
            changeover_metadb::CRASH_BEFORE_RECORD,
            db.target.database
        );
        fail::cfg(&point, "return").map_err(anyhow::Error::msg)?;
        let err = migrate(&db.target, &ms, &MigrateOptions::default())
            .await
            .unwrap_err();
        fail::remove(&point);
        assert!(err.to_string().contains("crash point"), "{err}");
        assert_eq!(
            history(&db.target).await?.len(),
            1,
            "{engine}: nothing recorded"
        );
        if engine == Engine::Mysql {
            // DDL auto-commits: the column exists but is not recorded; the rerun names it.
            let err = migrate(&db.target, &ms, &MigrateOptions::default())
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::MigrationFailed { version: 2, .. }),
                "{err}"
            );
        } else {
            // Rolled back with the connection: the rerun applies it exactly once.
            let r = migrate(&db.target, &ms, &MigrateOptions::default()).await?;
            assert_eq!(
                r.applied.iter().map(|a| a.version).collect::<Vec<_>>(),
                vec![2, 3],
                "{engine}"
            );
            assert_eq!(db.query("SELECT count(*) FROM job"), "2");
        }
    }
    Ok(())
}
