//! Real processes on a fresh database per test (SQLite file or a new PostgreSQL or MariaDB
//! database).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Generous: CI machines are slow; the loop exits as soon as the condition holds.
pub const DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
pub enum Engine {
    Sqlite,
    Postgres,
    Mariadb,
}

/// A fresh metadata database, dropped at the end.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
    mariadb_name: Option<String>,
}

fn psql(sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .args([PG_ADMIN, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .context("run psql")?;
    if !out.status.success() {
        bail!("psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn mariadb(sql: &str) -> anyhow::Result<()> {
    let out = Command::new("mariadb")
        .args(["-h127.0.0.1", "-uroot", "--protocol=tcp", "-e", sql])
        .output()
        .context("run mariadb")?;
    if !out.status.success() {
        bail!("mariadb {sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

impl TestDb {
    pub fn new(engine: Engine) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        match engine {
            Engine::Sqlite => Ok(Self {
                url: format!("sqlite://{}", dir.path().join("meta.db").display()),
                dir,
                pg_name: None,
                mariadb_name: None,
            }),
            Engine::Postgres => {
                let name = format!("sample_{}", uuid::Uuid::new_v4().simple());
                psql(&format!("CREATE DATABASE {name}"))?;
                Ok(Self {
                    url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                    dir,
                    pg_name: Some(name),
                    mariadb_name: None,
                })
            }
            Engine::Mariadb => {
                let name = format!("sample_{}", uuid::Uuid::new_v4().simple());
                mariadb(&format!("CREATE DATABASE {name}"))?;
                Ok(Self {
                    url: format!("mysql://root@127.0.0.1:3306/{name}"),
                    dir,
                    pg_name: None,
                    mariadb_name: Some(name),
                })
            }
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub async fn metadb(&self) -> anyhow::Result<sample_platform::Metadb> {
        Ok(sample_platform::Metadb::connect(&self.url).await?)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            let _ = psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
        if let Some(name) = &self.mariadb_name {
            let _ = mariadb(&format!("DROP DATABASE IF EXISTS {name}"));
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// A running platform process (scheduler or data service); killed on drop.
pub struct Process {
    pub child: Child,
    pub base: String,
    pub http: reqwest::Client,
}

impl Process {
    pub async fn scheduler(db: &TestDb, version: &str) -> anyhow::Result<Self> {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_sample-scheduler"))
            .args(["--platform-version", version, "--port", &port.to_string()])
            .args(["--db", &db.url, "--tick-ms", "100", "--data-dir"])
            .arg(db.data_dir())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        Self::ready(child, port).await
    }

    pub async fn dataservice(db: &TestDb, version: &str) -> anyhow::Result<Self> {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_sample-dataservice"))
            .args(["--platform-version", version, "--port", &port.to_string()])
            .args(["--db", &db.url, "--data-dir"])
            .arg(db.data_dir())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        Self::ready(child, port).await
    }

    async fn ready(mut child: Child, port: u16) -> anyhow::Result<Self> {
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                bail!("process exited with {status} before it was healthy: {err}");
            }
            if let Ok(r) = http.get(format!("{base}/health")).send().await
                && r.status().is_success()
            {
                return Ok(Self { child, base, http });
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                bail!("process never became healthy on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let r = self.http.get(format!("{}{path}", self.base)).send().await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(body)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        self.send(reqwest::Method::PUT, path, body).await
    }

    pub async fn add_workflow(
        &self,
        name: &str,
        env: &str,
        commands: &[&str],
    ) -> anyhow::Result<()> {
        let tasks: Vec<Value> = commands
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"name": format!("t{i}"), "command": c}))
            .collect();
        let body = json!({"name": name, "tenant": "acme", "environment": env, "tasks": tasks});
        let (status, answer) = self.post("/admin/workflows", &body).await?;
        anyhow::ensure!(status == 201, "add workflow: {status} {answer}");
        Ok(())
    }

    /// Triggers a run; returns the first instance's id.
    pub async fn trigger(&self, workflow: &str, schedule_type: &str) -> anyhow::Result<String> {
        let body = json!({"schedule_type": schedule_type, "business_date": "2026-11-20"});
        let (status, answer) = self
            .post(&format!("/admin/workflows/{workflow}/trigger"), &body)
            .await?;
        anyhow::ensure!(status == 201, "trigger: {status} {answer}");
        Ok(answer["instance_id"]
            .as_str()
            .context("instance_id")?
            .to_owned())
    }

    pub async fn instances(&self) -> anyhow::Result<Vec<Value>> {
        let (status, list) = self.get("/changeover/v1/instances").await?;
        anyhow::ensure!(status == 200, "list instances: {status}");
        Ok(list.as_array().cloned().unwrap_or_default())
    }

    pub async fn status_of(&self, id: &str) -> anyhow::Result<String> {
        let list = self.instances().await?;
        let found = list
            .iter()
            .find(|i| i["id"] == id)
            .context("instance listed")?;
        Ok(found["status"].as_str().unwrap_or_default().to_owned())
    }

    /// Waits until instance `id` has `status`.
    pub async fn wait_status(&self, id: &str, status: &str) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let now = self.status_of(id).await?;
            if now == status {
                return Ok(());
            }
            if start.elapsed() > DEADLINE {
                bail!("instance {id} stayed {now}, expected {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn set_toggles(&self, env: &str, body: Value) -> anyhow::Result<()> {
        let (status, answer) = self
            .put(&format!("/changeover/v1/toggles/{env}"), &body)
            .await?;
        anyhow::ensure!(status == 200, "set toggles: {status} {answer}");
        Ok(())
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a binary expected to refuse to start; returns its stderr.
pub fn refused(bin: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(bin)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()?;
    anyhow::ensure!(
        !out.status.success(),
        "expected a refusal, it started and exited 0"
    );
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}
