//! Admin endpoints the demo and tests use: define workflows and trigger runs.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api_error::{ApiError, parse_body, parse_date};
use crate::instances::{ENVIRONMENTS, SCHEDULE_TYPES, Workflow};
use crate::scheduler::{Scheduler, cron_schedule};

pub fn router() -> Router<Scheduler> {
    Router::new()
        .route("/", get(console))
        .route("/admin/workflows", post(add_workflow))
        .route("/admin/workflows/{name}/trigger", post(trigger))
}

/// The platform's web console (a one-line page: what a gateway's console route points at).
async fn console(State(scheduler): State<Scheduler>) -> Html<String> {
    Html(format!(
        "<!doctype html><title>sample scheduler</title><h1>sample scheduler {}</h1>",
        scheduler.version
    ))
}

/// Checks a workflow definition, naming the first thing wrong.
pub fn validate(workflow: &Workflow) -> Result<(), String> {
    if workflow.name.trim().is_empty() {
        return Err("workflow name must not be empty".to_owned());
    }
    if !ENVIRONMENTS.contains(&workflow.environment.as_str()) {
        return Err(format!(
            "workflow {}: unknown environment {:?}, expected dev or prod",
            workflow.name, workflow.environment
        ));
    }
    if workflow.tasks.is_empty() {
        return Err(format!(
            "workflow {} needs at least one task",
            workflow.name
        ));
    }
    if let Some(cron) = &workflow.cron {
        cron_schedule(cron).map_err(|e| format!("workflow {}: {e}", workflow.name))?;
    }
    Ok(())
}

async fn add_workflow(
    State(s): State<Scheduler>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let workflow: Workflow = parse_body(&body)?;
    validate(&workflow).map_err(|m| ApiError::bad_request("invalid_workflow", m))?;
    if s.db.workflow(&workflow.name).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "workflow_exists",
            format!("workflow {} already exists", workflow.name),
        ));
    }
    s.db.add_workflow(&workflow).await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": workflow.name }))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerRequest {
    schedule_type: String,
    business_date: Option<String>,
}

async fn trigger(
    State(s): State<Scheduler>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request: TriggerRequest = parse_body(&body)?;
    if !SCHEDULE_TYPES.contains(&request.schedule_type.as_str()) {
        return Err(ApiError::bad_request(
            "invalid_schedule_type",
            format!(
                "unknown schedule_type {:?}: expected scheduled, backfill or adhoc",
                request.schedule_type
            ),
        ));
    }
    let date = match &request.business_date {
        Some(d) => parse_date("business_date", d)?,
        None => chrono::Utc::now().date_naive(),
    };
    let Some(workflow) = s.db.workflow(&name).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_workflow",
            format!("no workflow named {name:?}"),
        ));
    };
    let id = s
        .trigger(&workflow, &request.schedule_type, &date.to_string())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "instance_id": id.to_string() })),
    ))
}
