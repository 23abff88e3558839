//! API errors: a status and a JSON body `{"code","message"}` with a stable code. Internal
//! details (store errors, paths) are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::auth::AuthError;

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable: `unauthenticated`, `forbidden`, `not_found`,
    /// `bad_request`, `bad_credentials`, `conflict`, `internal`, `invalid_bundle`,
    /// `maintenance`.
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in: send `Authorization: Bearer TOKEN` (from POST /api/v1/login or `changeover user token`)",
        )
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    pub fn conflict(why: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", why)
    }

    pub fn bad_request(why: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", why)
    }

    /// An unexpected failure: the cause goes to the log, the client gets a generic sentence.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request; the server log has the details",
        )
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        match e {
            AuthError::BadCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", e.to_string())
            }
            AuthError::BadToken => ApiError::unauthenticated(),
            AuthError::BadName(_) | AuthError::WeakPassword => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string())
            }
            AuthError::Users(changeover_store::users::UsersError::Exists(_)) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            AuthError::Users(changeover_store::users::UsersError::Unknown(_)) => {
                ApiError::not_found(e.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<changeover_store::StoreError> for ApiError {
    fn from(e: changeover_store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

/// The console's refusals (rules, states, the platform's answers) are conflicts with the
/// console's sentence; only a failure to save the record is internal.
impl From<changeover_engine::console::ConsoleError> for ApiError {
    fn from(e: changeover_engine::console::ConsoleError) -> ApiError {
        use changeover_engine::EngineError;
        use changeover_engine::console::ConsoleError;
        match e {
            ConsoleError::Engine(EngineError::Save { .. }) => ApiError::internal(e),
            ConsoleError::Refused(_)
            | ConsoleError::Port { .. }
            | ConsoleError::Engine(_)
            | ConsoleError::StepFailed { .. } => ApiError::conflict(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({"code": self.code, "message": self.message})),
        )
            .into_response()
    }
}
