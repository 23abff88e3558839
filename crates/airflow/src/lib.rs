//! The Apache Airflow scheduler adapter: drives a real Airflow 2.x (`/api/v1`, HTTP basic
//! auth) or 3.x (`/api/v2`, a JWT from `/auth/token`) through the
//! [`SchedulerAdapter`] trait, the version chosen from the running server.
//!
//! | trait | Airflow |
//! | --- | --- |
//! | scheduling off / on | pause every DAG that is unpaused, remembering exactly which; on resume unpause only those (a DAG the operator paused stays paused) |
//! | execution off / on | `default_pool` slots to 0, remembering the previous value; restored on resume |
//! | running instances | queued and running DAG runs across DAGs, with their first running task |
//! | terminate | mark the DAG run failed (Airflow kills its task processes) |
//! | re-run | clear the failed task instances of the run, once per run per request id |
//! | statistics, failed today / succeeded yesterday | DAG runs by logical date (2.x `execution_date`, 3.x `logical_date` or `run_after`) and state; tenant = the DAG's first owner |
//!
//! # Guarantees
//! - What the adapter changed is written to its state file **before** the change, so a
//!   changeover killed in between still knows what to undo (see [`state`]).
//! - The password and the token never appear in errors, logs or `Debug` output.
//!
//! # Caveats
//! - Airflow has one environment: it is reported as `prod`; `dev` is refused.
//! - An instance is a DAG run, not a task instance: terminating or re-running acts on the
//!   whole run, as Airflow's own "mark failed" and "clear" do.

mod client;
pub mod map;
pub mod state;
#[cfg(feature = "testkit")]
pub mod testkit;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use changeover_drivers::SchedulerAdapter;
use changeover_drivers::scheduler::{
    Environment, FailedInstance, Instance, InstanceStatus, Rerun, RerunOutcome, RerunSkipped,
    SchedulerError, StatisticsQuery, StatisticsRow, TerminateOutcome, ToggleChange, Toggles,
};
use chrono::NaiveDate;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use client::Client;
use state::{AdapterState, StateFile};

/// Which major version of Airflow answers at `base_url` now (2 or 3), from its public
/// health endpoints; an adapter connected to another major must connect again.
pub async fn running_major(base_url: &str) -> Result<u32, SchedulerError> {
    Client::detect_major(base_url).await
}

/// A password that never prints.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }

    /// The password itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// How to reach one Airflow deployment.
#[derive(Debug, Clone)]
pub struct AirflowConfig {
    /// The webserver (2.x) or api-server (3.x), e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    pub username: String,
    pub password: Password,
    /// Where the adapter remembers what it paused, the pool slots it replaced and the
    /// re-runs it sent (one file per deployment; it survives a changeover crash).
    pub state_file: PathBuf,
}

/// The Airflow adapter.
pub struct AirflowAdapter {
    client: Client,
    state: StateFile,
    /// Serialises the read-change-write of the state file.
    lock: Mutex<()>,
}

const POOL: &str = "default_pool";

/// How long a re-run waits for a just-started Airflow to know a DAG run again.
const LOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(90);

fn refuse(operation: &'static str, message: String) -> SchedulerError {
    SchedulerError::Rejected {
        operation,
        status: 400,
        code: "invalid_request".into(),
        message,
    }
}

impl AirflowAdapter {
    /// Connects to the Airflow at `config.base_url`, detecting 2.x or 3.x, and signs in.
    pub async fn connect(config: AirflowConfig) -> Result<AirflowAdapter, SchedulerError> {
        let client = Client::connect(&config.base_url, &config.username, config.password).await?;
        let state = StateFile::new(config.state_file);
        state.load()?;
        Ok(AirflowAdapter {
            client,
            state,
            lock: Mutex::new(()),
        })
    }

    /// 2 or 3.
    pub fn major(&self) -> u32 {
        self.client.major
    }

    /// The version the server reports, e.g. `2.11.2`.
    pub fn version(&self) -> &str {
        &self.client.version
    }

    /// What the adapter remembers now.
    pub fn remembered(&self) -> Result<AdapterState, SchedulerError> {
        self.state.load()
    }

    async fn dags(&self, query: &[(&str, String)]) -> Result<Vec<Value>, SchedulerError> {
        self.client
            .list("list DAGs", &["dags"], "dags", query)
            .await
    }

    async fn set_paused(&self, dag: &str, paused: bool) -> Result<(), SchedulerError> {
        let done: Option<Value> = self
            .client
            .send(
                "pause a DAG",
                Method::PATCH,
                &["dags", dag],
                &[("update_mask", "is_paused".into())],
                Some(&json!({ "is_paused": paused })),
            )
            .await?;
        if done.is_none() {
            tracing::warn!(dag, "DAG no longer exists; nothing to (un)pause");
        }
        Ok(())
    }

    async fn pool_slots(&self) -> Result<i64, SchedulerError> {
        let pool: Value = self
            .client
            .get("read the default pool", "pools/default_pool", &[])
            .await?;
        pool.get("slots")
            .and_then(Value::as_i64)
            .ok_or_else(|| SchedulerError::InvalidResponse {
                operation: "read the default pool",
                detail: "default_pool has no slots".into(),
            })
    }

    async fn set_pool_slots(&self, slots: i64) -> Result<(), SchedulerError> {
        let _: Option<Value> = self
            .client
            .send(
                "set the default pool's slots",
                Method::PATCH,
                &["pools", POOL],
                &[("update_mask", "slots".into())],
                Some(&json!({ "name": POOL, "slots": slots })),
            )
            .await?;
        Ok(())
    }

    async fn turn_scheduling(&self, on: bool) -> Result<(), SchedulerError> {
        let _guard = self.lock.lock().await;
        let mut st = self.state.load()?;
        if on {
            let Some(paused) = st.paused_by_us.clone() else {
                return Ok(());
            };
            for dag in &paused {
                self.set_paused(dag, false).await?;
            }
            st.paused_by_us = None;
            return self.state.save(&st);
        }
        // Off: remember first (or keep what an interrupted call remembered), then pause.
        let paused = match st.paused_by_us.clone() {
            Some(p) => p,
            None => {
                let unpaused = self.dags(&[("paused", "false".into())]).await?;
                let ids: Vec<String> = unpaused
                    .iter()
                    .filter(|d| d.get("is_paused").and_then(Value::as_bool) != Some(true))
                    .filter_map(|d| d.get("dag_id").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                st.paused_by_us = Some(ids.clone());
                self.state.save(&st)?;
                ids
            }
        };
        for dag in &paused {
            self.set_paused(dag, true).await?;
        }
        Ok(())
    }

    async fn turn_execution(&self, on: bool) -> Result<(), SchedulerError> {
        let _guard = self.lock.lock().await;
        let mut st = self.state.load()?;
        if on {
            let Some(slots) = st.pool_slots_before else {
                return Ok(());
            };
            self.set_pool_slots(slots).await?;
            st.pool_slots_before = None;
            return self.state.save(&st);
        }
        if st.pool_slots_before.is_none() {
            st.pool_slots_before = Some(self.pool_slots().await?);
            self.state.save(&st)?;
        }
        self.set_pool_slots(0).await
    }

    async fn run(&self, dag: &str, run_id: &str) -> Result<Option<Value>, SchedulerError> {
        self.client
            .send(
                "read a DAG run",
                Method::GET,
                &["dags", dag, "dagRuns", run_id],
                &[],
                None,
            )
            .await
    }

    /// The DAG run, waiting up to [`LOAD_WAIT`] while Airflow answers 404 for it: a version
    /// that has just started knows a DAG (and its runs) only once it has parsed the DAG
    /// file again. `None` when it is still unknown after that.
    async fn run_when_loaded(
        &self,
        dag: &str,
        run_id: &str,
    ) -> Result<Option<Value>, SchedulerError> {
        let deadline = tokio::time::Instant::now() + LOAD_WAIT;
        loop {
            if let Some(run) = self.run(dag, run_id).await? {
                return Ok(Some(run));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }

    /// Clears the failed tasks of one run, waiting up to [`LOAD_WAIT`] while Airflow
    /// answers 404 (it knows the run but has not parsed the DAG file again yet).
    async fn clear_when_loaded(
        &self,
        dag: &str,
        run_id: &str,
    ) -> Result<Option<Value>, SchedulerError> {
        let deadline = tokio::time::Instant::now() + LOAD_WAIT;
        loop {
            let cleared: Option<Value> = self
                .client
                .send(
                    "clear a DAG run's failed tasks",
                    Method::POST,
                    &["dags", dag, "clearTaskInstances"],
                    &[],
                    Some(&json!({
                        "dry_run": false,
                        "dag_run_id": run_id,
                        "only_failed": true,
                        "reset_dag_runs": true,
                        "include_downstream": true,
                    })),
                )
                .await?;
            if cleared.is_some() || tokio::time::Instant::now() >= deadline {
                return Ok(cleared);
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }

    /// DAG runs whose logical date falls in `from..=to`, optionally in one state.
    async fn runs_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        state: Option<&str>,
    ) -> Result<Vec<Value>, SchedulerError> {
        // 2.x filters on execution_date. 3.x may have no logical date (manual runs), so it
        // filters on run_after widened by two days each side (a daily run comes after its
        // logical day); the exact logical day is checked below.
        let mut query = if self.client.major >= 3 {
            let wide_from = from - chrono::Days::new(2);
            let wide_to = to + chrono::Days::new(2);
            let (start, end) = map::day_bounds(wide_from, wide_to);
            vec![("run_after_gte", start), ("run_after_lte", end)]
        } else {
            let (start, end) = map::day_bounds(from, to);
            vec![("execution_date_gte", start), ("execution_date_lte", end)]
        };
        if let Some(s) = state {
            query.push(("state", s.to_owned()));
        }
        let runs = self
            .client
            .list(
                "list DAG runs",
                &["dags", "~", "dagRuns"],
                "dag_runs",
                &query,
            )
            .await?;
        // `_lte` is inclusive, and 3.x's filter is wider than the days asked for: keep the
        // runs whose logical day is in range.
        Ok(runs
            .into_iter()
            .filter(|r| {
                map::logical_time(r)
                    .map(|t| {
                        let d = t.date_naive();
                        d >= from && d <= to
                    })
                    .unwrap_or(false)
            })
            .collect())
    }

    async fn owners(&self) -> Result<HashMap<String, String>, SchedulerError> {
        Ok(self
            .dags(&[])
            .await?
            .iter()
            .filter_map(|d| {
                d.get("dag_id")
                    .and_then(Value::as_str)
                    .map(|id| (id.to_owned(), map::owner(d)))
            })
            .collect())
    }
}

#[async_trait]
impl SchedulerAdapter for AirflowAdapter {
    fn describe(&self) -> String {
        format!("airflow {} {}", self.client.version, self.client_base())
    }

    async fn toggles(&self) -> Result<Vec<Toggles>, SchedulerError> {
        let st = self.state.load()?;
        let slots = self.pool_slots().await?;
        Ok(vec![Toggles {
            environment: Environment::Prod,
            scheduling: st.paused_by_us.is_none(),
            execution: st.pool_slots_before.is_none() && slots > 0,
        }])
    }

    async fn set_toggles(
        &self,
        environment: Environment,
        change: ToggleChange,
    ) -> Result<Toggles, SchedulerError> {
        if environment != Environment::Prod {
            return Err(refuse(
                "set toggles",
                format!("Airflow has one environment, prod; {environment} does not exist"),
            ));
        }
        if let Some(on) = change.scheduling {
            self.turn_scheduling(on).await?;
        }
        if let Some(on) = change.execution {
            self.turn_execution(on).await?;
        }
        Ok(self.toggles().await?.into_iter().next().unwrap_or(Toggles {
            environment,
            scheduling: true,
            execution: true,
        }))
    }

    async fn running_instances(&self) -> Result<Vec<Instance>, SchedulerError> {
        let owners = self.owners().await?;
        let mut out = Vec::new();
        for state in ["running", "queued"] {
            let runs = self
                .client
                .list(
                    "list running DAG runs",
                    &["dags", "~", "dagRuns"],
                    "dag_runs",
                    &[("state", state.into())],
                )
                .await?;
            let tasks = if state == "running" {
                self.client
                    .list(
                        "list running task instances",
                        &["dags", "~", "dagRuns", "~", "taskInstances"],
                        "task_instances",
                        &[("state", "running".into())],
                    )
                    .await?
            } else {
                Vec::new()
            };
            for run in &runs {
                let dag = run
                    .get("dag_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let run_id = run
                    .get("dag_run_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let task = tasks
                    .iter()
                    .find(|t| {
                        t.get("dag_id").and_then(Value::as_str) == Some(dag)
                            && t.get("dag_run_id").and_then(Value::as_str) == Some(run_id)
                    })
                    .and_then(|t| t.get("task_id").and_then(Value::as_str));
                let owner = owners.get(dag).map_or("airflow", String::as_str);
                let instance = map::instance(run, task, owner).map_err(|detail| {
                    SchedulerError::InvalidResponse {
                        operation: "list running DAG runs",
                        detail,
                    }
                })?;
                out.push(instance);
            }
        }
        Ok(out)
    }

    async fn terminate(&self, ids: &[String]) -> Result<TerminateOutcome, SchedulerError> {
        let mut out = TerminateOutcome::default();
        for id in ids {
            let (dag, run_id) = map::split_id(id).map_err(|m| refuse("terminate", m))?;
            let Some(run) = self.run(dag, run_id).await? else {
                out.not_found.push(id.clone());
                continue;
            };
            let state = run.get("state").and_then(Value::as_str).unwrap_or_default();
            if map::finished(state) {
                out.already_finished.push(id.clone());
                continue;
            }
            let _: Option<Value> = self
                .client
                .send(
                    "mark a DAG run failed",
                    Method::PATCH,
                    &["dags", dag, "dagRuns", run_id],
                    &[],
                    Some(&json!({ "state": "failed" })),
                )
                .await?;
            out.terminated.push(id.clone());
        }
        Ok(out)
    }

    async fn rerun(
        &self,
        request_id: &str,
        ids: &[String],
    ) -> Result<RerunOutcome, SchedulerError> {
        if request_id.trim().is_empty() {
            return Err(refuse("re-run", "the re-run request id is empty".into()));
        }
        let _guard = self.lock.lock().await;
        let mut st = self.state.load()?;
        let mut outcome = st.reruns.get(request_id).cloned().unwrap_or_default();
        for id in ids {
            let done = outcome.rerun.iter().any(|r| &r.id == id)
                || outcome.skipped.iter().any(|s| &s.id == id);
            if done {
                continue;
            }
            let (dag, run_id) = map::split_id(id).map_err(|m| refuse("re-run", m))?;
            match self.run_when_loaded(dag, run_id).await? {
                None => outcome.skipped.push(RerunSkipped {
                    id: id.clone(),
                    reason: "the DAG run does not exist".into(),
                }),
                Some(run) if run.get("state").and_then(Value::as_str) != Some("failed") => {
                    outcome.skipped.push(RerunSkipped {
                        id: id.clone(),
                        reason: format!(
                            "the DAG run is {}, not failed",
                            run.get("state")
                                .and_then(Value::as_str)
                                .unwrap_or("unknown")
                        ),
                    })
                }
                Some(_) => {
                    let cleared = self.clear_when_loaded(dag, run_id).await?;
                    if cleared.is_none() {
                        return Err(SchedulerError::Rejected {
                            operation: "clear a DAG run's failed tasks",
                            status: 503,
                            code: "dag_not_loaded".into(),
                            message: format!(
                                "Airflow does not know DAG {dag} yet; retry once its DAG files are parsed"
                            ),
                        });
                    }
                    outcome.rerun.push(Rerun {
                        id: id.clone(),
                        new_id: id.clone(),
                    });
                }
            }
            // One run at a time is recorded, so a crash never clears a run twice.
            st.reruns.insert(request_id.to_owned(), outcome.clone());
            self.state.save(&st)?;
        }
        st.reruns.insert(request_id.to_owned(), outcome.clone());
        self.state.save(&st)?;
        Ok(outcome)
    }

    async fn statistics(
        &self,
        query: &StatisticsQuery,
    ) -> Result<Vec<StatisticsRow>, SchedulerError> {
        if query.environment == Some(Environment::Dev) {
            return Ok(Vec::new());
        }
        let owners = self.owners().await?;
        let runs = self.runs_between(query.from, query.to, None).await?;
        let mut counts: HashMap<(NaiveDate, InstanceStatus, String), u64> = HashMap::new();
        for run in &runs {
            let Some(status) = run
                .get("state")
                .and_then(Value::as_str)
                .and_then(map::status)
            else {
                continue;
            };
            let Some(date) = map::logical_time(run).map(|t| t.date_naive()) else {
                continue;
            };
            let dag = run
                .get("dag_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let tenant = owners.get(dag).cloned().unwrap_or_else(|| "airflow".into());
            if query.tenant.as_ref().is_some_and(|t| *t != tenant) {
                continue;
            }
            *counts.entry((date, status, tenant)).or_default() += 1;
        }
        let mut rows: Vec<StatisticsRow> = counts
            .into_iter()
            .map(|((business_date, status, tenant), count)| StatisticsRow {
                business_date,
                status,
                tenant,
                count,
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.business_date, &a.tenant, format!("{:?}", a.status)).cmp(&(
                b.business_date,
                &b.tenant,
                format!("{:?}", b.status),
            ))
        });
        Ok(rows)
    }

    async fn failed_today_succeeded_yesterday(
        &self,
        today: NaiveDate,
    ) -> Result<Vec<FailedInstance>, SchedulerError> {
        let yesterday = today.pred_opt().unwrap_or(today);
        let succeeded: std::collections::HashSet<String> = self
            .runs_between(yesterday, yesterday, Some("success"))
            .await?
            .iter()
            .filter_map(|r| r.get("dag_id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let failed = self.runs_between(today, today, Some("failed")).await?;
        Ok(failed
            .iter()
            .filter(|r| {
                r.get("dag_id")
                    .and_then(Value::as_str)
                    .is_some_and(|d| succeeded.contains(d))
            })
            .filter_map(|r| {
                let i = map::instance(r, None, "airflow").ok()?;
                Some(FailedInstance {
                    instance_id: i.id,
                    node_id: i.node_id,
                    task_name: i.workflow,
                    node_type: i.node_type,
                    schedule_type: i.schedule_type,
                    updated_at: i.updated_at,
                    status: InstanceStatus::Failed,
                })
            })
            .collect())
    }
}

impl AirflowAdapter {
    fn client_base(&self) -> String {
        self.client.base_url()
    }
}
