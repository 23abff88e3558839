//! The web console: a page, a script and a style sheet, embedded in the binary and served
//! by `changeover serve` next to the API. The page is a client of `/api/v1` only; it keeps
//! its session token in `sessionStorage` and holds no upgrade state of its own.
//!
//! **Architecture Invariant:** the console has no build step and no server-side state:
//! the assets are `include_str!`ed at compile time, public (they hold no data), and every
//! fact the pages show comes from the API with the caller's token and role checks.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The console's single page (every view is drawn by the script).
pub const INDEX_HTML: &str = include_str!("../../console/index.html");
/// The console's script: routing, API calls, live polling, SVG charts.
pub const CONSOLE_JS: &str = include_str!("../../console/console.js");
/// The console's style sheet.
pub const CONSOLE_CSS: &str = include_str!("../../console/console.css");

/// Where the console lives.
pub const PATH: &str = "/console/";

/// The assets' policy: scripts and styles from this origin only, no inline script, API
/// calls to this origin only, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Assets change with the binary; the browser must not keep an old script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// The console's routes: `/` redirects to `/console/`, which serves the page and assets.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to(PATH) }))
        .route("/console", get(|| async { Redirect::to(PATH) }))
        .route(
            PATH,
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/console/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", CONSOLE_JS) }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset("text/css; charset=utf-8", CONSOLE_CSS) }),
        )
}
