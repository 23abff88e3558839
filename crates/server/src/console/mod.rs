//! The web console: a page, its scripts and a style sheet, embedded in the binary and
//! served by `changeover serve` next to the API. The page is a client of `/api/v1` only:
//! it keeps its session token in `sessionStorage` and holds no upgrade state of its own.
//!
//! **Architecture Invariant:** the console has no build step and no server-side state:
//! the assets are `include_str!`ed at compile time, public (they hold no data), and every
//! fact the pages show comes from the API with the caller's token and role checks.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// Where the console lives.
pub const PATH: &str = "/console/";

/// The console's files: name under [`PATH`], content type, content. `index.html` loads
/// the scripts in this order (each is one part of the page's script).
pub const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../console/console.css"),
    ),
    (
        "base.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/base.js"),
    ),
    (
        "records.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/records.js"),
    ),
    (
        "steps.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/steps.js"),
    ),
    (
        "verify.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/verify.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/admin.js"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/console.js"),
    ),
];

/// The assets' policy: scripts and styles from this origin only, no inline script or
/// style, API calls to this origin only, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn asset(name: &str) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such console file; the console is at /console/",
        )
            .into_response();
    };
    let mut resp = (*body).into_response();
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

/// The console's routes: `/` and `/console` redirect to `/console/`, which serves the
/// page; `/console/{file}` serves the other assets.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to(PATH) }))
        .route("/console", get(|| async { Redirect::to(PATH) }))
        .route(PATH, get(|| async { asset("index.html") }))
        .route(
            "/console/{file}",
            get(|Path(file): Path<String>| async move { asset(&file) }),
        )
}

#[cfg(test)]
mod tests {
    use super::ASSETS;

    #[test]
    fn the_page_loads_every_script_once_in_the_table_order() {
        let index = ASSETS[0].2;
        let scripts: Vec<&str> = ASSETS
            .iter()
            .filter(|(n, _, _)| n.ends_with(".js"))
            .map(|(n, _, _)| *n)
            .collect();
        let mut at = 0;
        for s in &scripts {
            let tag = format!("<script src=\"{s}\"></script>");
            assert_eq!(index.matches(&tag).count(), 1, "{s} in index.html");
            let found = index.find(&tag).unwrap_or(0);
            assert!(found > at, "{s} is loaded out of order");
            at = found;
        }
        assert_eq!(index.matches("<script").count(), scripts.len());
        assert_eq!(scripts.first(), Some(&"base.js"));
        assert_eq!(scripts.last(), Some(&"console.js"));
    }
}
