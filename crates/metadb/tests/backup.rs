use std::path::Path;

use anyhow::Result;
use changeover_metadb::{
    BackupRequest, BackupSession, BackupSet, BackupStatus, DumpOptions, Engine, Error, Manifest,
    PgFormat, PruneStatement, REPLACED_PREFIX, RESTORE_PREFIX, backup_dir, finish_background_drops,
    list_backups, restore, restore_set, table_checksums, verify,
};

use crate::common::{ENGINES, TestDb};

async fn backup_one(
    db: &TestDb,
    data_dir: &Path,
    prune: Vec<PruneStatement>,
) -> Result<(std::path::PathBuf, Manifest)> {
    let dir = backup_dir(data_dir, Some("up-1"))?;
    let mut req = BackupRequest::new("metadata", db.target.clone());
    req.prune = prune;
    let session = BackupSession::new(&dir, Some("up-1"), vec![req])?;
    session.start_all();
    session.wait().await;
    let items = session.items();
    assert_eq!(items[0].status, BackupStatus::Complete, "{:?}", items[0]);
    let m = items[0].manifest.clone().expect("manifest");
    Ok((dir, m))
}

#[tokio::test]
async fn backup_destroy_restore_gives_identical_checksums() -> Result<()> {
    for engine in ENGINES {
        let db = TestDb::new(engine);
        if engine == Engine::Mysql {
            db.exec(&format!(
                "ALTER DATABASE {} CHARACTER SET latin1 COLLATE latin1_swedish_ci",
                db.target.database
            ));
        }
        db.seed();
        let before = table_checksums(&db.target).await?;
        assert_eq!(before.len(), 2, "{engine}: {before:?}");
        assert!(before.iter().any(|t| t.rows == 500));
        let (dir, m) = backup_one(&db, db.dir.path(), vec![]).await?;
        assert!(m.size_bytes > 0 && m.sha256.len() == 64, "{m:?}");
        assert_eq!(m.upgrade_id.as_deref(), Some("up-1"));
        assert!(!m.server_version.is_empty() && !m.tool_version.is_empty());
        assert_eq!(BackupSet::read(&dir)?.get("metadata"), Some(&m));

        db.exec("DELETE FROM job WHERE id > 10; DROP TABLE heartbeat;");
        assert_ne!(table_checksums(&db.target).await?, before);
        restore(&dir, &m, &db.target, &DumpOptions::default()).await?;
        assert_eq!(
            table_checksums(&db.target).await?,
            before,
            "{engine}: restore differs"
        );
        if engine == Engine::Mysql {
            let cs = db.query("SELECT default_collation_name FROM information_schema.schemata WHERE schema_name = DATABASE()");
            assert_eq!(
                cs, "latin1_swedish_ci",
                "the database keeps its character set"
            );
        }

        let report = verify(&dir, &m, &db.target, &DumpOptions::default()).await?;
        assert!(report.ok(), "{engine}: {:?}", report.differences());
        assert_eq!(report.tables.len(), 2);
        db.exec("UPDATE job SET name = 'changed' WHERE id = 7");
        let report = verify(&dir, &m, &db.target, &DumpOptions::default()).await?;
        let diffs = report.differences();
        assert!(
            diffs.len() == 1 && diffs[0].contains("job"),
            "{engine}: {diffs:?}"
        );
        assert_eq!(list_backups(&db.dir.path().join("backups"))?.len(), 1);
    }
    Ok(())
}

#[tokio::test]
async fn verify_drops_its_scratch_database() -> Result<()> {
    for engine in [Engine::Postgres, Engine::Mysql] {
        let db = TestDb::new(engine);
        db.seed();
        let (dir, m) = backup_one(&db, db.dir.path(), vec![]).await?;
        let list = |db: &TestDb| {
            match engine {
            Engine::Postgres => crate::common::psql_admin("SELECT datname FROM pg_database WHERE datname LIKE 'changeover_verify_%'"),
            _ => crate::common::mariadb_admin("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'changeover_verify_%'"),
        }
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty() && !l.contains(&db.target.database))
        .collect::<Vec<_>>()
        };
        let before = list(&db);
        verify(&dir, &m, &db.target, &DumpOptions::default()).await?;
        let after = list(&db);
        assert!(
            after.iter().all(|n| before.contains(n)),
            "{engine}: scratch left behind: {after:?}"
        );
    }
    Ok(())
}

/// Adds a marker row after the backup: a restore that touched the target would remove it.
async fn assert_refused_untouched(
    db: &TestDb,
    dir: &Path,
    m: &Manifest,
    expect: &str,
) -> Result<()> {
    let before = table_checksums(&db.target).await?;
    let err = restore(dir, m, &db.target, &DumpOptions::default())
        .await
        .expect_err("restore must refuse");
    // A PostgreSQL dump that fails to load part-way is caught by the restore into a
    // scratch database, before the target is touched; every other case by the checks.
    assert!(
        matches!(err, Error::DumpInvalid { .. } | Error::RestoreFailed { .. }),
        "{err}"
    );
    assert_eq!(
        matches!(err, Error::RestoreFailed { .. }),
        expect.contains("was not touched"),
        "{err}"
    );
    assert!(
        err.to_string().contains(expect),
        "{}: `{err}` lacks `{expect}`",
        db.engine()
    );
    assert_eq!(
        table_checksums(&db.target).await?,
        before,
        "target was touched"
    );
    assert_eq!(db.query("SELECT name FROM job WHERE id = 100000"), "marker");
    Ok(())
}

#[tokio::test]
async fn altered_or_truncated_dump_is_refused_before_touching_the_target() -> Result<()> {
    for engine in ENGINES {
        let db = TestDb::new(engine);
        db.seed();
        let (dir, m) = backup_one(&db, db.dir.path(), vec![]).await?;
        db.exec("INSERT INTO job (id, name) VALUES (100000, 'marker')");
        let file = dir.join(&m.file);
        let original = std::fs::read(&file)?;

        // One byte altered: the checksum catches it.
        let mut altered = original.clone();
        let mid = altered.len() / 2;
        altered[mid] ^= 0x55;
        std::fs::write(&file, &altered)?;
        assert_refused_untouched(&db, &dir, &m, "differs from the manifest").await?;

        // Truncated: the size catches it.
        std::fs::write(&file, &original[..original.len() * 2 / 3])?;
        assert_refused_untouched(&db, &dir, &m, "truncated or altered").await?;

        // Truncated and the manifest "fixed" to match: the structural check catches it.
        let cut = &original[..original.len() * 2 / 3];
        std::fs::write(&file, cut)?;
        let mut forged = m.clone();
        forged.size_bytes = cut.len() as u64;
        forged.sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cut));
        let expect = match engine {
            Engine::Postgres => "was not touched: pg_restore failed",
            Engine::Mysql => "Dump completed",
            Engine::Sqlite => "SQLite",
        };
        assert_refused_untouched(&db, &dir, &forged, expect).await?;

        // Empty.
        std::fs::write(&file, b"")?;
        let mut empty = m.clone();
        empty.size_bytes = 0;
        assert_refused_untouched(&db, &dir, &empty, "empty").await?;
    }
    Ok(())
}

#[tokio::test]
async fn prune_runs_before_the_dump_and_is_recorded() -> Result<()> {
    for engine in ENGINES {
        let db = TestDb::new(engine);
        db.seed();
        let prune = vec![PruneStatement {
            name: "old-heartbeats".into(),
            sql: "DELETE FROM heartbeat WHERE beat < (SELECT m FROM (SELECT MAX(beat) AS m FROM heartbeat) x)".into(),
        }];
        let (_dir, m) = backup_one(&db, db.dir.path(), prune).await?;
        assert_eq!(m.pruned.len(), 1);
        assert_eq!(m.pruned[0].rows_deleted, 299, "{engine}");
        assert_eq!(db.query("SELECT COUNT(*) FROM heartbeat"), "1");
    }
    Ok(())
}

#[tokio::test]
async fn failed_backup_is_reported_and_can_be_rebacked_up() -> Result<()> {
    let good = TestDb::new(Engine::Postgres);
    good.seed();
    let missing = good
        .target
        .with_database(&crate::common::random_name("metadb_absent"));
    let dir = backup_dir(good.dir.path(), None)?;
    let session = BackupSession::new(
        &dir,
        None,
        vec![
            BackupRequest::new("good", good.target.clone()),
            BackupRequest::new("bad", missing.clone()),
        ],
    )?;
    session.start_all();
    session.wait().await;
    let items = session.items();
    assert_eq!(items[0].status, BackupStatus::Complete);
    assert_eq!(items[1].status, BackupStatus::Failed);
    assert!(
        items[1]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("does not exist"),
        "{:?}",
        items[1].error
    );
    assert!(!dir.join("bad.dump").exists() && !dir.join("bad.dump.partial").exists());
    let log = std::fs::read_to_string(dir.join("bad.log"))?;
    assert!(
        log.contains("error: cannot connect") && log.contains("does not exist"),
        "{log}"
    );
    let log = std::fs::read_to_string(dir.join("good.log"))?;
    assert!(log.contains("backup complete"), "{log}");
    // Re-backup the failed one after the database appears.
    crate::common::psql_admin(&format!("CREATE DATABASE {}", missing.database));
    let _drop = DropPg(missing.database.clone());
    session.start("bad")?;
    session.wait().await;
    assert_eq!(session.items()[1].status, BackupStatus::Complete);
    assert!(session.all_complete());
    assert_eq!(BackupSet::read(&dir)?.databases.len(), 2);
    Ok(())
}

struct DropPg(String);
impl Drop for DropPg {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0))
            .output();
    }
}

#[tokio::test]
async fn force_stop_one_backup_while_the_other_completes() -> Result<()> {
    let big = TestDb::new(Engine::Postgres);
    // Enough data that the dump takes a while: ~60 MB of incompressible text.
    big.exec("CREATE TABLE blob AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS v FROM generate_series(1, 600000) g");
    let small = TestDb::new(Engine::Sqlite);
    small.seed();
    let dir = backup_dir(big.dir.path(), Some("up-stop"))?;
    let session = BackupSession::new(
        &dir,
        Some("up-stop"),
        vec![
            BackupRequest::new("big", big.target.clone()),
            BackupRequest::new("small", small.target.clone()),
        ],
    )?;
    session.start_all();
    // Stop "big" as soon as it is dumping.
    let item = session.item("big")?;
    for _ in 0..2000 {
        if item.status() == BackupStatus::BackingUp {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    session.stop("big")?;
    session.wait().await;
    let items = session.items();
    assert_eq!(
        items[0].status,
        BackupStatus::Stopped,
        "{:?}",
        items[0].error
    );
    assert_eq!(items[1].status, BackupStatus::Complete);
    assert!(!dir.join("big.dump").exists());
    let set = BackupSet::read(&dir)?;
    assert!(set.get("big").is_none() && set.get("small").is_some());
    assert!(session.start("nope").is_err());
    Ok(())
}

#[tokio::test]
async fn restore_set_checks_every_backup_before_touching_any_database() -> Result<()> {
    let pg = TestDb::new(Engine::Postgres);
    let my = TestDb::new(Engine::Mysql);
    pg.seed();
    my.seed();
    let dir = backup_dir(pg.dir.path(), Some("up-set"))?;
    let reqs = vec![
        BackupRequest::new("pg", pg.target.clone()),
        BackupRequest::new("my", my.target.clone()),
    ];
    let session = BackupSession::new(&dir, Some("up-set"), reqs.clone())?;
    session.start_all();
    session.wait().await;
    assert!(session.all_complete());
    let before = (
        table_checksums(&pg.target).await?,
        table_checksums(&my.target).await?,
    );

    // A new session on the same directory resumes: both are already complete.
    let resumed = BackupSession::new(&dir, Some("up-set"), reqs)?;
    assert!(resumed.all_complete());

    pg.exec("DELETE FROM job");
    my.exec("DELETE FROM job");
    let targets = vec![
        ("pg".to_owned(), pg.target.clone()),
        ("my".to_owned(), my.target.clone()),
    ];
    // Tamper with the second: the first must not be restored either.
    let my_file = dir.join("my.sql");
    let good = std::fs::read(&my_file)?;
    std::fs::write(&my_file, &good[..good.len() / 2])?;
    let err = restore_set(&dir, &targets, &DumpOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DumpInvalid { .. }), "{err}");
    assert_eq!(pg.query("SELECT count(*) FROM job"), "0", "pg was touched");
    std::fs::write(&my_file, &good)?;

    // The PostgreSQL dump cut short with its manifest entry "fixed" to match: it fails to
    // load into its scratch database, and the MySQL database listed first is not restored.
    let pg_file = dir.join("pg.dump");
    let pg_good = std::fs::read(&pg_file)?;
    let cut = &pg_good[..pg_good.len() * 2 / 3];
    std::fs::write(&pg_file, cut)?;
    let mut forged = BackupSet::read(&dir)?
        .get("pg")
        .cloned()
        .expect("pg manifest");
    let pg_manifest = forged.clone();
    forged.size_bytes = cut.len() as u64;
    forged.sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cut));
    BackupSet::record(&dir, &forged)?;
    let reversed = vec![targets[1].clone(), targets[0].clone()];
    let err = restore_set(&dir, &reversed, &DumpOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RestoreFailed { .. }), "{err}");
    assert_eq!(my.query("SELECT count(*) FROM job"), "0", "my was touched");
    assert_eq!(pg.query("SELECT count(*) FROM job"), "0", "pg was touched");
    std::fs::write(&pg_file, &pg_good)?;
    BackupSet::record(&dir, &pg_manifest)?;

    restore_set(&dir, &targets, &DumpOptions::default()).await?;
    assert_eq!(
        (
            table_checksums(&pg.target).await?,
            table_checksums(&my.target).await?
        ),
        before
    );
    let unknown = vec![("nope".to_owned(), pg.target.clone())];
    assert!(
        restore_set(&dir, &unknown, &DumpOptions::default())
            .await
            .unwrap_err()
            .to_string()
            .contains("unknown database in the backup `nope`")
    );
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

#[tokio::test]
async fn directory_dump_with_parallel_jobs_restores_identically_and_is_checked_file_by_file()
-> Result<()> {
    let db = TestDb::new(Engine::Postgres);
    db.seed();
    let before = table_checksums(&db.target).await?;
    let dir = backup_dir(db.dir.path(), Some("up-dir"))?;
    let mut req = BackupRequest::new("metadata", db.target.clone());
    req.options.pg_format = PgFormat::Directory { jobs: 2 };
    let session = BackupSession::new(&dir, Some("up-dir"), vec![req])?;
    session.start_all();
    session.wait().await;
    let item = session.items().remove(0);
    assert_eq!(item.status, BackupStatus::Complete, "{item:?}");
    let m = item.manifest.expect("manifest");
    assert_eq!(m.file, "metadata.dir");
    let path = dir.join(&m.file);
    assert!(path.is_dir() && !dir.join("metadata.dir.partial").exists());
    // Every file is listed with its size and SHA-256: the table of contents and one data
    // file per table.
    let mut on_disk: Vec<String> = std::fs::read_dir(&path)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    on_disk.sort();
    let listed: Vec<String> = m.files.iter().map(|f| f.name.clone()).collect();
    assert_eq!(listed, on_disk);
    assert!(
        listed.contains(&"toc.dat".to_owned()) && listed.len() >= 3,
        "{listed:?}"
    );
    let mut lines = String::new();
    for f in &m.files {
        let bytes = std::fs::read(path.join(&f.name))?;
        assert_eq!(f.size_bytes, bytes.len() as u64, "{}", f.name);
        assert_eq!(f.sha256, sha256_hex(&bytes), "{}", f.name);
        lines.push_str(&format!("{}  {}\n", f.sha256, f.name));
    }
    assert_eq!(m.sha256, sha256_hex(lines.as_bytes()));
    assert_eq!(
        m.size_bytes,
        m.files.iter().map(|f| f.size_bytes).sum::<u64>()
    );
    assert_eq!(BackupSet::read(&dir)?.get("metadata"), Some(&m));

    // Backup -> destroy -> restore (pg_restore -j 2 from the directory).
    db.exec("DELETE FROM job WHERE id > 10; DROP TABLE heartbeat;");
    restore(&dir, &m, &db.target, &DumpOptions::default()).await?;
    assert_eq!(
        table_checksums(&db.target).await?,
        before,
        "restore differs"
    );
    let report = verify(&dir, &m, &db.target, &DumpOptions::default()).await?;
    assert!(report.ok(), "{:?}", report.differences());

    // One data file altered, cut short, removed; a file added: each is refused before the
    // target is touched.
    db.exec("INSERT INTO job (id, name) VALUES (100000, 'marker')");
    let data = m
        .files
        .iter()
        .filter(|f| f.name != "toc.dat")
        .max_by_key(|f| f.size_bytes)
        .expect("a data file");
    let file = path.join(&data.name);
    let original = std::fs::read(&file)?;
    let mut altered = original.clone();
    let mid = altered.len() / 2;
    altered[mid] ^= 0x55;
    std::fs::write(&file, &altered)?;
    let expect = format!("its file `{}` has SHA-256", data.name);
    assert_refused_untouched(&db, &dir, &m, &expect).await?;
    std::fs::write(&file, &original[..mid])?;
    let expect = format!(
        "its file `{}` is {mid} bytes but the manifest says",
        data.name
    );
    assert_refused_untouched(&db, &dir, &m, &expect).await?;
    std::fs::remove_file(&file)?;
    let expect = format!("its file `{}` is missing", data.name);
    assert_refused_untouched(&db, &dir, &m, &expect).await?;
    std::fs::write(&file, &original)?;
    std::fs::write(path.join("extra.dat"), b"x")?;
    assert_refused_untouched(
        &db,
        &dir,
        &m,
        "`extra.dat`, which the manifest does not list",
    )
    .await?;
    std::fs::remove_file(path.join("extra.dat"))?;

    // The table of contents cut short with the manifest "fixed" to match: the restore into
    // the scratch database fails and the target keeps its marker.
    let toc = path.join("toc.dat");
    let toc_bytes = std::fs::read(&toc)?;
    let cut = &toc_bytes[..toc_bytes.len() / 2];
    std::fs::write(&toc, cut)?;
    let mut forged = m.clone();
    for f in &mut forged.files {
        if f.name == "toc.dat" {
            f.size_bytes = cut.len() as u64;
            f.sha256 = sha256_hex(cut);
        }
    }
    forged.size_bytes = forged.files.iter().map(|f| f.size_bytes).sum();
    let lines: String = forged
        .files
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.name))
        .collect();
    forged.sha256 = sha256_hex(lines.as_bytes());
    assert_refused_untouched(&db, &dir, &forged, "pg_restore").await?;
    std::fs::write(&toc, &toc_bytes)?;

    // A manifest whose file list was edited without its SHA-256 is refused too.
    let mut edited = m.clone();
    edited.files[0].sha256 = "0".repeat(64);
    assert_refused_untouched(&db, &dir, &edited, "does not match its own file list").await?;

    // Intact again: it restores.
    restore(&dir, &m, &db.target, &DumpOptions::default()).await?;
    assert_eq!(table_checksums(&db.target).await?, before);
    Ok(())
}

#[tokio::test]
async fn postgres_restore_swaps_in_one_step_ends_open_sessions_and_drops_old_copies() -> Result<()>
{
    let db = TestDb::new(Engine::Postgres);
    db.seed();
    let before = table_checksums(&db.target).await?;
    let (dir, m) = backup_one(&db, db.dir.path(), vec![]).await?;
    let oid = |name: &str| {
        crate::common::psql_admin(&format!(
            "SELECT oid FROM pg_database WHERE datname = '{name}'"
        ))
        .trim()
        .to_owned()
    };
    let old_oid = oid(&db.target.database);

    // An old copy that a crash left behind (named as a restore names the database it
    // replaced): the next restore on the server drops it.
    let leftover = format!("{}{:016x}", REPLACED_PREFIX, rand::random::<u64>());
    crate::common::psql_admin(&format!("CREATE DATABASE {leftover}"));
    // A session that stays connected to the target does not stop the restore.
    let mut idle = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            &db.target.database,
        ])
        .args(["-c", "SELECT pg_sleep(60)"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    for _ in 0..50 {
        let n = crate::common::psql_admin(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE '%pg_sleep%'",
            db.target.database
        ));
        if n.trim() != "0" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    db.exec("DELETE FROM job WHERE id > 10");
    restore(&dir, &m, &db.target, &DumpOptions::default()).await?;
    assert_eq!(table_checksums(&db.target).await?, before);
    // The target is a new database (the scratch renamed into place); the old one is
    // renamed away and dropped in the background, and the session on it was ended.
    assert_ne!(oid(&db.target.database), old_oid);
    let ended = tokio::task::spawn_blocking(move || idle.wait()).await??;
    assert!(!ended.success(), "the idle session was not ended");
    finish_background_drops().await;
    assert_eq!(
        oid(&leftover),
        "",
        "the leftover replaced database is still there"
    );
    let renamed_old = crate::common::psql_admin(&format!(
        "SELECT datname FROM pg_database WHERE oid = {old_oid}"
    ));
    assert_eq!(
        renamed_old.trim(),
        "",
        "the replaced database was not dropped"
    );

    // A backup drops such leftovers too (the next upgrade's backup cleans up after a crash).
    let leftover = format!("{}{:016x}", REPLACED_PREFIX, rand::random::<u64>());
    crate::common::psql_admin(&format!("CREATE DATABASE {leftover}"));
    let fresh = tempfile::tempdir()?;
    backup_one(&db, fresh.path(), vec![]).await?;
    finish_background_drops().await;
    assert_eq!(oid(&leftover), "", "a backup left the replaced database");
    Ok(())
}

/// A restore's scratch database left by a crash (nobody holds its lock) is dropped by the next
/// backup; one whose restore is still running (its lock held) is left alone.
#[tokio::test]
async fn a_crashed_restores_scratch_is_dropped_and_a_running_ones_is_not() -> Result<()> {
    let db = TestDb::new(Engine::Postgres);
    db.seed();
    let exists = |name: &str| {
        crate::common::psql_admin(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
        ))
        .trim()
            == "1"
    };
    // Random high bits keep parallel tests apart; the low 32 bits are the lock's key.
    let high = rand::random::<u32>();
    let (left_key, held_key) = (rand::random::<u32>() >> 1, rand::random::<u32>() >> 1);
    let left = format!("{RESTORE_PREFIX}{high:08x}{left_key:08x}");
    let held = format!("{RESTORE_PREFIX}{high:08x}{held_key:08x}");
    for name in [&left, &held] {
        crate::common::psql_admin(&format!("CREATE DATABASE {name}"));
    }
    // The running restore: an idle session on `postgres` holding the scratch's lock (as the
    // restore's is between its statements; psql waits on its open stdin).
    let mut holder = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    {
        use std::io::Write;
        let stdin = holder.stdin.as_mut().expect("piped stdin");
        writeln!(
            stdin,
            "SELECT pg_advisory_lock({}, {held_key});",
            0x4348_5253
        )?;
        stdin.flush()?;
    }
    // Waits up to 5 s for the lock to be held (or released); whether it came to be.
    let lock_held_becomes = async |held: bool| {
        for _ in 0..50 {
            let n = crate::common::psql_admin(&format!(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {held_key} AND granted"
            ));
            if (n.trim() != "0") == held {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    };
    let locked = lock_held_becomes(true).await;
    let result = async {
        assert!(locked, "the holder session did not take the lock");
        let fresh = tempfile::tempdir()?;
        backup_one(&db, fresh.path(), vec![]).await?;
        finish_background_drops().await;
        assert!(
            !exists(&left),
            "the crashed restore's scratch is still there"
        );
        assert!(exists(&held), "a running restore's scratch was dropped");
        // Its restore ends without cleaning up (a crash): the next backup drops it.
        holder.kill()?;
        holder.wait()?;
        assert!(
            lock_held_becomes(false).await,
            "the killed session kept its lock"
        );
        let again = tempfile::tempdir()?;
        backup_one(&db, again.path(), vec![]).await?;
        finish_background_drops().await;
        assert!(
            !exists(&held),
            "the scratch of the killed restore is still there"
        );
        anyhow::Ok(())
    }
    .await;
    let _ = holder.kill();
    for name in [&left, &held] {
        crate::common::psql_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
    result
}
