//! The maintenance gateway: a reverse proxy in front of the platform (design.md §1, §7;
//! seed 001).
//!
//! - **Data-service** routes always pass (other systems keep calling through every mode).
//! - **Console** routes get the maintenance page with the announcement (503) while
//!   maintenance mode is on.
//! - **API** routes get 503 JSON with `Retry-After` while maintenance mode is on.
//!
//! Upstreams come from the config (fixed) or from the process driver's routing table
//! (`routes.json`), read again before every request, so a rolling hand-over is followed at
//! once; a failed connection is retried once on the current upstream ([`proxy`]).
//!
//! **Architecture Invariant:** the gateway never writes to the store or the routing table;
//! it only reads them.

pub mod config;
pub mod maintenance;
pub mod page;
pub mod proxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use changeover_drivers::process::RoutingTable;
use changeover_store::Store;

pub use config::{GatewayConfig, Route, RouteKind, Upstream};
pub use maintenance::{DEFAULT_POLL, Maintenance, MaintenanceWatch};

use page::gateway_error;

/// What can stop the gateway from starting.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("invalid gateway config {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("cannot listen on {addr}: {source}; pick a free address with `listen:` or --listen")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the gateway stopped serving: {0}")]
    Serve(#[source] std::io::Error),
}

/// A configured gateway; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    routes: Vec<Route>,
    state_dir: Option<PathBuf>,
    watch: MaintenanceWatch,
    client: proxy::HttpClient,
    /// The store maintenance mode is read from, once [`Gateway::serve`] runs: read again
    /// when a console or API upstream fails, see [`handle`].
    store: std::sync::OnceLock<Store>,
}

impl Gateway {
    /// A gateway over validated `routes` (see [`GatewayConfig::validate`]), reading the
    /// routing table of `state_dir` and maintenance mode from `watch`.
    pub fn new(routes: Vec<Route>, state_dir: Option<PathBuf>, watch: MaintenanceWatch) -> Self {
        Gateway {
            inner: Arc::new(Inner {
                routes,
                state_dir,
                watch,
                client: proxy::client(),
                store: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The axum application: every path goes through [`Gateway::handle`]. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// Serves on `listener` until the task is dropped, polling maintenance mode from `store`
    /// every `poll`.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        store: Store,
        poll: Duration,
    ) -> Result<(), GatewayError> {
        self.inner.watch.refresh(&store).await;
        let _ = self.inner.store.set(store.clone());
        let poller = self.inner.watch.spawn_poller(store, poll);
        let app = self.router();
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
        poller.abort();
        served.map_err(GatewayError::Serve)
    }

    /// The upstream for `route` right now (a fresh read of the routing table for `app`
    /// routes), or the error response to send.
    pub(crate) fn upstream_of(&self, route: &Route) -> Result<String, Box<Response>> {
        match &route.upstream {
            Upstream::Fixed(addr) => Ok(addr.clone()),
            Upstream::App(app) => {
                let Some(dir) = &self.inner.state_dir else {
                    return Err(Box::new(no_upstream(route)));
                };
                match RoutingTable::read(dir) {
                    Ok(table) => table
                        .upstream(app)
                        .map(str::to_owned)
                        .ok_or_else(|| Box::new(no_upstream(route))),
                    Err(e) => {
                        tracing::warn!(app = %app, error = %e, "cannot read the routing table");
                        Err(Box::new(no_upstream(route)))
                    }
                }
            }
        }
    }
}

fn no_upstream(route: &Route) -> Response {
    gateway_error(
        StatusCode::BAD_GATEWAY,
        "no_upstream",
        format!(
            "no running instance of {} serves {}; the platform may be stopped",
            route.upstream.describe(),
            route.prefix
        ),
    )
}

async fn handle(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response {
    let Some(route) = config::route_for(&gateway.inner.routes, req.uri().path()) else {
        return gateway_error(
            StatusCode::NOT_FOUND,
            "no_route",
            "no gateway route serves this path".to_owned(),
        );
    };
    let maintenance = gateway.inner.watch.current();
    if maintenance.on {
        match route.kind {
            RouteKind::Console => return page::console_page(maintenance.announcement.as_ref()),
            RouteKind::Api => return page::api_unavailable(maintenance.announcement.as_ref()),
            RouteKind::Dataservice => {}
        }
    }
    let response = proxy::forward(&gateway, route, peer, req).await;
    // The engine stops the console's application right after it enters maintenance mode,
    // which the poller may not have seen yet: when a console or API upstream fails, read
    // the store again and answer as maintenance mode says, instead of a 502.
    let upstream_failed = matches!(
        response.status(),
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    );
    if upstream_failed
        && route.kind != RouteKind::Dataservice
        && let Some(store) = gateway.inner.store.get()
    {
        gateway.inner.watch.refresh(store).await;
        let maintenance = gateway.inner.watch.current();
        if maintenance.on {
            return match route.kind {
                RouteKind::Api => page::api_unavailable(maintenance.announcement.as_ref()),
                _ => page::console_page(maintenance.announcement.as_ref()),
            };
        }
    }
    response
}
