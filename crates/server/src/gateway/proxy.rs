//! Forwarding one request to its upstream, with the one retry that makes a rolling
//! hand-over lose no request.
//!
//! # Guarantees
//! - A request whose connection to the upstream fails is sent once more, to the upstream
//!   the routing table names at that moment (read again from disk): during a hand-over the
//!   old upstream may be gone already, the new one is listed.
//! - An idempotent request (GET, HEAD, PUT, DELETE, OPTIONS) that fails before any byte of
//!   the response arrived is sent once more the same way.
//!
//! # Caveats
//! - A non-idempotent request (POST, PATCH) that reached the upstream and then failed is not
//!   retried: it may have taken effect. The client gets 502.
//! - Request bodies are buffered (up to [`MAX_REQUEST_BODY`]) so that they can be resent.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use super::Gateway;
use super::config::{Route, Upstream};
use super::page::gateway_error;

/// The largest request body the gateway buffers (uploads of version bundles fit).
pub const MAX_REQUEST_BODY: usize = 256 * 1024 * 1024;

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector)
}

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

/// Forwards `req` along `route`.
pub(crate) async fn forward(
    gateway: &Gateway,
    route: &Route,
    peer: SocketAddr,
    req: Request<Body>,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return gateway_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_body",
                format!(
                    "the request body could not be read or is larger than {MAX_REQUEST_BODY} bytes: {e}"
                ),
            );
        }
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let headers = forwarded_headers(&parts.headers, peer);
    let build = |upstream: &str| -> Result<Request<Full<Bytes>>, axum::http::Error> {
        let mut out = Request::builder()
            .method(parts.method.clone())
            .uri(format!("http://{upstream}{path_and_query}"))
            .body(Full::new(body.clone()))?;
        *out.headers_mut() = headers.clone();
        Ok(out)
    };
    let mut retried = false;
    loop {
        let upstream = match gateway.upstream_of(route) {
            Ok(up) => up,
            Err(resp) => return *resp,
        };
        let request = match build(&upstream) {
            Ok(r) => r,
            Err(e) => {
                return gateway_error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("the request cannot be forwarded: {e}"),
                );
            }
        };
        match gateway.inner.client.request(request).await {
            Ok(resp) => return into_response(resp),
            Err(e) if !retried && (e.is_connect() || idempotent(&parts.method)) => {
                tracing::info!(%upstream, prefix = %route.prefix, error = %e, "upstream failed; retrying once on the current upstream");
                retried = true;
            }
            Err(e) => {
                tracing::warn!(%upstream, prefix = %route.prefix, error = %e, "upstream failed");
                return gateway_error(
                    StatusCode::BAD_GATEWAY,
                    "upstream_unavailable",
                    format!(
                        "the service behind {} did not answer; try again",
                        route.prefix
                    ),
                );
            }
        }
    }
}

fn forwarded_headers(incoming: &HeaderMap, peer: SocketAddr) -> HeaderMap {
    let mut headers = incoming.clone();
    strip_hop_by_hop(&mut headers);
    let forwarded_for = match incoming
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prior) => format!("{prior}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded_for) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    headers
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named in `Connection` are hop-by-hop too.
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named.iter().map(String::as_str))
    {
        headers.remove(name);
    }
}

fn into_response(resp: hyper::Response<hyper::body::Incoming>) -> Response {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, Body::new(body))
}

impl Upstream {
    pub(crate) fn describe(&self) -> String {
        match self {
            Upstream::App(app) => format!("application {app}"),
            Upstream::Fixed(addr) => addr.clone(),
        }
    }
}
