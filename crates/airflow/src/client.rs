//! Airflow's REST API as the adapter calls it: `/api/v1` with HTTP basic auth on 2.x,
//! `/api/v2` with a JWT from `POST /auth/token` on 3.x (fetched again once when it is
//! refused). Errors name the operation, the path and the HTTP status, never a credential.

use std::time::Duration;

use changeover_drivers::scheduler::SchedulerError;
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::Password;

/// The page size of list calls (Airflow caps it at 100 by default).
const PAGE: usize = 100;

/// One Airflow API, version chosen from the running server.
pub(crate) struct Client {
    http: reqwest::Client,
    base: Url,
    pub(crate) major: u32,
    pub(crate) version: String,
    username: String,
    password: Password,
    token: Mutex<Option<String>>,
}

fn unreachable(base: &Url, operation: &'static str, e: reqwest::Error) -> SchedulerError {
    if e.is_timeout() {
        SchedulerError::Timeout {
            endpoint: base.to_string(),
            operation,
        }
    } else {
        SchedulerError::Unreachable {
            endpoint: base.to_string(),
            operation,
            source: Box::new(e.without_url()),
        }
    }
}

/// The message of an Airflow error body (`detail` or `title`), cut short.
fn message_of(body: &str) -> String {
    let text = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("detail")
                .or_else(|| v.get("title"))
                .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned))
        })
        .unwrap_or_else(|| body.trim().to_owned());
    text.chars().take(300).collect()
}

impl Client {
    /// Finds out which major version runs at `base` (3.x answers
    /// `/api/v2/monitor/health`, 2.x `/health`), then signs in and reads the version.
    pub(crate) async fn connect(
        base: &str,
        username: &str,
        password: Password,
    ) -> Result<Client, SchedulerError> {
        let mut base = Url::parse(base).map_err(|e| {
            SchedulerError::InvalidConfig(format!("Airflow URL {base:?} is not a URL: {e}"))
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(SchedulerError::InvalidConfig(format!(
                "Airflow URL {base} must start with http:// or https://"
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        if username.is_empty() {
            return Err(SchedulerError::InvalidConfig(
                "the Airflow user name is empty".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| SchedulerError::InvalidConfig(format!("HTTP client: {e}")))?;
        let major = if Self::probe(&http, &base, "api/v2/monitor/health").await? {
            3
        } else if Self::probe(&http, &base, "health").await? {
            2
        } else {
            return Err(SchedulerError::InvalidResponse {
                operation: "health",
                detail: format!(
                    "{base} answers neither /api/v2/monitor/health (Airflow 3) nor /health (Airflow 2) with 200"
                ),
            });
        };
        let mut client = Client {
            http,
            base,
            major,
            version: String::new(),
            username: username.to_owned(),
            password,
            token: Mutex::new(None),
        };
        let version: Value = client.get("version", "version", &[]).await?;
        client.version = version
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(client)
    }

    /// Which major version answers at `base` now (3 or 2), without signing in.
    pub(crate) async fn detect_major(base: &str) -> Result<u32, SchedulerError> {
        let mut url = Url::parse(base).map_err(|e| {
            SchedulerError::InvalidConfig(format!("Airflow URL {base:?} is not a URL: {e}"))
        })?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SchedulerError::InvalidConfig(format!("HTTP client: {e}")))?;
        if Self::probe(&http, &url, "api/v2/monitor/health").await? {
            Ok(3)
        } else if Self::probe(&http, &url, "health").await? {
            Ok(2)
        } else {
            Err(SchedulerError::InvalidResponse {
                operation: "health",
                detail: format!("{url} answers no Airflow health endpoint"),
            })
        }
    }

    /// Whether `base/path` answers 200 (no credentials: health endpoints are public).
    async fn probe(http: &reqwest::Client, base: &Url, path: &str) -> Result<bool, SchedulerError> {
        let url = base
            .join(path)
            .map_err(|e| SchedulerError::InvalidConfig(format!("Airflow URL {base}: {e}")))?;
        let resp = http
            .get(url)
            .send()
            .await
            .map_err(|e| unreachable(base, "health", e))?;
        Ok(resp.status() == StatusCode::OK)
    }

    /// The server's address as configured.
    pub(crate) fn base_url(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    fn api_root(&self) -> &'static str {
        if self.major >= 3 { "api/v2" } else { "api/v1" }
    }

    /// `base/api/vN/` + `segments`, each percent-encoded (run ids hold `:` and `+`).
    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Url, SchedulerError> {
        let mut url = self
            .base
            .join(self.api_root())
            .map_err(|e| SchedulerError::InvalidConfig(format!("Airflow URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| SchedulerError::InvalidConfig("Airflow URL cannot be a base".into()))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    async fn token(&self, refresh: bool) -> Result<String, SchedulerError> {
        let mut token = self.token.lock().await;
        if let (Some(t), false) = (token.as_ref(), refresh) {
            return Ok(t.clone());
        }
        let url = self
            .base
            .join("auth/token")
            .map_err(|e| SchedulerError::InvalidConfig(format!("Airflow URL: {e}")))?;
        let resp = self
            .http
            .post(url)
            .json(&serde_json::json!({
                "username": self.username,
                "password": self.password.expose(),
            }))
            .send()
            .await
            .map_err(|e| unreachable(&self.base, "sign-in", e))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(SchedulerError::Rejected {
                operation: "sign-in",
                status: status.as_u16(),
                code: "auth".into(),
                message: format!(
                    "POST /auth/token as {:?}: {} (check the user name and the password)",
                    self.username,
                    message_of(&body)
                ),
            });
        }
        let value: Value =
            serde_json::from_str(&body).map_err(|e| SchedulerError::InvalidResponse {
                operation: "sign-in",
                detail: format!("POST /auth/token answered no JSON: {e}"),
            })?;
        let t = value
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| SchedulerError::InvalidResponse {
                operation: "sign-in",
                detail: "POST /auth/token answered no access_token".into(),
            })?
            .to_owned();
        *token = Some(t.clone());
        Ok(t)
    }

    /// Sends one request and decodes the JSON answer; `Ok(None)` for 404.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Option<T>, SchedulerError> {
        let url = self.url(segments, query)?;
        let path = url.path().to_owned();
        let mut refreshed = false;
        loop {
            let mut req = self.http.request(method.clone(), url.clone());
            if self.major >= 3 {
                req = req.bearer_auth(self.token(refreshed).await?);
            } else {
                req = req.basic_auth(&self.username, Some(self.password.expose()));
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| unreachable(&self.base, operation, e))?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && self.major >= 3 && !refreshed {
                refreshed = true;
                continue;
            }
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let text = resp.text().await.unwrap_or_default();
            if !status.is_success() {
                return Err(SchedulerError::Rejected {
                    operation,
                    status: status.as_u16(),
                    code: "airflow".into(),
                    message: format!("{method} {path}: {}", message_of(&text)),
                });
            }
            let text = if text.trim().is_empty() {
                "null"
            } else {
                &text
            };
            return serde_json::from_str(text).map(Some).map_err(|e| {
                SchedulerError::InvalidResponse {
                    operation,
                    detail: format!("{method} {path}: {e}"),
                }
            });
        }
    }

    /// GET that must find its resource.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, SchedulerError> {
        let segments: Vec<&str> = path.split('/').collect();
        self.send(operation, Method::GET, &segments, query, None)
            .await?
            .ok_or_else(|| SchedulerError::Rejected {
                operation,
                status: 404,
                code: "not_found".into(),
                message: format!("GET {}/{path} found nothing", self.api_root()),
            })
    }

    /// Every item of a paged list (`{ <key>: [...], total_entries }`).
    pub(crate) async fn list(
        &self,
        operation: &'static str,
        segments: &[&str],
        key: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, SchedulerError> {
        let mut items = Vec::new();
        loop {
            let mut q = query.to_vec();
            q.push(("limit", PAGE.to_string()));
            q.push(("offset", items.len().to_string()));
            let page: Value = self
                .send(operation, Method::GET, segments, &q, None)
                .await?
                .ok_or_else(|| SchedulerError::InvalidResponse {
                    operation,
                    detail: format!("GET {} answered 404", segments.join("/")),
                })?;
            let batch = page
                .get(key)
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| SchedulerError::InvalidResponse {
                    operation,
                    detail: format!("GET {} has no `{key}` list", segments.join("/")),
                })?;
            let total = page
                .get("total_entries")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize;
            let n = batch.len();
            items.extend(batch);
            if n == 0 || items.len() >= total {
                return Ok(items);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::message_of;

    #[test]
    fn error_messages_come_from_detail_or_title() {
        assert_eq!(message_of(r#"{"detail":"DAG not found"}"#), "DAG not found");
        assert_eq!(
            message_of(r#"{"title":"Unauthorized","status":401}"#),
            "Unauthorized"
        );
        assert_eq!(message_of("plain text\n"), "plain text");
        assert_eq!(message_of(&"x".repeat(1000)).len(), 300);
    }
}
