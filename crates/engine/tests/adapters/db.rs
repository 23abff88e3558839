//! A fresh database per test on the machine's PostgreSQL or MariaDB, or a SQLite file,
//! dropped on drop.

use std::process::Command;

use changeover_metadb::DbTarget;

pub struct TestDb {
    pub target: DbTarget,
    pub url: String,
    pub postgres: Option<String>,
    /// The database's name on the machine's MariaDB (127.0.0.1:3306, root).
    pub mariadb: Option<String>,
    pub dir: tempfile::TempDir,
}

fn mariadb(db: &str, sql: &str) -> String {
    run(Command::new("mariadb").args([
        "-h127.0.0.1",
        "-uroot",
        "--protocol=tcp",
        "-N",
        "-B",
        db,
        "-e",
        sql,
    ]))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run the database client");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn psql(db: &str, sql: &str) -> String {
    run(Command::new("psql").args([
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-qAt",
        "-d",
        db,
        "-c",
        sql,
    ]))
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("meta.db").display());
        run(Command::new("sqlite3")
            .arg(dir.path().join("meta.db"))
            .arg("PRAGMA journal_mode=WAL;"));
        Self {
            target: DbTarget::parse(&url).unwrap(),
            url,
            postgres: None,
            mariadb: None,
            dir,
        }
    }

    pub fn postgres() -> Self {
        let name = format!("engine_t_{:012x}", rand_name());
        psql("postgres", &format!("CREATE DATABASE {name}"));
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        Self {
            target: DbTarget::parse(&url).unwrap(),
            url,
            postgres: Some(name),
            mariadb: None,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn mariadb() -> Self {
        let name = format!("engine_t_{:012x}", rand_name());
        mariadb("mysql", &format!("CREATE DATABASE {name}"));
        let url = format!("mysql://root@127.0.0.1:3306/{name}");
        Self {
            target: DbTarget::parse(&url).unwrap(),
            url,
            postgres: None,
            mariadb: Some(name),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn exec(&self, sql: &str) -> String {
        if let Some(name) = &self.mariadb {
            return mariadb(name, sql);
        }
        match &self.postgres {
            Some(name) => psql(name, sql),
            None => run(Command::new("sqlite3")
                .arg(self.dir.path().join("meta.db"))
                .arg(sql)),
        }
    }
}

fn rand_name() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    (nanos ^ (u64::from(std::process::id()) << 20)) & 0xffff_ffff_ffff
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.postgres {
            let _ = Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-qAt",
                    "-d",
                    "postgres",
                    "-c",
                ])
                .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .output();
        }
        if let Some(name) = &self.mariadb {
            let _ = Command::new("mariadb")
                .args(["-h127.0.0.1", "-uroot", "--protocol=tcp", "-e"])
                .arg(format!("DROP DATABASE IF EXISTS {name}"))
                .output();
        }
    }
}
