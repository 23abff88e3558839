//! The error body every HTTP error carries: `{"code": "...", "message": "..."}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::MetadbError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl From<MetadbError> for ApiError {
    fn from(e: MetadbError) -> Self {
        tracing::warn!(error = %e, "metadata database error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "metadata_database_error",
            "the metadata database did not answer; retry, and check the platform log if it persists",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.code, "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

/// Parses a JSON request body, naming what is wrong on failure.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("request body: {e}")))
}

/// Parses a `YYYY-MM-DD` query value.
pub fn parse_date(name: &str, value: &str) -> Result<chrono::NaiveDate, ApiError> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        ApiError::bad_request(
            "invalid_date",
            format!("query parameter {name}={value:?} is not a date: write YYYY-MM-DD"),
        )
    })
}
