//! The HTTP API (`changeover serve`): `/api/v1/...`, bearer-token auth, JSON errors with
//! stable codes, and `/openapi.json` generated from the endpoint table.
//!
//! **Architecture Invariant:** the router is built only from [`endpoints::ENDPOINTS`], and
//! each entry carries the role it needs; the role check runs before the handler. A route
//! cannot exist without a stated role, and the tests walk that table.

pub mod drive;
pub mod endpoints;
pub mod error;
mod handlers;
pub mod schema;
mod upgrades;
mod versions;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use changeover_store::Store;

pub use drive::Platform;
pub use error::ApiError;

/// The API's shared state.
#[derive(Clone)]
pub struct Api {
    pub store: Store,
    /// The platform the upgrade endpoints act on; without one they answer 409.
    pub platform: Option<Arc<Platform>>,
}

impl Api {
    /// The API over `store` alone: records, users, audit, catalog; no upgrade actions.
    pub fn new(store: Store) -> Api {
        Api {
            store,
            platform: None,
        }
    }

    /// The API over `store` acting on the platform `console` drives (its store must be
    /// `store`).
    pub fn with_platform(store: Store, console: changeover_engine::console::Console) -> Api {
        Api {
            store,
            platform: Some(Arc::new(Platform::new(console))),
        }
    }

    /// Resumes the active record when its last driver died mid-step (a killed server or
    /// CLI left it running): drives it in the background, once the dead driver's lease has
    /// expired. Returns the id resumed. A record waiting for the operator is left alone.
    pub async fn resume_interrupted(&self) -> Result<Option<String>, ApiError> {
        let Some(platform) = &self.platform else {
            return Ok(None);
        };
        let Some(record) = platform
            .console
            .store
            .active()
            .await
            .map_err(ApiError::internal)?
        else {
            return Ok(None);
        };
        let interrupted = record.status != changeover_core::upgrade::Status::Configuring
            && changeover_engine::console::print::stopped_at(&record).is_none();
        if !interrupted {
            return Ok(None);
        }
        let claim = platform.claim(&self.store, &record.id).await?;
        let id = record.id.clone();
        tracing::info!(upgrade = %id, "resuming an upgrade its last driver left mid-step");
        platform.drive(claim, record);
        Ok(Some(id))
    }

    /// The whole application (the API and the web [console](crate::console)); serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn router(&self) -> Router {
        endpoints::router(self.clone()).merge(crate::console::router())
    }

    /// Serves on `listener` until the task is dropped; first resumes an interrupted upgrade
    /// ([`Api::resume_interrupted`]).
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        if let Err(e) = self.resume_interrupted().await {
            tracing::warn!(reason = %e.message, "not resuming the active upgrade now; `POST …/next` resumes it");
        }
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    }
}
