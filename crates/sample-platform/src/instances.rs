//! Task instances and workflows in the metadata database.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Metadb, MetadbError, now_text};

pub const STATUSES: [&str; 5] = ["waiting", "running", "succeeded", "failed", "killed"];
pub const SCHEDULE_TYPES: [&str; 3] = ["scheduled", "backfill", "adhoc"];
pub const ENVIRONMENTS: [&str; 2] = ["dev", "prod"];

/// One task of a workflow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    pub name: String,
    pub command: String,
}

/// A workflow definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    pub name: String,
    pub tenant: String,
    #[serde(default = "default_environment")]
    pub environment: String,
    #[serde(default)]
    pub cron: Option<String>,
    pub tasks: Vec<TaskSpec>,
}

fn default_environment() -> String {
    "prod".to_owned()
}

/// One task instance as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Instance {
    pub id: i64,
    pub run_id: String,
    pub workflow: String,
    pub task: String,
    pub seq: i64,
    pub command: String,
    pub node_type: String,
    pub schedule_type: String,
    pub tenant: String,
    pub environment: String,
    pub business_date: String,
    pub status: String,
    pub pid: Option<i64>,
    pub exit_code: Option<i64>,
    pub rerun_of: Option<i64>,
    pub started_at: Option<String>,
    pub updated_at: String,
    pub finished_at: Option<String>,
}

impl Instance {
    /// The node id: the same for every instance of one task of one workflow.
    pub fn node_id(&self) -> String {
        format!("{}.{}", self.workflow, self.task)
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed" | "killed")
    }
}

/// A new instance to insert (status `waiting` unless set).
#[derive(Debug, Clone)]
pub struct NewInstance {
    pub run_id: String,
    pub workflow: String,
    pub task: String,
    pub seq: i64,
    pub command: String,
    pub schedule_type: String,
    pub tenant: String,
    pub environment: String,
    pub business_date: String,
    pub status: String,
    pub rerun_of: Option<i64>,
    pub owner: Option<String>,
}

pub const INSTANCE_COLUMNS: &str = "id, run_id, workflow, task, seq, command, node_type, \
    schedule_type, tenant, environment, business_date, status, pid, exit_code, rerun_of, \
    started_at, updated_at, finished_at";

pub fn instance_from_row(row: &AnyRow) -> Result<Instance, sqlx::Error> {
    Ok(Instance {
        id: row.try_get("id")?,
        run_id: row.try_get("run_id")?,
        workflow: row.try_get("workflow")?,
        task: row.try_get("task")?,
        seq: row.try_get("seq")?,
        command: row.try_get("command")?,
        node_type: row.try_get("node_type")?,
        schedule_type: row.try_get("schedule_type")?,
        tenant: row.try_get("tenant")?,
        environment: row.try_get("environment")?,
        business_date: row.try_get("business_date")?,
        status: row.try_get("status")?,
        pid: row.try_get("pid")?,
        exit_code: row.try_get("exit_code")?,
        rerun_of: row.try_get("rerun_of")?,
        started_at: row.try_get("started_at")?,
        updated_at: row.try_get("updated_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

impl Metadb {
    pub async fn insert_instance(&self, new: &NewInstance) -> Result<i64, MetadbError> {
        let now = now_text();
        let started = (new.status != "waiting").then(|| now.clone());
        let finished =
            matches!(new.status.as_str(), "succeeded" | "failed" | "killed").then(|| now.clone());
        let row = sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "INSERT INTO task_instance (run_id, workflow, task, seq, command, node_type, \
             schedule_type, tenant, environment, business_date, status, rerun_of, created_at, \
             started_at, updated_at, finished_at) \
             VALUES ($1, $2, $3, $4, $5, 'SHELL', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             RETURNING id",
        )))
        .bind(&new.run_id)
        .bind(&new.workflow)
        .bind(&new.task)
        .bind(new.seq)
        .bind(&new.command)
        .bind(&new.schedule_type)
        .bind(&new.tenant)
        .bind(&new.environment)
        .bind(&new.business_date)
        .bind(&new.status)
        .bind(new.rerun_of)
        .bind(&now)
        .bind(started)
        .bind(&now)
        .bind(finished)
        .fetch_one(&self.pool)
        .await?;
        let id: i64 = row.try_get("id")?;
        if let Some(owner) = &new.owner {
            sqlx::query(sqlx::AssertSqlSafe(
                self.sql("UPDATE task_instance SET owner = $1 WHERE id = $2"),
            ))
            .bind(owner)
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        Ok(id)
    }

    pub async fn instance(&self, id: i64) -> Result<Option<Instance>, MetadbError> {
        let sql = format!("SELECT {INSTANCE_COLUMNS} FROM task_instance WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(self.sql(&sql)))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(instance_from_row).transpose()?)
    }

    /// Instances, optionally of one status, oldest first.
    pub async fn instances(&self, status: Option<&str>) -> Result<Vec<Instance>, MetadbError> {
        let rows = match status {
            Some(status) => {
                let sql = format!(
                    "SELECT {INSTANCE_COLUMNS} FROM task_instance WHERE status = $1 ORDER BY id"
                );
                sqlx::query(sqlx::AssertSqlSafe(self.sql(&sql)))
                    .bind(status)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("SELECT {INSTANCE_COLUMNS} FROM task_instance ORDER BY id");
                sqlx::query(sqlx::AssertSqlSafe(self.sql(&sql)))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        Ok(rows
            .iter()
            .map(instance_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Moves an instance from one of `from` to `to`; false when it was in none of them.
    pub async fn transition(
        &self,
        id: i64,
        from: &[&str],
        to: &str,
        exit_code: Option<i64>,
    ) -> Result<bool, MetadbError> {
        let now = now_text();
        let finished = matches!(to, "succeeded" | "failed" | "killed").then(|| now.clone());
        let list = from
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE task_instance SET status = $1, updated_at = $2, finished_at = $3, \
             exit_code = COALESCE($4, exit_code), \
             started_at = CASE WHEN $5 = 'running' THEN $6 ELSE started_at END \
             WHERE id = $7 AND status IN ({list})"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(self.sql(&sql)))
            .bind(to)
            .bind(&now)
            .bind(finished)
            .bind(exit_code)
            .bind(to)
            .bind(&now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_pid(&self, id: i64, pid: i64) -> Result<(), MetadbError> {
        sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "UPDATE task_instance SET pid = $1, updated_at = $2 WHERE id = $3",
        )))
        .bind(pid)
        .bind(now_text())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn add_workflow(&self, workflow: &Workflow) -> Result<(), MetadbError> {
        let tasks = serde_json::to_string(&workflow.tasks).unwrap_or_else(|_| "[]".to_owned());
        sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "INSERT INTO workflow (name, tenant, environment, cron, tasks, last_triggered_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )))
        .bind(&workflow.name)
        .bind(&workflow.tenant)
        .bind(&workflow.environment)
        .bind(&workflow.cron)
        .bind(tasks)
        .bind(now_text())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every workflow with the time its cron last fired.
    pub async fn workflows(&self) -> Result<Vec<(Workflow, Option<String>)>, MetadbError> {
        let rows = sqlx::query(
            "SELECT name, tenant, environment, cron, tasks, last_triggered_at FROM workflow \
             ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in rows {
            let tasks: String = row.try_get("tasks")?;
            out.push((
                Workflow {
                    name: row.try_get("name")?,
                    tenant: row.try_get("tenant")?,
                    environment: row.try_get("environment")?,
                    cron: row.try_get("cron")?,
                    tasks: serde_json::from_str(&tasks).unwrap_or_default(),
                },
                row.try_get("last_triggered_at")?,
            ));
        }
        Ok(out)
    }

    pub async fn workflow(&self, name: &str) -> Result<Option<Workflow>, MetadbError> {
        Ok(self
            .workflows()
            .await?
            .into_iter()
            .map(|(w, _)| w)
            .find(|w| w.name == name))
    }

    pub async fn set_last_triggered(&self, name: &str, at: &str) -> Result<(), MetadbError> {
        sqlx::query(sqlx::AssertSqlSafe(
            self.sql("UPDATE workflow SET last_triggered_at = $1 WHERE name = $2"),
        ))
        .bind(at)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// `(environment, scheduling, execution)` for every environment.
    pub async fn toggles(&self) -> Result<Vec<(String, bool, bool)>, MetadbError> {
        let rows = sqlx::query(
            "SELECT environment, scheduling, execution FROM toggle ORDER BY environment",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let scheduling: i64 = row.try_get("scheduling")?;
                let execution: i64 = row.try_get("execution")?;
                Ok((row.try_get("environment")?, scheduling != 0, execution != 0))
            })
            .collect()
    }

    pub async fn set_toggles(
        &self,
        environment: &str,
        scheduling: bool,
        execution: bool,
    ) -> Result<(), MetadbError> {
        sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "UPDATE toggle SET scheduling = $1, execution = $2 WHERE environment = $3",
        )))
        .bind(i64::from(scheduling))
        .bind(i64::from(execution))
        .bind(environment)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
