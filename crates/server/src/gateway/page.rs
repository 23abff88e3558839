//! What maintenance mode answers instead of the platform: an HTML page for the console, a
//! JSON error for API clients.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use changeover_core::upgrade::Announcement;

/// `Retry-After` sent to API clients: long enough not to hammer the gateway, short enough
/// that clients notice the end of maintenance soon after it happens.
pub const RETRY_AFTER_SECONDS: u32 = 60;

/// The console's maintenance page (status 503).
pub fn console_page(announcement: Option<&Announcement>) -> Response {
    let mut lines = String::new();
    if let Some(a) = announcement {
        for (label, value) in [
            ("Estimated completion", &a.estimated_completion),
            ("Contact email", &a.contact_email),
            ("Contact phone", &a.contact_phone),
        ] {
            if let Some(v) = value {
                lines.push_str(&format!(
                    "<li>{label}: <strong>{}</strong></li>\n",
                    escape(v)
                ));
            }
        }
    }
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Upgrade in progress</title></head>\n\
         <body><main><h1>The platform is being upgraded</h1>\n\
         <p>The console is closed during the upgrade. Running tasks and data-service calls are not affected.</p>\n\
         <ul>\n{lines}</ul></main></body></html>\n"
    );
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    resp
}

/// The API clients' answer during maintenance (503 JSON with `Retry-After`).
pub fn api_unavailable(announcement: Option<&Announcement>) -> Response {
    let body = serde_json::json!({
        "code": "maintenance",
        "message": "the platform is being upgraded; retry after the time in Retry-After",
        "announcement": announcement,
    });
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    resp
}

/// A gateway error answered as JSON `{"code","message"}`.
pub fn gateway_error(status: StatusCode, code: &'static str, message: String) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"code": code, "message": message})),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcement_is_escaped() {
        assert_eq!(escape("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }
}
