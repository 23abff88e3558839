//! Fixtures: a fresh database per test on the machine's PostgreSQL, MariaDB or SQLite,
//! dropped when the fixture is dropped (even when the test panics).

use std::path::PathBuf;
use std::process::Command;

use changeover_metadb::{DbTarget, Engine};

pub const ENGINES: [Engine; 3] = [Engine::Postgres, Engine::Mysql, Engine::Sqlite];

pub fn random_name(prefix: &str) -> String {
    format!("{prefix}_{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// A fresh database, dropped on drop.
pub struct TestDb {
    pub target: DbTarget,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub fn new(engine: Engine) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let name = random_name("metadb_t");
        let url = match engine {
            Engine::Postgres => {
                psql_admin(&format!("CREATE DATABASE {name}"));
                format!("postgres://postgres@127.0.0.1:5432/{name}")
            }
            Engine::Mysql => {
                mariadb_admin(&format!("CREATE DATABASE {name}"));
                format!("mysql://root@127.0.0.1:3306/{name}")
            }
            Engine::Sqlite => {
                let p = dir.path().join(format!("{name}.db"));
                sqlite(&p, "PRAGMA journal_mode=WAL;");
                format!("sqlite://{}", p.display())
            }
        };
        let target = DbTarget::parse(&url).expect("test url");
        Self { target, dir }
    }

    pub fn engine(&self) -> Engine {
        self.target.engine
    }

    /// Runs SQL with the engine's command-line client; panics on failure.
    pub fn exec(&self, sql: &str) {
        match self.engine() {
            Engine::Postgres => run_ok(Command::new("psql").args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-d",
                &self.target.database,
                "-c",
                sql,
            ])),
            Engine::Mysql => run_ok(Command::new("mariadb").args([
                "-h127.0.0.1",
                "-uroot",
                "--protocol=tcp",
                "-N",
                &self.target.database,
                "-e",
                sql,
            ])),
            Engine::Sqlite => sqlite(&PathBuf::from(&self.target.database), sql),
        };
    }

    /// First column of the query's output lines.
    pub fn query(&self, sql: &str) -> String {
        let out = match self.engine() {
            Engine::Postgres => run_ok(Command::new("psql").args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-d",
                &self.target.database,
                "-c",
                sql,
            ])),
            Engine::Mysql => run_ok(Command::new("mariadb").args([
                "-h127.0.0.1",
                "-uroot",
                "--protocol=tcp",
                "-N",
                "-B",
                &self.target.database,
                "-e",
                sql,
            ])),
            Engine::Sqlite => sqlite(&PathBuf::from(&self.target.database), sql),
        };
        out.trim().to_owned()
    }

    /// A sample schema: a table with a primary key and varied types, and a table without.
    pub fn seed(&self) {
        let ddl = match self.engine() {
            Engine::Postgres => {
                "CREATE TABLE job (id BIGINT PRIMARY KEY, name TEXT NOT NULL, owner TEXT, score DOUBLE PRECISION, \
                 created TIMESTAMPTZ DEFAULT now(), payload BYTEA); \
                 CREATE TABLE heartbeat (host TEXT, beat INT); \
                 INSERT INTO job SELECT g, 'job ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'ü''ser,' || g END, g * 1.5, \
                 now(), decode(md5(g::text), 'hex') FROM generate_series(1, 500) g; \
                 INSERT INTO heartbeat SELECT 'h' || (g % 7), g FROM generate_series(1, 300) g;"
            }
            Engine::Mysql => {
                "CREATE TABLE job (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, owner VARCHAR(100), score DOUBLE, \
                 created DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3), payload BLOB); \
                 CREATE TABLE heartbeat (host VARCHAR(20), beat INT); \
                 INSERT INTO job SELECT seq, CONCAT('job ', seq), IF(seq % 3 = 0, NULL, CONCAT('ü''ser,', seq)), seq * 1.5, \
                 NOW(3), UNHEX(MD5(seq)) FROM seq_1_to_500; \
                 INSERT INTO heartbeat SELECT CONCAT('h', seq % 7), seq FROM seq_1_to_300;"
            }
            Engine::Sqlite => {
                "CREATE TABLE job (id INTEGER PRIMARY KEY, name TEXT NOT NULL, owner TEXT, score REAL, created TEXT, payload BLOB); \
                 CREATE TABLE heartbeat (host TEXT, beat INT); \
                 WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 500) \
                 INSERT INTO job SELECT n, 'job ' || n, CASE WHEN n % 3 = 0 THEN NULL ELSE 'ü''ser,' || n END, n * 1.5, \
                 datetime('now'), randomblob(16) FROM g; \
                 WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 300) \
                 INSERT INTO heartbeat SELECT 'h' || (n % 7), n FROM g;"
            }
        };
        self.exec(ddl);
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = &self.target.database;
        match self.engine() {
            Engine::Postgres => {
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
            Engine::Mysql => {
                let _ = Command::new("mariadb")
                    .args(["-h127.0.0.1", "-uroot", "--protocol=tcp", "-e"])
                    .arg(format!("DROP DATABASE IF EXISTS {name}"))
                    .output();
            }
            Engine::Sqlite => {}
        }
    }
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run client");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn psql_admin(sql: &str) -> String {
    run_ok(Command::new("psql").args([
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-qAt",
        "-d",
        "postgres",
        "-c",
        sql,
    ]))
}

pub fn mariadb_admin(sql: &str) -> String {
    run_ok(Command::new("mariadb").args([
        "-h127.0.0.1",
        "-uroot",
        "--protocol=tcp",
        "-N",
        "-e",
        sql,
    ]))
}

pub fn sqlite(path: &std::path::Path, sql: &str) -> String {
    run_ok(Command::new("sqlite3").arg(path).arg(sql))
}
