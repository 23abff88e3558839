//! The gateway's configuration file (`gateway.yaml`): where to listen, where the store and
//! the driver's routing table are, and which path prefixes go where.
//!
//! ```yaml
//! listen: 127.0.0.1:8480
//! store: /var/lib/changeover/changeover.db   # optional; else --store / CHANGEOVER_STORE
//! state_dir: /var/lib/changeover/platform    # the process driver's state dir (routes.json)
//! routes:
//!   - { prefix: /api/, kind: dataservice, app: dataservice }
//!   - { prefix: /v1/,  kind: api, upstream: 127.0.0.1:9001 }
//!   - { prefix: /,     kind: console, app: mgmt }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::GatewayError;

/// The largest configuration file read (a gateway config is a few lines).
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// What kind of traffic a route carries, which decides what maintenance mode does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    /// Data-service calls from other systems: always passed, maintenance or not.
    Dataservice,
    /// The platform's web console: the maintenance page (HTML, 503) during maintenance.
    Console,
    /// The platform's API for programs: 503 JSON with `Retry-After` during maintenance.
    Api,
}

/// One route as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Path prefix, starting with `/`; the longest matching prefix wins.
    pub prefix: String,
    pub kind: RouteKind,
    /// The application whose current upstream is read from the routing table.
    #[serde(default)]
    pub app: Option<String>,
    /// A fixed upstream `host:port`, instead of `app`.
    #[serde(default)]
    pub upstream: Option<String>,
}

/// Where a route's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// Taken from the driver's routing table for this application, before every request.
    App(String),
    /// Always this `host:port`.
    Fixed(String),
}

/// A validated route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: String,
    pub kind: RouteKind,
    pub upstream: Upstream,
}

/// The configuration file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Address to listen on, e.g. `127.0.0.1:8480`.
    pub listen: Option<SocketAddr>,
    /// The changeover store (file path or postgres:// URL) maintenance mode is read from.
    #[serde(default)]
    pub store: Option<String>,
    /// The process driver's state directory holding `routes.json`; needed by `app` routes.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    pub routes: Vec<RouteConfig>,
}

impl GatewayConfig {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<(GatewayConfig, Vec<Route>), GatewayError> {
        let bad = |reason: String| GatewayError::Config {
            path: path.to_owned(),
            reason,
        };
        let len = std::fs::metadata(path)
            .map_err(|e| bad(format!("cannot read it: {e}")))?
            .len();
        if len > MAX_CONFIG_BYTES {
            return Err(bad(format!(
                "it is {len} bytes, more than the {MAX_CONFIG_BYTES} a gateway config may have"
            )));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let config = GatewayConfig::parse(&text).map_err(bad)?;
        let routes = config.validate().map_err(bad)?;
        Ok((config, routes))
    }

    /// Parses the YAML text (no validation beyond the shape).
    pub fn parse(text: &str) -> Result<GatewayConfig, String> {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks every route and returns them resolved, longest prefix first.
    pub fn validate(&self) -> Result<Vec<Route>, String> {
        if self.routes.is_empty() {
            return Err("`routes` is empty: add at least one route".into());
        }
        let mut routes = Vec::with_capacity(self.routes.len());
        for (i, r) in self.routes.iter().enumerate() {
            let at = format!("routes[{i}] (prefix {:?})", r.prefix);
            if !r.prefix.starts_with('/') {
                return Err(format!("{at}: the prefix must start with `/`"));
            }
            let upstream = match (&r.app, &r.upstream) {
                (Some(app), None) if !app.trim().is_empty() => {
                    if self.state_dir.is_none() {
                        return Err(format!(
                            "{at}: `app: {app}` needs `state_dir` (the process driver's state directory with routes.json)"
                        ));
                    }
                    Upstream::App(app.clone())
                }
                (None, Some(up)) => {
                    check_host_port(up).map_err(|e| format!("{at}: upstream {up:?} {e}"))?;
                    Upstream::Fixed(up.clone())
                }
                _ => {
                    return Err(format!(
                        "{at}: give exactly one of `app` (from the routing table) or `upstream` (host:port)"
                    ));
                }
            };
            if routes.iter().any(|x: &Route| x.prefix == r.prefix) {
                return Err(format!("{at}: the prefix is listed twice"));
            }
            routes.push(Route {
                prefix: r.prefix.clone(),
                kind: r.kind,
                upstream,
            });
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Ok(routes)
    }
}

/// `host:port` with a port number, nothing else (no scheme, no path).
pub(crate) fn check_host_port(text: &str) -> Result<(), String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or("is not host:port (e.g. 127.0.0.1:9000)")?;
    if host.is_empty() || host.contains(['/', '@', ' ', '?', '#']) {
        return Err("has no valid host (write host:port, no scheme or path)".into());
    }
    port.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or("has no valid port (1-65535)")?;
    Ok(())
}

/// The route serving `path`: the longest matching prefix (routes are sorted that way).
pub fn route_for<'r>(routes: &'r [Route], path: &str) -> Option<&'r Route> {
    routes.iter().find(|r| path.starts_with(&r.prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Route>, String> {
        GatewayConfig::parse(text)?.validate()
    }

    #[test]
    fn longest_prefix_wins() {
        let routes = parse(
            "state_dir: /tmp/x\nroutes:\n  - {prefix: /, kind: console, upstream: 127.0.0.1:1}\n  - {prefix: /api/, kind: dataservice, app: ds}\n",
        )
        .unwrap();
        assert_eq!(
            route_for(&routes, "/api/x").unwrap().kind,
            RouteKind::Dataservice
        );
        assert_eq!(
            route_for(&routes, "/login").unwrap().kind,
            RouteKind::Console
        );
    }

    #[test]
    fn bad_routes_are_named() {
        let err = parse("routes:\n  - {prefix: /a, kind: api, app: ds}\n").unwrap_err();
        assert!(
            err.contains("routes[0]") && err.contains("state_dir"),
            "{err}"
        );
        let err = parse("routes:\n  - {prefix: a, kind: api, upstream: h:1}\n").unwrap_err();
        assert!(err.contains("must start with"), "{err}");
        let err =
            parse("routes:\n  - {prefix: /, kind: api, upstream: 'http://h:1'}\n").unwrap_err();
        assert!(err.contains("no valid"), "{err}");
        let err = parse("routes:\n  - {prefix: /, kind: api}\n").unwrap_err();
        assert!(err.contains("exactly one"), "{err}");
        assert!(GatewayConfig::parse("routes: []\nextra: 1\n").is_err());
    }
}
