//! The endpoint handlers. Each gets the signed-in [`Caller`] from the request extensions
//! (put there by the role check in [`super::endpoints`]) when it needs to know who asks.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::Api;
use super::error::ApiError;
use crate::auth::{self, Caller, Secret};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    name: String,
    password: String,
}

#[derive(Serialize)]
pub struct LoginResponse {
    token: String,
    name: String,
    role: String,
}

pub async fn login(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let password = Secret::new(body.password);
    let (who, token) = auth::login(&api.store, &peer.to_string(), &body.name, &password).await?;
    Ok(Json(LoginResponse {
        token: token.expose().to_owned(),
        name: who.name,
        role: who.role.to_string(),
    }))
}

pub async fn me(Extension(caller): Extension<Caller>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"name": caller.name, "role": caller.role}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionsQuery {
    platform: Option<String>,
}

pub async fn versions(
    State(api): State<Api>,
    Query(q): Query<VersionsQuery>,
) -> Result<Json<Vec<changeover_store::CatalogEntry>>, ApiError> {
    Ok(Json(api.store.catalog().list(q.platform.as_deref()).await?))
}

#[derive(Serialize)]
pub struct UpgradeSummary {
    id: String,
    platform: String,
    from_version: String,
    to_version: String,
    mode: String,
    status: String,
    active: bool,
    created_at: String,
    updated_at: String,
}

pub async fn upgrades(State(api): State<Api>) -> Result<Json<Vec<UpgradeSummary>>, ApiError> {
    let rows = api.store.upgrades().list().await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| UpgradeSummary {
                id: r.id,
                platform: r.platform,
                from_version: r.from_version,
                to_version: r.to_version,
                mode: r.mode,
                status: r.status,
                active: r.active,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
            .collect(),
    ))
}

pub async fn upgrade(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let row = api
        .store
        .upgrades()
        .get(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no upgrade record {id:?}")))?;
    let record = serde_json::from_str(&row.record).map_err(ApiError::internal)?;
    Ok(Json(record))
}

/// The most audit entries one request returns.
const MAX_AUDIT_LIMIT: u32 = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<u32>,
}

pub async fn audit(
    State(api): State<Api>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<changeover_store::audit::AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(100).min(MAX_AUDIT_LIMIT);
    Ok(Json(api.store.audit().recent(limit).await?))
}

#[derive(Serialize)]
pub struct UserSummary {
    name: String,
    role: String,
    created_at: String,
}

pub async fn users(State(api): State<Api>) -> Result<Json<Vec<UserSummary>>, ApiError> {
    let rows = api.store.users().list().await?;
    Ok(Json(
        rows.into_iter()
            .map(|u| UserSummary {
                name: u.name,
                role: u.role,
                created_at: changeover_store::time::to_db(u.created_at),
            })
            .collect(),
    ))
}
