//! Real Airflow deployments for tests (feature `testkit`): the virtualenvs installed by
//! `scripts/setup.d/50-airflow`, a fresh metadata database on the local PostgreSQL, the
//! test DAGs, and the version's processes (2.x: scheduler + webserver; 3.x: api-server +
//! scheduler + dag-processor), each in its own process group, stopped on drop.
//!
//! Not a product path: the engine starts Airflow from its bundle like any platform.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;

/// Where the virtualenvs are: `$CHANGEOVER_AIRFLOW_ROOT`, else `/opt/changeover/airflow`.
pub fn airflow_root() -> PathBuf {
    std::env::var_os("CHANGEOVER_AIRFLOW_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/changeover/airflow"))
}

/// The virtualenv of `version`, or what to run to install it.
pub fn venv(version: &str) -> Result<PathBuf, String> {
    let dir = airflow_root().join(version);
    if dir.join("bin/airflow").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "Airflow {version} is not installed in {}: run `sudo scripts/setup.d/50-airflow` (scripts/test does it when run as root)",
            dir.display()
        ))
    }
}

/// The test DAGs: `changeover_long` (every minute, a task that sleeps `CHANGEOVER_SLEEP`
/// seconds, default [`Spec::task_sleep_secs`]), `changeover_quick` (every minute, echo), and
/// `changeover_operator_paused` (paused on creation, as an operator would have it).
pub const DAGS: &str = r#"
import os
from datetime import datetime
from airflow import DAG
try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:
    from airflow.operators.bash import BashOperator

SLEEP = os.environ.get("CHANGEOVER_SLEEP", "__SLEEP__")

with DAG(dag_id="changeover_long", start_date=datetime(2026, 1, 1), schedule="* * * * *",
         catchup=False, max_active_runs=1, is_paused_upon_creation=False,
         default_args={"owner": "finance"}) as long_dag:
    BashOperator(task_id="quick", bash_command="echo start") >> BashOperator(task_id="slow", bash_command=f"sleep {SLEEP}")

with DAG(dag_id="changeover_quick", start_date=datetime(2026, 1, 1), schedule="* * * * *",
         catchup=False, max_active_runs=1, is_paused_upon_creation=False,
         default_args={"owner": "marketing"}) as quick_dag:
    BashOperator(task_id="echo", bash_command="echo hi")

with DAG(dag_id="changeover_operator_paused", start_date=datetime(2026, 1, 1), schedule="* * * * *",
         catchup=False, is_paused_upon_creation=True,
         default_args={"owner": "finance"}) as paused_dag:
    BashOperator(task_id="echo", bash_command="echo paused")
"#;

/// The DAG ids of [`DAGS`].
pub const DAG_IDS: [&str; 3] = [
    "changeover_long",
    "changeover_quick",
    "changeover_operator_paused",
];

/// One deployment's settings.
#[derive(Debug, Clone)]
pub struct Spec {
    pub version: String,
    /// AIRFLOW_HOME (logs, the 3.x password file).
    pub home: PathBuf,
    pub dags: PathBuf,
    /// SQLAlchemy URL of the metadata database.
    pub sql_alchemy_conn: String,
    /// Webserver (2.x) or api-server (3.x) port.
    pub port: u16,
    pub username: String,
    pub password: String,
    /// How long the `slow` task of `changeover_long` sleeps.
    pub task_sleep_secs: u32,
}

impl Spec {
    /// A spec in `dir` for `version` on database `database` of the local PostgreSQL.
    pub fn new(version: &str, dir: &Path, database: &str, port: u16) -> Spec {
        Spec {
            version: version.to_owned(),
            home: dir.join("home"),
            dags: dir.join("dags"),
            sql_alchemy_conn: format!("postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"),
            port,
            username: "admin".into(),
            password: "changeover-test-password".into(),
            task_sleep_secs: 300,
        }
    }

    pub fn major(&self) -> u32 {
        self.version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(2)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment every Airflow command of this deployment gets.
    pub fn env(&self) -> Result<Vec<(String, String)>, String> {
        let venv = venv(&self.version)?;
        let path = format!(
            "{}:{}",
            venv.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), path),
            ("AIRFLOW_HOME".into(), self.home.display().to_string()),
            ("AIRFLOW__CORE__LOAD_EXAMPLES".into(), "False".into()),
            (
                "AIRFLOW__CORE__DAGS_FOLDER".into(),
                self.dags.display().to_string(),
            ),
            ("AIRFLOW__CORE__EXECUTOR".into(), "LocalExecutor".into()),
            ("AIRFLOW__CORE__PARALLELISM".into(), "4".into()),
            (
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN".into(),
                self.sql_alchemy_conn.clone(),
            ),
            (
                "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL".into(),
                "5".into(),
            ),
            (
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL".into(),
                "5".into(),
            ),
            ("AIRFLOW__LOGGING__LOGGING_LEVEL".into(), "WARNING".into()),
        ];
        if self.major() >= 3 {
            env.extend([
                // An airflow.cfg written by 2.x names the FAB auth manager 3.x lacks.
                (
                    "AIRFLOW__CORE__AUTH_MANAGER".into(),
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                        .into(),
                ),
                (
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS".into(),
                    format!("{}:admin", self.username),
                ),
                (
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE".into(),
                    self.home.join("passwords.json").display().to_string(),
                ),
                (
                    "AIRFLOW__API_AUTH__JWT_SECRET".into(),
                    "changeover-test-jwt-secret-0123456789abcdef".into(),
                ),
                (
                    "AIRFLOW__API__SECRET_KEY".into(),
                    "changeover-test-key".into(),
                ),
                (
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL".into(),
                    format!("{}/execution/", self.base_url()),
                ),
            ]);
        } else {
            env.extend([
                (
                    "AIRFLOW__API__AUTH_BACKENDS".into(),
                    "airflow.providers.fab.auth_manager.api.auth.backend.basic_auth".into(),
                ),
                ("AIRFLOW__WEBSERVER__WORKERS".into(), "1".into()),
            ]);
        }
        Ok(env)
    }

    /// Runs `airflow ARGS` of this version and returns its stdout, or its output as error.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        let bin = venv(&self.version)?.join("bin/airflow");
        let out = Command::new(&bin)
            .args(args)
            .envs(self.env()?)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "airflow {} ({}) failed: {}\n{}",
                args.join(" "),
                self.version,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

/// Drops and creates `database` on the local PostgreSQL.
pub async fn create_database(database: &str) -> Result<(), String> {
    if !database
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!("{database:?}: use letters, digits and _ only"));
    }
    let mut conn = sqlx::PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .map_err(|e| format!("cannot connect to the local PostgreSQL: {e}"))?;
    for sql in [
        format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        format!("CREATE DATABASE {database}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
    }
    Ok(())
}

/// A connection to `database` on the local PostgreSQL.
async fn connect(database: &str) -> Result<sqlx::PgConnection, String> {
    let url = format!("postgres://postgres@127.0.0.1:5432/{database}");
    sqlx::PgConnection::connect(&url)
        .await
        .map_err(|e| format!("cannot connect to {database}: {e}"))
}

/// `(dag_id, is_paused)` of every DAG, read from the `dag` table of `database` (not
/// through the API the adapter uses), sorted.
pub async fn paused_dags(database: &str) -> Result<Vec<(String, bool)>, String> {
    let mut conn = connect(database).await?;
    sqlx::query_as("SELECT dag_id, is_paused FROM dag ORDER BY dag_id")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("reading the dag table of {database}: {e}"))
}

/// The schema head Airflow recorded in `alembic_version`.
pub async fn alembic_version(database: &str) -> Result<String, String> {
    let mut conn = connect(database).await?;
    let (v,): (String,) = sqlx::query_as("SELECT version_num FROM alembic_version")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("reading alembic_version of {database}: {e}"))?;
    Ok(v)
}

/// `(state, try_number)` of one task instance, read from the `task_instance` table.
pub async fn task_instance(
    database: &str,
    dag_id: &str,
    run_id: &str,
    task_id: &str,
) -> Result<Option<(Option<String>, i32)>, String> {
    let mut conn = connect(database).await?;
    sqlx::query_as(
        "SELECT state, try_number FROM task_instance WHERE dag_id = $1 AND run_id = $2 AND task_id = $3",
    )
    .bind(dag_id)
    .bind(run_id)
    .bind(task_id)
    .fetch_optional(&mut conn)
    .await
    .map_err(|e| format!("reading task_instance of {database}: {e}"))
}

/// `(run_id, state)` of every run of `dag_id`, oldest first.
pub async fn dag_runs(database: &str, dag_id: &str) -> Result<Vec<(String, String)>, String> {
    let mut conn = connect(database).await?;
    sqlx::query_as("SELECT run_id, state FROM dag_run WHERE dag_id = $1 ORDER BY id")
        .bind(dag_id)
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("reading dag_run of {database}: {e}"))
}

/// Drops `database` (best effort).
pub async fn drop_database(database: &str) {
    if let Ok(mut conn) =
        sqlx::PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres").await
    {
        let sql = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await;
    }
}

/// Writes the DAGs, migrates the database with this version and creates the admin user
/// (2.x: `airflow users create`; 3.x: the simple auth manager's password file).
pub fn init(spec: &Spec) -> Result<(), String> {
    for dir in [&spec.home, &spec.dags] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(
        spec.dags.join("changeover_dags.py"),
        DAGS.replace("__SLEEP__", &spec.task_sleep_secs.to_string()),
    )
    .map_err(|e| format!("writing the test DAGs: {e}"))?;
    spec.cli(&["db", "migrate"])?;
    if spec.major() >= 3 {
        let file = spec.home.join("passwords.json");
        let json = serde_json::json!({ &spec.username: &spec.password });
        std::fs::write(&file, json.to_string()).map_err(|e| format!("{}: {e}", file.display()))?;
    } else {
        spec.cli(&[
            "users",
            "create",
            "-u",
            &spec.username,
            "-p",
            &spec.password,
            "-r",
            "Admin",
            "-f",
            "change",
            "-l",
            "over",
            "-e",
            "admin@example.com",
        ])?;
    }
    Ok(())
}

/// The processes of one running deployment; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Running {
    children: Vec<(String, Child)>,
    pub spec: Spec,
}

/// The components of a version: 2.x scheduler + webserver, 3.x api-server + scheduler +
/// dag-processor.
pub fn components(spec: &Spec) -> Vec<Vec<String>> {
    let port = spec.port.to_string();
    if spec.major() >= 3 {
        vec![
            vec!["api-server".into(), "--port".into(), port],
            vec!["scheduler".into()],
            vec!["dag-processor".into()],
        ]
    } else {
        vec![
            vec!["scheduler".into()],
            vec!["webserver".into(), "--port".into(), port],
        ]
    }
}

/// Starts the deployment's components and waits (up to `timeout`) until its health
/// endpoint answers 200 and every test DAG is known.
pub async fn start(spec: &Spec, timeout: Duration) -> Result<Running, String> {
    use std::os::unix::process::CommandExt;
    let bin = venv(&spec.version)?.join("bin/airflow");
    let logs = spec.home.join("changeover-logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let mut running = Running {
        children: Vec::new(),
        spec: spec.clone(),
    };
    for args in components(spec) {
        let log = logs.join(format!("{}.log", args[0]));
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&bin)
            .args(&args)
            .envs(spec.env()?)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start airflow {}: {e}", args[0]))?;
        running.children.push((args[0].clone(), child));
    }
    let health = if spec.major() >= 3 {
        format!("{}/api/v2/monitor/health", spec.base_url())
    } else {
        format!("{}/health", spec.base_url())
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(r) = http.get(&health).send().await
            && r.status().is_success()
        {
            break;
        }
        running.check_alive()?;
        if Instant::now() > deadline {
            return Err(format!(
                "Airflow {} did not become healthy at {health} within {timeout:?}; logs in {}",
                spec.version,
                logs.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(running)
}

impl Running {
    /// An error naming the component that exited, with the end of its log.
    pub fn check_alive(&mut self) -> Result<(), String> {
        for (name, child) in &mut self.children {
            if let Ok(Some(status)) = child.try_wait() {
                let log = self
                    .spec
                    .home
                    .join("changeover-logs")
                    .join(format!("{name}.log"));
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: String = text
                    .lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                return Err(format!(
                    "airflow {name} ({}) exited with {status}:\n{tail}",
                    self.spec.version
                ));
            }
        }
        Ok(())
    }

    /// Stops every component: SIGTERM to its process group, SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        for (_, child) in &self.children {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        for (_, child) in &mut self.children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}
