//! The HTTP API (`changeover serve`): `/api/v1/...`, bearer-token auth, JSON errors with
//! stable codes, and `/openapi.json` generated from the endpoint table.
//!
//! **Architecture Invariant:** the router is built only from [`endpoints::ENDPOINTS`], and
//! each entry carries the role it needs; the role check runs before the handler. A route
//! cannot exist without a stated role, and the tests walk that table.

pub mod endpoints;
pub mod error;
mod handlers;

use std::net::SocketAddr;

use axum::Router;
use changeover_store::Store;

pub use error::ApiError;

/// The API's shared state.
#[derive(Clone)]
pub struct Api {
    pub store: Store,
}

impl Api {
    pub fn new(store: Store) -> Api {
        Api { store }
    }

    /// The whole application (the API and the web [console](crate::console)); serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn router(&self) -> Router {
        endpoints::router(self.clone()).merge(crate::console::router())
    }

    /// Serves on `listener` until the task is dropped.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    }
}
