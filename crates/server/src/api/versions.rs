//! Version upload (validated exactly as `changeover version upload` does) and download of
//! the uploaded bytes; the refusal of changes outside the upgrade during maintenance.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use changeover_core::version::Version;
use changeover_engine::console::upload::{self, Known, UploadError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Api;
use super::error::ApiError;
use super::handlers::bad_query;
use crate::auth::{self, Caller};

/// Refuses a change outside the upgrade itself while maintenance mode is on (409
/// `maintenance`, naming the announcement).
pub async fn refuse_in_maintenance(api: &Api) -> Result<(), ApiError> {
    let m = crate::gateway::maintenance::read(&api.store)
        .await
        .map_err(ApiError::internal)?;
    if !m.on {
        return Ok(());
    }
    let mut said = format!(
        "maintenance mode is on for upgrade {}",
        m.upgrade_id.as_deref().unwrap_or("(unknown)")
    );
    if let Some(a) = &m.announcement {
        if let Some(until) = &a.estimated_completion {
            said.push_str(&format!(", expected to end {until}"));
        }
        if let Some(email) = &a.contact_email {
            said.push_str(&format!(", contact {email}"));
        }
        if let Some(phone) = &a.contact_phone {
            said.push_str(&format!(", {phone}"));
        }
    }
    said.push_str("; changes outside the upgrade wait until it ends");
    Err(ApiError::new(StatusCode::CONFLICT, "maintenance", said))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    #[serde(default)]
    overwrite: bool,
}

/// A stored upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadAnswer {
    version: String,
    /// `imported` (201) or `overwritten` (200).
    outcome: String,
    warnings: Vec<String>,
}

/// A bundle refused by validation (422): nothing was stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvalidBundle {
    /// `invalid_bundle`.
    code: String,
    message: String,
    /// Blocking errors (with their place: line and column, ZIP entry).
    errors: Vec<String>,
    /// Required configuration items without a value or default.
    missing: Vec<String>,
    warnings: Vec<String>,
}

fn invalid(
    message: String,
    errors: Vec<String>,
    missing: Vec<String>,
    warnings: Vec<String>,
) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(InvalidBundle {
            code: "invalid_bundle".into(),
            message,
            errors,
            missing,
            warnings,
        }),
    )
        .into_response()
}

/// `POST /api/v1/versions`: the raw bundle (`application/x-yaml` or `application/zip`).
pub async fn upload(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    q: Result<Query<UploadQuery>, QueryRejection>,
    body: Bytes,
) -> Response {
    let peer = peer.to_string();
    let actor = auth::Actor {
        name: &caller.name,
        peer: &peer,
    };
    let (what, answer) = upload_answer(&api, &headers, q, body).await;
    let refusal = match &answer {
        Ok(_) => None,
        Err(r) => Some(r.0.clone()),
    };
    auth::audit(
        &api.store,
        &actor,
        "version.upload",
        &what,
        refusal.as_deref().map_or(Ok(()), Err),
    )
    .await;
    match answer {
        Ok(r) | Err((_, r)) => r,
    }
}

/// The audit target and the answer (`Err` carries the refusal's sentence for the audit).
async fn upload_answer(
    api: &Api,
    headers: &HeaderMap,
    q: Result<Query<UploadQuery>, QueryRejection>,
    body: Bytes,
) -> (String, Result<Response, (String, Response)>) {
    let refuse = |e: ApiError| (e.message.clone(), e.into_response());
    let q = match bad_query(q) {
        Ok(q) => q,
        Err(e) => return ("(none)".into(), Err(refuse(e))),
    };
    if let Err(e) = refuse_in_maintenance(api).await {
        return ("(none)".into(), Err(refuse(e)));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let file_name = match content_type.as_str() {
        "application/x-yaml" | "application/yaml" | "text/yaml" => "bundle.yaml",
        "application/zip" => "bundle.zip",
        other => {
            let e = ApiError::bad_request(format!(
                "Content-Type `{other}` is not a bundle: send the YAML file as application/x-yaml or the ZIP as application/zip"
            ));
            return ("(none)".into(), Err(refuse(e)));
        }
    };
    let known = if q.overwrite {
        Known::Overwrite
    } else {
        Known::Refuse
    };
    let result =
        upload::validate_and_store(&api.store, body.to_vec(), file_name, None, known).await;
    match result {
        Ok(u) => {
            let what = format!("{} {}", u.platform, u.version);
            let warnings: Vec<String> = u.report.warnings.iter().map(ToString::to_string).collect();
            if u.outcome == "blocked" {
                let errors: Vec<String> = u.report.errors.iter().map(ToString::to_string).collect();
                let message = format!(
                    "the bundle of {what} is blocked by {} error{}; nothing was stored",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                );
                let r = invalid(
                    message.clone(),
                    errors,
                    u.report.missing_items.clone(),
                    warnings,
                );
                return (what, Err((message, r)));
            }
            let status = if u.outcome == "imported" {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let answer = UploadAnswer {
                version: u.version.clone(),
                outcome: u.outcome.to_owned(),
                warnings,
            };
            (what, Ok((status, Json(answer)).into_response()))
        }
        Err(UploadError::Unreadable(e)) => {
            let message = format!("the upload is not a readable bundle: {e}");
            let r = invalid(message.clone(), vec![e.to_string()], vec![], vec![]);
            ("(unreadable)".into(), Err((message, r)))
        }
        Err(e @ UploadError::Exists { .. }) => {
            let what = match &e {
                UploadError::Exists { platform, version } => format!("{platform} {version}"),
                _ => String::new(),
            };
            let e = ApiError::conflict(format!(
                "{e}; send it again with ?overwrite=true to replace it"
            ));
            (what, Err(refuse(e)))
        }
        Err(e) => ("(none)".into(), Err(refuse(ApiError::internal(e)))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleQuery {
    platform: Option<String>,
}

/// `GET /api/v1/versions/{version}/bundle`: the uploaded bytes, unchanged.
pub async fn bundle(
    State(api): State<Api>,
    Path(version): Path<String>,
    q: Result<Query<BundleQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = bad_query(q)?;
    let parsed: Version = version
        .parse()
        .map_err(|e| ApiError::bad_request(format!("version `{version}`: {e}")))?;
    let platform = match (q.platform, &api.platform) {
        (Some(p), _) => p,
        (None, Some(p)) => p.console.versions.platform(),
        (None, None) => "sample".to_owned(),
    };
    let stored = api
        .store
        .catalog()
        .get(&platform, &parsed.to_string())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "version {parsed} of platform {platform} is not in the catalog"
            ))
        })?;
    let content_type = match stored.entry.format {
        changeover_store::Format::Zip => "application/zip",
        changeover_store::Format::Yaml => "application/x-yaml",
    };
    let disposition = format!(
        "attachment; filename=\"{}\"",
        stored.entry.file_name.replace(['"', '\\', '\r', '\n'], "_")
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        stored.content,
    )
        .into_response())
}
