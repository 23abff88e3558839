//! The endpoint table: method, path, role needed, summary, handler. The router, the role
//! checks and `/openapi.json` are all built from it.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use super::error::ApiError;
use super::schema::{Body, Components, Param, bytes, json, json_list};
use super::{Api, handlers, schema, upgrades, versions};
use crate::auth::{self, Role, Secret};

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (only login and the API description).
    Public,
    /// A signed-in user with at least this role.
    Role(Role),
}

/// One endpoint.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// The status of success.
    pub status: u16,
    pub request: Option<Body>,
    pub response: Option<Body>,
    pub query: &'static [Param],
    handler: fn() -> MethodRouter<Api>,
}

const PLATFORM: Param = Param {
    name: "platform",
    required: false,
    kind: "string",
    description: "the platform (default: the server's)",
};
const OVERWRITE: Param = Param {
    name: "overwrite",
    required: false,
    kind: "boolean",
    description: "replace a version already in the catalog",
};
const TO: Param = Param {
    name: "to",
    required: true,
    kind: "string",
    description: "the target version",
};
const DATE: Param = Param {
    name: "date",
    required: false,
    kind: "string",
    description: "the day verified, YYYY-MM-DD (default: today)",
};
const TENANT: Param = Param {
    name: "tenant",
    required: false,
    kind: "string",
    description: "only this tenant's instances",
};
const LIMIT: Param = Param {
    name: "limit",
    required: false,
    kind: "integer",
    description: "how many entries, at most 1000 (default 100)",
};

/// Every endpoint of the API.
pub fn endpoints() -> Vec<Endpoint> {
    use Access::{Public, Role as R};
    vec![
        Endpoint {
            method: Method::POST,
            path: "/api/v1/login",
            status: 200,
            request: json::<handlers::LoginRequest>(),
            response: json::<handlers::LoginResponse>(),
            query: &[],
            access: Public,
            summary: "exchange a user name and password for a session token",
            handler: || post(handlers::login),
        },
        Endpoint {
            method: Method::GET,
            path: "/openapi.json",
            status: 200,
            request: None,
            response: None,
            query: &[],
            access: Public,
            summary: "this API's OpenAPI description",
            handler: || get(openapi),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/me",
            status: 200,
            request: None,
            response: json::<handlers::Me>(),
            query: &[],
            access: R(Role::Viewer),
            summary: "the signed-in user and role",
            handler: || get(handlers::me),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/versions",
            status: 200,
            request: None,
            response: json_list::<schema::CatalogEntry>(),
            query: &[PLATFORM],
            access: R(Role::Viewer),
            summary: "the version catalog (optionally ?platform=NAME)",
            handler: || get(handlers::versions),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/versions",
            status: 201,
            request: bytes(&["application/x-yaml", "application/zip"]),
            response: json::<versions::UploadAnswer>(),
            query: &[OVERWRITE],
            access: R(Role::Admin),
            summary: "upload a bundle (raw YAML as application/x-yaml or ZIP as application/zip; ?overwrite=true replaces a known version): validated, then imported or overwritten; 422 invalid_bundle with the errors",
            handler: || {
                post(versions::upload).layer(axum::extract::DefaultBodyLimit::max(
                    changeover_core::bundle::MAX_BUNDLE_BYTES + 1,
                ))
            },
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/versions/{version}/bundle",
            status: 200,
            request: None,
            response: bytes(&["application/x-yaml", "application/zip"]),
            query: &[PLATFORM],
            access: R(Role::Viewer),
            summary: "the uploaded bundle of a version, byte for byte (?platform=NAME)",
            handler: || get(versions::bundle),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/upgrades",
            status: 200,
            request: None,
            response: json_list::<handlers::UpgradeSummary>(),
            query: &[],
            access: R(Role::Viewer),
            summary: "upgrade records, newest first",
            handler: || get(handlers::upgrades),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/upgrades/active",
            status: 200,
            request: None,
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Viewer),
            summary: "the active (configuring or upgrading) record, or 404",
            handler: || get(upgrades::active),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades",
            status: 201,
            request: json::<upgrades::StartRequest>(),
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Operator),
            summary: "start an upgrade (or only save it): 201 with the record; 409 when one is active or the rules refuse",
            handler: || post(upgrades::start),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/next",
            status: 202,
            request: json::<upgrades::Empty>(),
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Operator),
            summary: "run the current step, move past a done one, or complete; the server then drives the record",
            handler: || post(upgrades::next),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/retry",
            status: 202,
            request: json::<upgrades::Empty>(),
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Operator),
            summary: "run a failed step again; the server then drives the record",
            handler: || post(upgrades::retry),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/skip",
            status: 202,
            request: json::<upgrades::SkipRequest>(),
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Operator),
            summary: "skip the current step where allowed (risk acknowledged)",
            handler: || post(upgrades::skip),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/overrule",
            status: 202,
            request: json::<upgrades::OverruleRequest>(),
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Operator),
            summary: "overrule a failed verification verdict with a reason (recorded with the caller's name)",
            handler: || post(upgrades::overrule),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/terminate",
            status: 202,
            request: json::<upgrades::TerminateRequest>(),
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Operator),
            summary: "end the upgrade before downtime: dispatch resumed, maintenance exited",
            handler: || post(upgrades::terminate),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/force-terminate",
            status: 200,
            request: json::<upgrades::ForceTerminateRequest>(),
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Admin),
            summary: "end the upgrade at any step, marked succeeded or failed; nothing is undone",
            handler: || post(upgrades::force_terminate),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/rollback",
            status: 202,
            request: json::<upgrades::Empty>(),
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Admin),
            summary: "stop the target, restore this upgrade's backups, start the previous version",
            handler: || post(upgrades::rollback),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/tasks",
            status: 202,
            request: json::<upgrades::TasksRequest>(),
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Operator),
            summary: "terminate or re-run task instances (ids, or all)",
            handler: || post(upgrades::tasks),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/data-updates",
            status: 202,
            request: json::<upgrades::DataUpdatesRequest>(),
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Operator),
            summary: "run, skip or stop data-update tasks (names, or all)",
            handler: || post(upgrades::data_updates),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/compatibility",
            status: 200,
            request: None,
            response: json::<upgrades::Compatibility>(),
            query: &[TO],
            access: R(Role::Viewer),
            summary: "which modes may upgrade the platform to ?to=VERSION, and why not",
            handler: || get(upgrades::compatibility),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/verification",
            status: 200,
            request: None,
            response: json::<schema::VerificationReport>(),
            query: &[DATE, TENANT],
            access: R(Role::Viewer),
            summary: "the verification report read live from the scheduler (?date=YYYY-MM-DD&tenant=T)",
            handler: || get(upgrades::verification),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/upgrades/{id}",
            status: 200,
            request: None,
            response: json::<schema::UpgradeRecord>(),
            query: &[],
            access: R(Role::Viewer),
            summary: "one upgrade record with its steps, milestones and log",
            handler: || get(handlers::upgrade),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/maintenance",
            status: 200,
            request: None,
            response: json::<schema::Maintenance>(),
            query: &[],
            access: R(Role::Viewer),
            summary: "whether maintenance mode is on, with the announcement",
            handler: || get(handlers::maintenance),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/users",
            status: 200,
            request: None,
            response: json_list::<handlers::UserSummary>(),
            query: &[],
            access: R(Role::Admin),
            summary: "users and their roles",
            handler: || get(handlers::users),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/users",
            status: 201,
            request: json::<handlers::NewUser>(),
            response: json::<handlers::UserSummary>(),
            query: &[],
            access: R(Role::Admin),
            summary: "add a user: {name, role, password} (audited)",
            handler: || post(handlers::add_user),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/audit",
            status: 200,
            request: None,
            response: json_list::<schema::AuditEntry>(),
            query: &[LIMIT],
            access: R(Role::Admin),
            summary: "the audit log, newest first (?limit=N, at most 1000)",
            handler: || get(handlers::audit),
        },
    ]
}

/// The router: each endpoint behind its role check.
pub(super) fn router(api: Api) -> Router {
    let mut router = Router::new();
    for e in endpoints() {
        let mut route = (e.handler)();
        if let Access::Role(role) = e.access {
            route = route.route_layer(middleware::from_fn_with_state((api.clone(), role), require));
        }
        router = router.route(e.path, route);
    }
    router
        .fallback(|| async { ApiError::not_found("no such endpoint; see /openapi.json") })
        .with_state(api)
}

/// Authenticates the bearer token (401) and checks the role (403; audited as refused).
async fn require(
    State((api, needed)): State<(Api, Role)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| Secret::new(t.trim()));
    let Some(token) = token else {
        return ApiError::unauthenticated().into_response();
    };
    let caller = match auth::authenticate_token(&api.store, &token).await {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !caller.role.allows(needed) {
        let what = format!("{} {}", req.method(), req.uri().path());
        let peer = peer.to_string();
        let actor = auth::Actor {
            name: &caller.name,
            peer: &peer,
        };
        auth::audit(&api.store, &actor, "request", &what, Err("role too low")).await;
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this needs the {needed} role; {} has {}",
                caller.name, caller.role
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// An OpenAPI 3.1 document built from [`endpoints`], with the request and response
/// schemas of the Rust types ([`schema`]).
pub fn openapi_document() -> serde_json::Value {
    let mut components = Components::default();
    let error = (json::<schema::Error>().map(|b| b.schema))
        .map(|f| f(&mut components))
        .unwrap_or_default();
    let mut paths = serde_json::Map::new();
    for e in endpoints() {
        let success = match e.response {
            Some(body) => {
                let schema = (body.schema)(&mut components);
                let content: serde_json::Map<String, serde_json::Value> = body
                    .media
                    .iter()
                    .map(|m| ((*m).to_owned(), serde_json::json!({"schema": schema})))
                    .collect();
                serde_json::json!({"description": "success", "content": content})
            }
            None => serde_json::json!({"description": "success"}),
        };
        let mut op = serde_json::json!({
            "summary": e.summary,
            "operationId": operation_id(&e),
            "responses": {
                e.status.to_string(): success,
                "default": {"description": "error", "content": {"application/json": {"schema": error}}}
            }
        });
        if let Some(body) = e.request {
            let schema = (body.schema)(&mut components);
            let content: serde_json::Map<String, serde_json::Value> = body
                .media
                .iter()
                .map(|m| ((*m).to_owned(), serde_json::json!({"schema": schema})))
                .collect();
            op["requestBody"] = serde_json::json!({"required": true, "content": content});
        }
        if let Access::Role(role) = e.access {
            op["security"] = serde_json::json!([{"bearer": []}]);
            op["x-required-role"] = serde_json::json!(role.as_str());
        }
        let mut params: Vec<serde_json::Value> = path_params(e.path)
            .map(|name| serde_json::json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(e.query.iter().map(|p| {
            serde_json::json!({"name": p.name, "in": "query", "required": p.required, "description": p.description, "schema": {"type": p.kind}})
        }));
        if !params.is_empty() {
            op["parameters"] = serde_json::Value::Array(params);
        }
        let entry = paths.entry(e.path).or_insert_with(|| serde_json::json!({}));
        entry[e.method.as_str().to_ascii_lowercase()] = op;
    }
    serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "changeover", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components.0,
        }
    })
}

/// `get_api_v1_upgrades_id_next`-style ids, unique per method and path.
fn operation_id(e: &Endpoint) -> String {
    let path: String = e
        .path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{}{}", e.method.as_str().to_ascii_lowercase(), path)
        .split('_')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// The `{name}` segments of a route path.
fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

async fn openapi() -> axum::Json<serde_json::Value> {
    axum::Json(openapi_document())
}
