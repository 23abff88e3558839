//! A small axum implementation of the scheduler contract, with a few misbehaving corners
//! the client must handle (slow answers, wrong bodies, 503).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

#[derive(Default)]
struct Inner {
    toggles: BTreeMap<String, (bool, bool)>,
    instances: Vec<(String, String)>,
    reruns: HashMap<String, Value>,
    started: u64,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeScheduler {
    pub base_url: String,
    state: Shared,
}

impl FakeScheduler {
    pub fn reruns_started(&self) -> u64 {
        self.state.lock().unwrap().started
    }
}

pub async fn start() -> FakeScheduler {
    let mut inner = Inner::default();
    inner.toggles.insert("dev".into(), (false, true));
    inner.toggles.insert("prod".into(), (true, true));
    inner.instances = vec![
        ("i-1".into(), "running".into()),
        ("i-2".into(), "running".into()),
        ("i-3".into(), "succeeded".into()),
    ];
    let state: Shared = Arc::new(Mutex::new(inner));
    let app = Router::new()
        .route(
            "/health",
            get(|| async { Json(json!({"status": "ok", "version": "1.0.0"})) }),
        )
        .route("/changeover/v1/toggles", get(toggles))
        .route("/changeover/v1/toggles/{environment}", put(set_toggles))
        .route("/changeover/v1/instances", get(instances))
        .route("/changeover/v1/instances/terminate", post(terminate))
        .route("/changeover/v1/instances/rerun", post(rerun))
        .route("/changeover/v1/statistics", get(statistics))
        .route(
            "/changeover/v1/failed-today-succeeded-yesterday",
            get(failed_today),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeScheduler {
        base_url: format!("http://{address}"),
        state,
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn toggle_json(environment: &str, (scheduling, execution): (bool, bool)) -> Value {
    json!({"environment": environment, "scheduling": scheduling, "execution": execution})
}

async fn toggles(State(state): State<Shared>) -> Json<Value> {
    let inner = state.lock().unwrap();
    Json(Value::Array(
        inner
            .toggles
            .iter()
            .map(|(env, t)| toggle_json(env, *t))
            .collect(),
    ))
}

async fn set_toggles(
    State(state): State<Shared>,
    Path(environment): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut inner = state.lock().unwrap();
    let Some(current) = inner.toggles.get(&environment).copied() else {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_environment",
            "no such environment",
        );
    };
    let scheduling = body["scheduling"].as_bool().unwrap_or(current.0);
    let execution = body["execution"].as_bool().unwrap_or(current.1);
    if environment == "dev" && scheduling {
        return error(
            StatusCode::CONFLICT,
            "dev_scheduling_always_off",
            "scheduling stays off in dev",
        );
    }
    inner
        .toggles
        .insert(environment.clone(), (scheduling, execution));
    Json(toggle_json(&environment, (scheduling, execution))).into_response()
}

fn instance_json(id: &str, status: &str) -> Value {
    json!({
        "id": id, "workflow": "daily", "task": "load_orders", "node_id": format!("n-{id}"),
        "node_type": "SHELL", "schedule_type": "scheduled", "tenant": "finance",
        "environment": "prod", "business_date": "2026-11-22", "status": status,
        "started_at": "2026-11-23T01:00:00Z", "updated_at": "2026-11-23T01:05:00Z"
    })
}

async fn instances(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    let inner = state.lock().unwrap();
    let wanted = query.get("status").cloned();
    Json(Value::Array(
        inner
            .instances
            .iter()
            .filter(|(_, status)| wanted.as_ref().is_none_or(|w| w == status))
            .map(|(id, status)| instance_json(id, status))
            .collect(),
    ))
}

async fn terminate(State(state): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    let mut inner = state.lock().unwrap();
    let (mut terminated, mut finished, mut missing) = (vec![], vec![], vec![]);
    for id in body["ids"].as_array().into_iter().flatten() {
        let id = id.as_str().unwrap_or_default().to_owned();
        match inner.instances.iter_mut().find(|(i, _)| *i == id) {
            Some((_, status)) if status == "running" => {
                *status = "killed".into();
                terminated.push(id);
            }
            Some(_) => finished.push(id),
            None => missing.push(id),
        }
    }
    Json(json!({"terminated": terminated, "already_finished": finished, "not_found": missing}))
}

async fn rerun(State(state): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    let mut inner = state.lock().unwrap();
    let request_id = body["request_id"].as_str().unwrap_or_default().to_owned();
    if let Some(answer) = inner.reruns.get(&request_id) {
        return Json(answer.clone());
    }
    let mut rerun = vec![];
    for id in body["ids"].as_array().into_iter().flatten() {
        inner.started += 1;
        let new_id = format!("r-{}", inner.started);
        rerun.push(json!({"id": id, "new_id": new_id}));
    }
    let answer = json!({"rerun": rerun, "skipped": []});
    inner.reruns.insert(request_id, answer.clone());
    Json(answer)
}

async fn statistics(Query(query): Query<HashMap<String, String>>) -> Response {
    let tenant = query.get("tenant").cloned().unwrap_or_else(|| "all".into());
    if tenant == "slow" {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let from = query.get("from").cloned().unwrap_or_default();
    Json(json!([{"business_date": from, "status": "succeeded", "tenant": tenant, "count": 42}]))
        .into_response()
}

async fn failed_today(Query(query): Query<HashMap<String, String>>) -> Response {
    match query.get("today").map(String::as_str) {
        Some("1999-01-01") => Json(json!({"not": "a list"})).into_response(),
        Some("2000-01-01") => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "metadata_unavailable",
            "metadata database is restarting",
        ),
        _ => Json(json!([{
            "instance_id": "i-9", "node_id": "n-9", "task_name": "load_orders",
            "node_type": "SHELL", "schedule_type": "scheduled",
            "updated_at": "2026-11-23T02:00:00Z", "status": "failed"
        }]))
        .into_response(),
    }
}
