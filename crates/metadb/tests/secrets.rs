//! No password in `ps`, logs, manifests or errors during a backup with a
//! password-protected user. Both servers check it: MariaDB always, PostgreSQL because the
//! user is a member of `changeover_pw`, which `scripts/services` makes authenticate with
//! SCRAM (so the dump tools must really get the password, from a file, not the command line).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Result;
use changeover_metadb::{
    BackupRequest, BackupSession, BackupStatus, DbTarget, DumpOptions, Engine, restore, verify,
};

use crate::common::{TestDb, mariadb_admin, psql_admin, random_name};

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;
impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(|| Capture)
            .finish();
        let _ = tracing::subscriber::set_global_default(sub);
    });
}

/// Polls `ps -eo args` until stopped; returns every line that contains `needle`, and
/// whether a dump tool was ever seen.
fn watch_ps(needle: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(Vec<String>, bool)> {
    std::thread::spawn(move || {
        let mut leaks = Vec::new();
        let mut saw_tool = false;
        while !stop.load(Ordering::Relaxed) {
            let out = std::process::Command::new("ps")
                .args(["-eo", "args"])
                .output()
                .expect("ps");
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if line.contains(&needle) {
                    leaks.push(line.to_owned());
                }
                if line.contains("pg_dump")
                    || line.contains("mariadb-dump")
                    || line.contains("pg_restore")
                {
                    saw_tool = true;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        (leaks, saw_tool)
    })
}

struct DropUser(Engine, String);
impl Drop for DropUser {
    fn drop(&mut self) {
        let _ = match self.0 {
            Engine::Postgres => std::process::Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
                .arg(format!("DROP ROLE IF EXISTS {}", self.1))
                .output(),
            _ => std::process::Command::new("mariadb")
                .args(["-h127.0.0.1", "-uroot", "--protocol=tcp", "-e"])
                .arg(format!(
                    "DROP USER IF EXISTS '{0}'@'%', '{0}'@'localhost', '{0}'@'127.0.0.1'",
                    self.1
                ))
                .output(),
        };
    }
}

#[tokio::test]
async fn no_password_in_ps_logs_manifests_or_errors() -> Result<()> {
    capture_logs();
    for engine in [Engine::Postgres, Engine::Mysql] {
        // The role is dropped after the database it owns (drops run in reverse order).
        let user = random_name("metadb_u");
        let _cleanup = DropUser(engine, user.clone());
        let db = TestDb::new(engine);
        // Enough rows that the dump runs for a while, so `ps` sees it.
        match engine {
            Engine::Postgres => db.exec("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 300000) g; ALTER TABLE t ADD PRIMARY KEY (id)"),
            _ => db.exec("CREATE TABLE t (id INT PRIMARY KEY, v CHAR(32)); INSERT INTO t SELECT seq, MD5(seq) FROM seq_1_to_300000"),
        }
        let password = format!("Pw-{}-x:y\"z", random_name("s3cret"));
        let sql_pw = password.replace('\'', "''");
        match engine {
            Engine::Postgres => {
                psql_admin(&format!(
                    "CREATE ROLE {user} LOGIN CREATEDB PASSWORD '{sql_pw}' IN ROLE changeover_pw"
                ));
                psql_admin(&format!(
                    "ALTER DATABASE {} OWNER TO {user}",
                    db.target.database
                ));
                db.exec(&format!("ALTER TABLE t OWNER TO {user}"));
            }
            _ => {
                for host in ["%", "localhost", "127.0.0.1"] {
                    mariadb_admin(&format!(
                        "CREATE USER '{user}'@'{host}' IDENTIFIED BY '{sql_pw}'"
                    ));
                    mariadb_admin(&format!("GRANT ALL PRIVILEGES ON *.* TO '{user}'@'{host}'"));
                }
            }
        }
        let enc = url::form_urlencoded::byte_serialize(password.as_bytes()).collect::<String>();
        let port = if engine == Engine::Postgres {
            5432
        } else {
            3306
        };
        let url = format!(
            "{engine}://{user}:{enc}@127.0.0.1:{port}/{}",
            db.target.database
        );
        let target = DbTarget::parse(&url)?;
        assert_eq!(
            target.password.as_ref().map(|p| p.expose()),
            Some(password.as_str())
        );

        let stop = Arc::new(AtomicBool::new(false));
        let ps = watch_ps(password.clone(), Arc::clone(&stop));
        let dir = db.dir.path().join("backups").join("b1");
        let session =
            BackupSession::new(&dir, None, vec![BackupRequest::new("meta", target.clone())])?;
        session.start_all();
        session.wait().await;
        let item = session.items().remove(0);
        assert_eq!(
            item.status,
            BackupStatus::Complete,
            "{engine}: {:?}",
            item.error
        );
        let m = item.manifest.clone().expect("manifest");
        restore(&dir, &m, &target, &DumpOptions::default()).await?;
        if engine == Engine::Postgres {
            // Restored by the superuser, the database and its tables keep their owner.
            restore(&dir, &m, &db.target, &DumpOptions::default()).await?;
            let owner = psql_admin(&format!(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{}'",
                db.target.database
            ));
            assert_eq!(owner.trim(), user);
            assert_eq!(
                db.query("SELECT tableowner FROM pg_tables WHERE tablename = 't'"),
                user
            );
        }
        let report = verify(&dir, &m, &target, &DumpOptions::default()).await?;
        assert!(report.ok());
        // An error with the password in the URL: the message must not carry it.
        let bad = target.with_database(&random_name("metadb_missing"));
        let failing = BackupSession::new(
            &db.dir.path().join("b2"),
            None,
            vec![BackupRequest::new("x", bad.clone())],
        )?;
        failing.start_all();
        failing.wait().await;
        let failed = failing.items().remove(0);
        assert_eq!(failed.status, BackupStatus::Failed);
        // A wrong password is refused by the server (so the right one above really was
        // given to the tools), and the error carries neither.
        let wrong = format!("{password}-wrong");
        let wrong_enc = url::form_urlencoded::byte_serialize(wrong.as_bytes()).collect::<String>();
        let wrong_target = DbTarget::parse(&url.replacen(&enc, &wrong_enc, 1))?;
        let refused = BackupSession::new(
            &db.dir.path().join("b3"),
            None,
            vec![BackupRequest::new("x", wrong_target)],
        )?;
        refused.start_all();
        refused.wait().await;
        let refused = refused.items().remove(0);
        assert_eq!(
            refused.status,
            BackupStatus::Failed,
            "{engine}: a wrong password was accepted"
        );
        let refused_err = refused.error.unwrap_or_default();
        assert!(
            !refused_err.contains(&wrong) && !refused_err.contains(&password),
            "{refused_err}"
        );
        stop.store(true, Ordering::Relaxed);
        let (leaks, saw_tool) = ps.join().expect("ps thread");

        assert!(
            leaks.is_empty(),
            "{engine}: password visible in ps: {leaks:?}"
        );
        assert!(
            saw_tool,
            "{engine}: the ps watcher never saw the dump tool running"
        );
        let log_file = std::fs::read_to_string(dir.join("meta.log"))?;
        assert!(
            log_file.contains("backup complete") && !log_file.contains(&password),
            "{log_file}"
        );
        let manifest_text = std::fs::read_to_string(dir.join("manifest.json"))?;
        assert!(
            !manifest_text.contains(&password) && manifest_text.contains(":***@"),
            "{manifest_text}"
        );
        let err = failed.error.unwrap_or_default();
        assert!(!err.is_empty() && !err.contains(&password), "{err}");
        for line in item.log.iter().chain(failed.log.iter()) {
            assert!(!line.contains(&password), "{line}");
        }
        assert!(!format!("{target:?} {target} {item:?}").contains(&password));
        let logs =
            String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
        assert!(!logs.is_empty(), "logs were captured");
        assert!(!logs.contains(&password), "{engine}: password in logs");
        let _ = session;
    }
    Ok(())
}
