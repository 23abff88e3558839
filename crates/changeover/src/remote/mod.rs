//! The remote mode: `changeover --server URL --token TOKEN …` talks to a `changeover serve`
//! API instead of opening the store. The token goes only into the `Authorization` header:
//! it is never printed, logged, or shown in an error (this type has no `Debug` of it).

use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::failure::{Kind, bad_input};

pub mod audit;
pub mod upgrade;
pub mod version;

/// An API token given on the command line or in the environment; its `Debug` is redacted.
#[derive(Clone)]
pub struct Token(String);

impl std::str::FromStr for Token {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Token, Self::Err> {
        Ok(Token(s.to_owned()))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The environment variables of the remote mode.
pub const SERVER_ENV: &str = "CHANGEOVER_SERVER";
pub const TOKEN_ENV: &str = "CHANGEOVER_TOKEN";

/// How long one request may take (an upload of the largest bundle over a slow link).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A `changeover serve` to talk to.
pub struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// What the server refused or failed, with its stable code and sentence.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// The whole JSON body (an upload's validation report).
    pub body: serde_json::Value,
}

impl RemoteError {
    /// The `error:`/`hint:` failure for the CLI: authentication and permission get their own
    /// hints; the rest keep the server's sentence with `hint`, and `kind`'s exit code.
    pub fn into_failure(self, hint: &str, kind: Kind) -> anyhow::Error {
        let (hint, kind) = match self.code.as_str() {
            "unauthenticated" | "bad_credentials" => (
                format!(
                    "check --token or {TOKEN_ENV}: a token from `changeover user token NAME` on the server's host"
                ),
                Kind::Failed,
            ),
            "forbidden" => (
                "ask an admin for a role that allows it".to_owned(),
                Kind::Failed,
            ),
            "internal" => ("the server's log has the details".to_owned(), Kind::Failed),
            _ => (hint.to_owned(), kind),
        };
        crate::failure::Failure {
            what: self.message,
            hint,
            kind,
        }
        .into()
    }
}

impl Remote {
    /// The server and token from the flags or the environment (`None` without a server).
    pub fn from_options(
        server: Option<&str>,
        token: Option<&Token>,
    ) -> anyhow::Result<Option<Remote>> {
        let Some(server) = server.filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let base = server.trim_end_matches('/').to_owned();
        let rest = base.strip_prefix("http://").ok_or_else(|| {
            bad_input(
                format!("--server {base:?} is not an http:// URL"),
                "give the address `changeover serve` listens on, e.g. http://127.0.0.1:8470",
            )
        })?;
        if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
            return Err(bad_input(
                format!("--server {base:?} is not a server address"),
                "give scheme, host and port only, e.g. http://127.0.0.1:8470",
            ));
        }
        let token = token.map(|t| t.0.as_str()).filter(|t| !t.is_empty()).ok_or_else(|| {
            bad_input(
                "--server needs a token",
                format!("pass --token TOKEN or set {TOKEN_ENV} (a token from `changeover user token NAME`)"),
            )
        })?;
        if token.chars().any(|c| c.is_control() || c == ' ') {
            return Err(bad_input(
                "the token has spaces or control characters",
                format!("copy the token from `changeover user token NAME` into {TOKEN_ENV} again"),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()
            .map_err(|e| {
                crate::failure::failed(format!("cannot set up HTTP: {e}"), "run again with -v")
            })?;
        Ok(Some(Remote {
            base,
            token: token.to_owned(),
            http,
        }))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let resp = req.bearer_auth(&self.token).send().await.map_err(|e| {
            // reqwest's message names the URL, never the headers
            crate::failure::failed(
                format!("cannot reach the server {}: {e}", self.base),
                format!("check --server or {SERVER_ENV}, and that `changeover serve` runs there"),
            )
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        Err(RemoteError {
            status: status.as_u16(),
            code: body["code"].as_str().unwrap_or("internal").to_owned(),
            message: body["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("the server answered {status}")),
            body,
        }
        .into())
    }

    /// GETs `path` as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let resp = self.send(self.http.get(self.url(path))).await?;
        Ok(resp.json().await?)
    }

    /// GETs `path` as JSON with the response headers.
    pub async fn get_with_headers<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> anyhow::Result<(reqwest::header::HeaderMap, T)> {
        let resp = self.send(self.http.get(self.url(path))).await?;
        let headers = resp.headers().clone();
        Ok((headers, resp.json().await?))
    }

    /// GETs `path` as bytes.
    pub async fn get_bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let resp = self.send(self.http.get(self.url(path))).await?;
        Ok(resp.bytes().await?.to_vec())
    }

    /// POSTs `body` as JSON to `path`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<T> {
        let resp = self.send(self.http.post(self.url(path)).json(body)).await?;
        Ok(resp.json().await?)
    }

    /// POSTs raw bytes to `path`; returns the status and the JSON answer.
    pub async fn post_bytes(
        &self,
        path: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<(StatusCode, serde_json::Value)> {
        let resp = self
            .send(
                self.http
                    .post(self.url(path))
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(bytes),
            )
            .await?;
        Ok((resp.status(), resp.json().await?))
    }
}

/// A path segment or query value, percent-encoded.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
