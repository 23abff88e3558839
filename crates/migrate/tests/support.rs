//! Fresh databases per test, 1.3 fixtures and a source writer.

use anyhow::{Context, Result};
use rand::Rng;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

pub const MARIADB: &str = "mysql://root@127.0.0.1:3306";
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

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
        Server::MariaDb => format!("{MARIADB}/test"),
        Server::Postgres => format!("{POSTGRES}/test"),
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
            Server::MariaDb => format!("{MARIADB}/{name}"),
            Server::Postgres => format!("{POSTGRES}/{name}"),
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
