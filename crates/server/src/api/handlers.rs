//! The endpoint handlers. Each gets the signed-in [`Caller`] from the request extensions
//! (put there by the role check in [`super::endpoints`]) when it needs to know who asks.

use std::net::SocketAddr;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Api;
use super::error::ApiError;
use crate::auth::{self, Caller, Secret};

/// A malformed body or query as an API error (400 `bad_request`) instead of axum's text.
pub(super) fn bad_json<T>(given: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    given.map(|Json(v)| v).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the request body is not valid: {}", e.body_text()),
        )
    })
}

pub(super) fn bad_query<T>(given: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    given.map(|Query(v)| v).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the query string is not valid: {}", e.body_text()),
        )
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    name: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    token: String,
    name: String,
    role: String,
}

pub async fn login(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<LoginResponse>, ApiError> {
    let body = bad_json(body)?;
    let password = Secret::new(body.password);
    let (who, token) = auth::login(&api.store, &peer.to_string(), &body.name, &password).await?;
    Ok(Json(LoginResponse {
        token: token.expose().to_owned(),
        name: who.name,
        role: who.role.to_string(),
    }))
}

/// The signed-in user.
#[derive(Serialize, ToSchema)]
pub struct Me {
    name: String,
    /// `viewer`, `operator` or `admin`.
    role: String,
}

pub async fn me(Extension(caller): Extension<Caller>) -> Json<Me> {
    Json(Me {
        name: caller.name,
        role: caller.role.to_string(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionsQuery {
    platform: Option<String>,
}

/// A catalog entry and whether the platform runs that version now.
#[derive(Serialize)]
pub struct CatalogRow {
    #[serde(flatten)]
    entry: changeover_store::CatalogEntry,
    current: bool,
}

pub async fn versions(
    State(api): State<Api>,
    q: Result<Query<VersionsQuery>, QueryRejection>,
) -> Result<Json<Vec<CatalogRow>>, ApiError> {
    let q = bad_query(q)?;
    let entries = api.store.catalog().list(q.platform.as_deref()).await?;
    let platforms = api.store.platforms().list().await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|entry| CatalogRow {
                current: platforms.iter().any(|p| {
                    p.name == entry.platform && p.current_version.as_deref() == Some(&entry.version)
                }),
                entry,
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
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

/// The header on `GET /api/v1/upgrades/{id}` saying whether this server drives the record
/// right now (`true`/`false`): a client following an action polls until it is `false`.
pub const DRIVING_HEADER: &str = "changeover-driving";

pub async fn upgrade(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<([(&'static str, &'static str); 1], Json<serde_json::Value>), ApiError> {
    let row = api
        .store
        .upgrades()
        .get(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no upgrade record {id:?}")))?;
    let record = serde_json::from_str(&row.record).map_err(ApiError::internal)?;
    let driving = api
        .platform
        .as_ref()
        .and_then(|p| p.driving())
        .is_some_and(|d| d == id);
    Ok((
        [(DRIVING_HEADER, if driving { "true" } else { "false" })],
        Json(record),
    ))
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
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<changeover_store::audit::AuditEntry>>, ApiError> {
    let q = bad_query(q)?;
    let limit = q.limit.unwrap_or(100).min(MAX_AUDIT_LIMIT);
    Ok(Json(api.store.audit().recent(limit).await?))
}

#[derive(Serialize, ToSchema)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    role: String,
    password: String,
}

/// Adds a user (admin; audited with the caller and peer address).
pub async fn add_user(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<UserSummary>), ApiError> {
    let body = bad_json(body)?;
    super::versions::refuse_in_maintenance(&api).await?;
    let role: auth::Role = body.role.parse().map_err(|e: String| {
        ApiError::new(axum::http::StatusCode::BAD_REQUEST, "bad_request", e)
    })?;
    let peer = peer.to_string();
    let actor = auth::Actor {
        name: &caller.name,
        peer: &peer,
    };
    auth::add_user(
        &api.store,
        &actor,
        &body.name,
        role,
        &Secret::new(body.password),
    )
    .await?;
    let user = api
        .store
        .users()
        .get(&body.name)
        .await?
        .ok_or_else(|| ApiError::internal("a user just added is missing"))?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(UserSummary {
            name: user.name,
            role: user.role,
            created_at: changeover_store::time::to_db(user.created_at),
        }),
    ))
}

/// Whether the platform is in maintenance mode, and the announcement.
pub async fn maintenance(
    State(api): State<Api>,
) -> Result<Json<crate::gateway::Maintenance>, ApiError> {
    crate::gateway::maintenance::read(&api.store)
        .await
        .map(Json)
        .map_err(ApiError::internal)
}
