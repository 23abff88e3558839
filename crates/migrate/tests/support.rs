//! Fresh databases per test, 1.3 fixtures, a source writer and the migrator as a child
//! process.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rand::Rng;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

/// The MariaDB server (log_bin, binlog_format=ROW); `CHANGEOVER_TEST_MARIADB` overrides it.
pub fn mariadb() -> String {
    server_url("CHANGEOVER_TEST_MARIADB", "mysql://root@127.0.0.1:3306")
}

/// The PostgreSQL server (wal_level=logical); `CHANGEOVER_TEST_POSTGRES` overrides it.
pub fn postgres() -> String {
    server_url(
        "CHANGEOVER_TEST_POSTGRES",
        "postgres://postgres@127.0.0.1:5432",
    )
}

fn server_url(variable: &str, default: &str) -> String {
    std::env::var(variable)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map_or_else(
            || default.to_owned(),
            |v| v.trim_end_matches('/').to_owned(),
        )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    MariaDb,
    Postgres,
}

/// A database created for one test; `drop_now` removes it.
pub struct TestDb {
    pub server: Server,
    pub name: String,
    pub url: String,
}

fn random_name(prefix: &str) -> String {
    let n: u64 = rand::rng().random();
    format!("{prefix}_{n:016x}")
}

async fn admin(server: Server) -> Result<AnyConnection> {
    sqlx::any::install_default_drivers();
    let url = match server {
        Server::MariaDb => format!("{}/test", mariadb()),
        Server::Postgres => format!("{}/test", postgres()),
    };
    Ok(AnyConnection::connect(&url).await?)
}

impl TestDb {
    /// A fresh database loaded with `schema` (a fixture file's text).
    pub async fn create(server: Server, prefix: &str, schema: &str) -> Result<TestDb> {
        let name = random_name(prefix);
        let mut conn = admin(server).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let url = match server {
            Server::MariaDb => format!("{}/{name}", mariadb()),
            Server::Postgres => format!("{}/{name}", postgres()),
        };
        let mut conn = AnyConnection::connect(&url).await?;
        sqlx::raw_sql(AssertSqlSafe(schema.to_owned()))
            .execute(&mut conn)
            .await
            .with_context(|| format!("loading schema into {name}"))?;
        conn.close().await?;
        Ok(TestDb { server, name, url })
    }

    pub async fn connect(&self) -> Result<AnyConnection> {
        Ok(AnyConnection::connect(&self.url).await?)
    }

    pub async fn exec(&self, sql: &str) -> Result<()> {
        let mut conn = self.connect().await?;
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .with_context(|| format!("running {sql}"))?;
        conn.close().await?;
        Ok(())
    }

    pub async fn drop_now(self) -> Result<()> {
        let mut conn = admin(self.server).await?;
        let sql = match self.server {
            Server::MariaDb => format!("DROP DATABASE IF EXISTS {}", self.name),
            Server::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        };
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await?;
        Ok(())
    }
}

pub const SOURCE_MYSQL: &str = include_str!("../fixtures/ds-1.3.9-mysql.sql");
pub const SOURCE_POSTGRES: &str = include_str!("../fixtures/ds-1.3.9-postgresql.sql");
pub const TARGET_MYSQL: &str = include_str!("../fixtures/ds-3.2.2-mysql.sql");
pub const TARGET_POSTGRES: &str = include_str!("../fixtures/ds-3.2.2-postgresql.sql");

/// A 1.3 task of the designer's JSON.
pub fn task(
    id: &str,
    name: &str,
    kind: &str,
    params: serde_json::Value,
    pre: &[&str],
) -> serde_json::Value {
    serde_json::json!({
        "id": id, "name": name, "type": kind, "params": params, "description": "",
        "runFlag": "NORMAL", "maxRetryTimes": 0, "retryInterval": 1,
        "timeout": {"strategy": "", "interval": null, "enable": false},
        "taskInstancePriority": "MEDIUM", "workerGroup": "default", "preTasks": pre,
        "conditionResult": {"successNode": [""], "failedNode": [""]}, "dependence": {}
    })
}

pub fn workflow(tasks: Vec<serde_json::Value>) -> String {
    serde_json::json!({"globalParams": [], "tasks": tasks, "tenantId": 1, "timeout": 0}).to_string()
}

/// `a -> {b, c} -> d`.
pub fn diamond(prefix: &str) -> String {
    let t = |n: &str, pre: &[&str]| {
        task(
            &format!("tasks-{prefix}{n}"),
            n,
            "SHELL",
            serde_json::json!({"rawScript": format!("echo {prefix}{n}"), "localParams": [], "resourceList": []}),
            pre,
        )
    };
    workflow(vec![
        t("a", &[]),
        t("b", &["a"]),
        t("c", &["a"]),
        t("d", &["b", "c"]),
    ])
}

/// SQL string literal.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// The migrator binary of this crate (`src/bin/changeover-migrate-worker.rs`).
pub const WORKER: &str = env!("CARGO_BIN_EXE_changeover-migrate-worker");

/// `WORKER` started on `source` → `target`, stderr captured.
pub fn spawn_worker(
    source: &TestDb,
    target: &TestDb,
    machine: u8,
    crash_at: Option<&str>,
) -> Result<tokio::process::Child> {
    let mut command = tokio::process::Command::new(WORKER);
    command
        .env("CHANGEOVER_MIGRATE_SOURCE", &source.url)
        .env("CHANGEOVER_MIGRATE_TARGET", &target.url)
        .env("CHANGEOVER_MIGRATE_MACHINE", machine.to_string())
        .env(
            "CHANGEOVER_MIGRATE_SERVER_ID",
            (rand::random::<u32>() | 0x4000_0000).to_string(),
        )
        .env_remove("CHANGEOVER_MIGRATE_CRASH")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(point) = crash_at {
        command.env("CHANGEOVER_MIGRATE_CRASH", point);
    }
    Ok(command.spawn()?)
}

/// Waits for `child` to exit (at most `timeout`); its status and stderr.
pub async fn wait_exit(
    child: tokio::process::Child,
    timeout: Duration,
) -> Result<(std::process::ExitStatus, String)> {
    let Ok(output) = tokio::time::timeout(timeout, child.wait_with_output()).await else {
        bail!("the migrator did not exit within {timeout:?}");
    };
    let output = output?;
    Ok((
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

impl TestDb {
    /// Another handle on the same database (not dropping it).
    pub fn handle(&self) -> TestDb {
        TestDb {
            server: self.server,
            name: self.name.clone(),
            url: self.url.clone(),
        }
    }
}
