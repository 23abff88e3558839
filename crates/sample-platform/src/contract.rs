//! The changeover scheduler contract under `/changeover/v1` (documented in
//! `docs/scheduler-contract.openapi.yaml`).

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::api_error::{ApiError, parse_body, parse_date};
use crate::instances::{ENVIRONMENTS, Instance, NewInstance, STATUSES};
use crate::scheduler::Scheduler;
use crate::{now_text, task};

/// Every contract route `(method, path)` the server serves.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/changeover/v1/toggles"),
    ("put", "/changeover/v1/toggles/{environment}"),
    ("get", "/changeover/v1/instances"),
    ("post", "/changeover/v1/instances/terminate"),
    ("post", "/changeover/v1/instances/rerun"),
    ("get", "/changeover/v1/statistics"),
    ("get", "/changeover/v1/failed-today-succeeded-yesterday"),
];

pub fn router() -> Router<Scheduler> {
    Router::new()
        .route("/health", get(health))
        .route("/changeover/v1/toggles", get(toggles))
        .route("/changeover/v1/toggles/{environment}", put(set_toggles))
        .route("/changeover/v1/instances", get(instances))
        .route("/changeover/v1/instances/terminate", post(terminate))
        .route("/changeover/v1/instances/rerun", post(rerun))
        .route("/changeover/v1/statistics", get(statistics))
        .route(
            "/changeover/v1/failed-today-succeeded-yesterday",
            get(failed_today_succeeded_yesterday),
        )
}

async fn health(State(s): State<Scheduler>) -> Json<Value> {
    Json(json!({ "status": "ok", "version": s.version.as_str() }))
}

fn toggle_json(environment: &str, scheduling: bool, execution: bool) -> Value {
    json!({ "environment": environment, "scheduling": scheduling, "execution": execution })
}

async fn toggles(State(s): State<Scheduler>) -> Result<Json<Value>, ApiError> {
    let list: Vec<Value> =
        s.db.toggles()
            .await?
            .iter()
            .map(|(env, sch, exe)| toggle_json(env, *sch, *exe))
            .collect();
    Ok(Json(Value::Array(list)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToggleChange {
    scheduling: Option<bool>,
    execution: Option<bool>,
}

async fn set_toggles(
    State(s): State<Scheduler>,
    Path(environment): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let change: ToggleChange = parse_body(&body)?;
    let current = s.db.toggles().await?;
    let Some((_, scheduling, execution)) = current.iter().find(|(e, _, _)| *e == environment)
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_environment",
            format!("unknown environment {environment:?}: expected dev or prod"),
        ));
    };
    let scheduling = change.scheduling.unwrap_or(*scheduling);
    let execution = change.execution.unwrap_or(*execution);
    if environment == "dev" && scheduling {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "dev_scheduling_always_off",
            "the scheduling toggle of the dev environment is always off and cannot be turned on",
        ));
    }
    s.db.set_toggles(&environment, scheduling, execution)
        .await?;
    tracing::info!(%environment, scheduling, execution, "toggles changed");
    Ok(Json(toggle_json(&environment, scheduling, execution)))
}

/// The contract's view of an instance.
pub fn contract_instance(i: &Instance) -> Value {
    json!({
        "id": i.id.to_string(),
        "workflow": i.workflow,
        "task": i.task,
        "node_id": i.node_id(),
        "node_type": i.node_type,
        "schedule_type": i.schedule_type,
        "tenant": i.tenant,
        "environment": i.environment,
        "business_date": i.business_date,
        "status": i.status,
        "started_at": i.started_at,
        "updated_at": i.updated_at,
    })
}

#[derive(Deserialize)]
struct InstancesQuery {
    status: Option<String>,
}

async fn instances(
    State(s): State<Scheduler>,
    Query(q): Query<InstancesQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(status) = &q.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::bad_request(
            "invalid_status",
            format!(
                "unknown status {status:?}: expected one of {}",
                STATUSES.join(", ")
            ),
        ));
    }
    let list = s.db.instances(q.status.as_deref()).await?;
    Ok(Json(Value::Array(
        list.iter().map(contract_instance).collect(),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TerminateRequest {
    ids: Vec<String>,
}

async fn terminate(State(s): State<Scheduler>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: TerminateRequest = parse_body(&body)?;
    let (mut terminated, mut already_finished, mut not_found) = (vec![], vec![], vec![]);
    for id_text in request.ids {
        let found = match id_text.parse::<i64>() {
            Ok(id) => s.db.instance(id).await?,
            Err(_) => None,
        };
        let Some(instance) = found else {
            not_found.push(id_text);
            continue;
        };
        if s.db
            .transition(instance.id, &["waiting", "running"], "killed", None)
            .await?
        {
            if instance.status == "running"
                && let Some(pid) = running_pid(&s, &instance).await?
            {
                task::terminate(pid).await;
            }
            tracing::info!(id = instance.id, "instance terminated");
            terminated.push(id_text);
        } else {
            already_finished.push(id_text);
        }
    }
    Ok(Json(json!({
        "terminated": terminated,
        "already_finished": already_finished,
        "not_found": not_found,
    })))
}

/// How long terminate waits for a just-dispatched task to show its pid.
const PID_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The pid of a running instance; a task dispatched a moment ago may not have it recorded
/// yet, so wait briefly for the database or the wrapper's pid file.
async fn running_pid(s: &Scheduler, instance: &Instance) -> Result<Option<i64>, ApiError> {
    let deadline = tokio::time::Instant::now() + PID_WAIT;
    let mut pid = instance.pid;
    while pid.is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        pid = task::read_pid(&s.data_dir, instance.id).or(s
            .db
            .instance(instance.id)
            .await?
            .and_then(|i| i.pid));
    }
    Ok(pid)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RerunRequest {
    request_id: String,
    ids: Vec<String>,
}

async fn rerun(State(s): State<Scheduler>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: RerunRequest = parse_body(&body)?;
    if request.request_id.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_request_id",
            "request_id must not be empty: it makes the re-run happen once",
        ));
    }
    if let Some(answer) = stored_rerun(&s, &request.request_id).await? {
        return Ok(Json(answer));
    }
    let (mut rerun, mut skipped) = (vec![], vec![]);
    for id_text in &request.ids {
        let found = match id_text.parse::<i64>() {
            Ok(id) => s.db.instance(id).await?,
            Err(_) => None,
        };
        let Some(old) = found else {
            skipped.push(json!({ "id": id_text, "reason": "not_found" }));
            continue;
        };
        if !old.is_finished() {
            skipped.push(json!({ "id": id_text, "reason": "not_finished" }));
            continue;
        }
        let new_id =
            s.db.insert_instance(&NewInstance {
                run_id: old.run_id.clone(),
                workflow: old.workflow.clone(),
                task: old.task.clone(),
                seq: old.seq,
                command: old.command.clone(),
                schedule_type: old.schedule_type.clone(),
                tenant: old.tenant.clone(),
                environment: old.environment.clone(),
                business_date: old.business_date.clone(),
                status: "waiting".to_owned(),
                rerun_of: Some(old.id),
                owner: s.version.has_owner().then(|| old.tenant.clone()),
            })
            .await?;
        rerun.push(json!({ "id": id_text, "new_id": new_id.to_string() }));
    }
    let answer = json!({ "rerun": rerun, "skipped": skipped });
    let stored = sqlx::query(sqlx::AssertSqlSafe(s.db.sql(
        "INSERT INTO rerun_request (request_id, response, created_at) VALUES ($1, $2, $3)",
    )))
    .bind(&request.request_id)
    .bind(answer.to_string())
    .bind(now_text())
    .execute(&s.db.pool)
    .await;
    if stored.is_err()
        && let Some(first) = stored_rerun(&s, &request.request_id).await?
    {
        // A concurrent call with the same id won: its answer is the answer.
        return Ok(Json(first));
    }
    stored.map_err(|e| ApiError::from(crate::MetadbError::from(e)))?;
    Ok(Json(answer))
}

async fn stored_rerun(s: &Scheduler, request_id: &str) -> Result<Option<Value>, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(
        s.db.sql("SELECT response FROM rerun_request WHERE request_id = $1"),
    ))
    .bind(request_id)
    .fetch_optional(&s.db.pool)
    .await
    .map_err(crate::MetadbError::from)?;
    Ok(row
        .and_then(|r| r.try_get::<String, _>("response").ok())
        .and_then(|text| serde_json::from_str(&text).ok()))
}

#[derive(Deserialize)]
struct StatisticsQuery {
    from: Option<String>,
    to: Option<String>,
    tenant: Option<String>,
    environment: Option<String>,
}

async fn statistics(
    State(s): State<Scheduler>,
    Query(q): Query<StatisticsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (Some(from), Some(to)) = (&q.from, &q.to) else {
        return Err(ApiError::bad_request(
            "missing_parameter",
            "statistics need both from=YYYY-MM-DD and to=YYYY-MM-DD",
        ));
    };
    let from = parse_date("from", from)?.to_string();
    let to = parse_date("to", to)?.to_string();
    if let Some(env) = &q.environment
        && !ENVIRONMENTS.contains(&env.as_str())
    {
        return Err(ApiError::bad_request(
            "invalid_environment",
            format!("unknown environment {env:?}: expected dev or prod"),
        ));
    }
    let mut sql = "SELECT business_date, status, tenant, COUNT(*) AS n FROM task_instance \
                   WHERE business_date >= $1 AND business_date <= $2"
        .to_owned();
    let mut next = 3;
    if q.tenant.is_some() {
        sql.push_str(&format!(" AND tenant = ${next}"));
        next += 1;
    }
    if q.environment.is_some() {
        sql.push_str(&format!(" AND environment = ${next}"));
    }
    sql.push_str(" GROUP BY business_date, status, tenant ORDER BY business_date, tenant, status");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(s.db.sql(&sql)))
        .bind(from)
        .bind(to);
    if let Some(tenant) = &q.tenant {
        query = query.bind(tenant.clone());
    }
    if let Some(env) = &q.environment {
        query = query.bind(env.clone());
    }
    let rows = query
        .fetch_all(&s.db.pool)
        .await
        .map_err(crate::MetadbError::from)?;
    let mut out = Vec::new();
    for row in rows {
        let count: i64 = row.try_get("n").map_err(crate::MetadbError::from)?;
        out.push(json!({
            "business_date": row.try_get::<String, _>("business_date").map_err(crate::MetadbError::from)?,
            "status": row.try_get::<String, _>("status").map_err(crate::MetadbError::from)?,
            "tenant": row.try_get::<String, _>("tenant").map_err(crate::MetadbError::from)?,
            "count": count,
        }));
    }
    Ok(Json(Value::Array(out)))
}

#[derive(Deserialize)]
struct FailedQuery {
    today: Option<String>,
}

async fn failed_today_succeeded_yesterday(
    State(s): State<Scheduler>,
    Query(q): Query<FailedQuery>,
) -> Result<Json<Value>, ApiError> {
    let today = match &q.today {
        Some(t) => parse_date("today", t)?,
        None => chrono::Utc::now().date_naive(),
    };
    let yesterday = today.pred_opt().unwrap_or(today).to_string();
    let today = today.to_string();
    let all = s.db.instances(None).await?;
    let succeeded_yesterday: Vec<String> = all
        .iter()
        .filter(|i| i.business_date == yesterday && i.status == "succeeded")
        .map(Instance::node_id)
        .collect();
    // The latest instance of each node today decides (a successful re-run clears it).
    let mut latest_today: HashMap<String, &Instance> = HashMap::new();
    for i in all.iter().filter(|i| i.business_date == today) {
        let entry = latest_today.entry(i.node_id()).or_insert(i);
        if i.id > entry.id {
            *entry = i;
        }
    }
    let sorted: BTreeMap<i64, &Instance> = latest_today
        .values()
        .filter(|i| i.status == "failed" && succeeded_yesterday.contains(&i.node_id()))
        .map(|i| (i.id, *i))
        .collect();
    let out: Vec<Value> = sorted
        .values()
        .map(|i| {
            json!({
                "instance_id": i.id.to_string(),
                "node_id": i.node_id(),
                "task_name": i.task,
                "node_type": i.node_type,
                "schedule_type": i.schedule_type,
                "updated_at": i.updated_at,
                "status": i.status,
            })
        })
        .collect();
    Ok(Json(Value::Array(out)))
}
