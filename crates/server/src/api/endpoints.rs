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
use super::{Api, handlers, upgrades};
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
    handler: fn() -> MethodRouter<Api>,
}

/// Every endpoint of the API.
pub fn endpoints() -> Vec<Endpoint> {
    use Access::{Public, Role as R};
    vec![
        Endpoint {
            method: Method::POST,
            path: "/api/v1/login",
            access: Public,
            summary: "exchange a user name and password for a session token",
            handler: || post(handlers::login),
        },
        Endpoint {
            method: Method::GET,
            path: "/openapi.json",
            access: Public,
            summary: "this API's OpenAPI description",
            handler: || get(openapi),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/me",
            access: R(Role::Viewer),
            summary: "the signed-in user and role",
            handler: || get(handlers::me),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/versions",
            access: R(Role::Viewer),
            summary: "the version catalog (optionally ?platform=NAME)",
            handler: || get(handlers::versions),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/upgrades",
            access: R(Role::Viewer),
            summary: "upgrade records, newest first",
            handler: || get(handlers::upgrades),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/upgrades/active",
            access: R(Role::Viewer),
            summary: "the active (configuring or upgrading) record, or 404",
            handler: || get(upgrades::active),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades",
            access: R(Role::Operator),
            summary: "start an upgrade (or only save it): 201 with the record; 409 when one is active or the rules refuse",
            handler: || post(upgrades::start),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/next",
            access: R(Role::Operator),
            summary: "run the current step, move past a done one, or complete; the server then drives the record",
            handler: || post(upgrades::next),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/retry",
            access: R(Role::Operator),
            summary: "run a failed step again; the server then drives the record",
            handler: || post(upgrades::retry),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/skip",
            access: R(Role::Operator),
            summary: "skip the current step where allowed (risk acknowledged)",
            handler: || post(upgrades::skip),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/terminate",
            access: R(Role::Operator),
            summary: "end the upgrade before downtime: dispatch resumed, maintenance exited",
            handler: || post(upgrades::terminate),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/force-terminate",
            access: R(Role::Admin),
            summary: "end the upgrade at any step, marked succeeded or failed; nothing is undone",
            handler: || post(upgrades::force_terminate),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/rollback",
            access: R(Role::Admin),
            summary: "stop the target, restore this upgrade's backups, start the previous version",
            handler: || post(upgrades::rollback),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/tasks",
            access: R(Role::Operator),
            summary: "terminate or re-run task instances (ids, or all)",
            handler: || post(upgrades::tasks),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/upgrades/{id}/data-updates",
            access: R(Role::Operator),
            summary: "run, skip or stop data-update tasks (names, or all)",
            handler: || post(upgrades::data_updates),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/compatibility",
            access: R(Role::Viewer),
            summary: "which modes may upgrade the platform to ?to=VERSION, and why not",
            handler: || get(upgrades::compatibility),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/verification",
            access: R(Role::Viewer),
            summary: "the verification report read live from the scheduler (?date=YYYY-MM-DD&tenant=T)",
            handler: || get(upgrades::verification),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/upgrades/{id}",
            access: R(Role::Viewer),
            summary: "one upgrade record with its steps, milestones and log",
            handler: || get(handlers::upgrade),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/maintenance",
            access: R(Role::Viewer),
            summary: "whether maintenance mode is on, with the announcement",
            handler: || get(handlers::maintenance),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/users",
            access: R(Role::Admin),
            summary: "users and their roles",
            handler: || get(handlers::users),
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/users",
            access: R(Role::Admin),
            summary: "add a user: {name, role, password} (audited)",
            handler: || post(handlers::add_user),
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/audit",
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

/// An OpenAPI 3.1 document built from [`endpoints`].
pub fn openapi_document() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for e in endpoints() {
        let mut op = serde_json::json!({
            "summary": e.summary,
            "responses": {
                "200": {"description": "success"},
                "default": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if let Access::Role(role) = e.access {
            op["security"] = serde_json::json!([{"bearer": []}]);
            op["x-required-role"] = serde_json::json!(role.as_str());
        }
        if e.path.contains("{id}") {
            op["parameters"] = serde_json::json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
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
            "schemas": {"Error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}
        }
    })
}

async fn openapi() -> axum::Json<serde_json::Value> {
    axum::Json(openapi_document())
}
