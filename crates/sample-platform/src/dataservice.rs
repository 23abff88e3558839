//! The data service: an always-on read API over the metadata.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sqlx::Row;

use crate::api_error::{ApiError, parse_date};
use crate::{Metadb, MetadbError, PlatformVersion};

#[derive(Debug, Clone)]
pub struct DataService {
    pub db: Metadb,
    pub version: PlatformVersion,
}

pub fn router(state: DataService) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/api/instances", get(list))
        .route("/api/instances/{id}", get(one))
        .route("/api/summary", get(summary))
        .with_state(state)
}

async fn health(State(s): State<DataService>) -> Json<Value> {
    Json(json!({ "status": "ok", "version": s.version.as_str() }))
}

fn columns(version: PlatformVersion) -> &'static str {
    if version.has_owner() {
        "id, workflow, task, status, business_date, owner"
    } else {
        "id, workflow, task, status, business_date"
    }
}

fn row_json(row: &sqlx::any::AnyRow, version: PlatformVersion) -> Result<Value, MetadbError> {
    let mut out = Map::new();
    let id: i64 = row.try_get("id")?;
    out.insert("id".into(), json!(id.to_string()));
    for name in ["workflow", "task", "status", "business_date"] {
        out.insert(name.into(), json!(row.try_get::<String, _>(name)?));
    }
    if version.has_owner() {
        out.insert(
            "owner".into(),
            json!(row.try_get::<Option<String>, _>("owner")?),
        );
    }
    Ok(Value::Object(out))
}

#[derive(Deserialize)]
struct ListQuery {
    date: Option<String>,
}

async fn list(
    State(s): State<DataService>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let cols = columns(s.version);
    let rows = match &q.date {
        Some(date) => {
            let date = parse_date("date", date)?.to_string();
            let sql =
                format!("SELECT {cols} FROM task_instance WHERE business_date = $1 ORDER BY id");
            sqlx::query(sqlx::AssertSqlSafe(s.db.sql(&sql)))
                .bind(date)
                .fetch_all(&s.db.pool)
                .await
        }
        None => {
            let sql = format!("SELECT {cols} FROM task_instance ORDER BY id");
            sqlx::query(sqlx::AssertSqlSafe(s.db.sql(&sql)))
                .fetch_all(&s.db.pool)
                .await
        }
    }
    .map_err(MetadbError::from)?;
    let list = rows
        .iter()
        .map(|r| row_json(r, s.version))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Value::Array(list)))
}

async fn one(
    State(s): State<DataService>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "instance_not_found",
            format!("no instance with id {id:?}"),
        )
    };
    let number: i64 = id.parse().map_err(|_| not_found())?;
    let sql = format!(
        "SELECT {} FROM task_instance WHERE id = $1",
        columns(s.version)
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(s.db.sql(&sql)))
        .bind(number)
        .fetch_optional(&s.db.pool)
        .await
        .map_err(MetadbError::from)?;
    match row {
        Some(row) => Ok(Json(row_json(&row, s.version)?)),
        None => Err(not_found()),
    }
}

async fn summary(State(s): State<DataService>) -> Result<Json<Value>, ApiError> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM task_instance GROUP BY status")
        .fetch_all(&s.db.pool)
        .await
        .map_err(MetadbError::from)?;
    let mut by_status = Map::new();
    let mut total = 0i64;
    for row in rows {
        let n: i64 = row.try_get("n").map_err(MetadbError::from)?;
        total += n;
        by_status.insert(
            row.try_get::<String, _>("status")
                .map_err(MetadbError::from)?,
            json!(n),
        );
    }
    Ok(Json(
        json!({ "total": total, "by_status": by_status, "version": s.version.as_str() }),
    ))
}
