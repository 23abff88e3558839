//! [`ContractClient`]: the scheduler adapter over the changeover scheduler contract
//! (HTTP/JSON under `/changeover/v1`, documented in `docs/scheduler-contract.openapi.yaml`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    Environment, FailedInstance, Instance, RerunOutcome, SchedulerAdapter, SchedulerError,
    StatisticsQuery, StatisticsRow, TerminateOutcome, ToggleChange, Toggles,
};

/// Connecting longer than this means the scheduler host is down or filtered.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Every contract call is a small query; a minute covers a slow metadata database.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What `GET /health` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PlatformHealth {
    pub status: String,
    pub version: String,
}

/// The error body every contract error carries.
#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

#[derive(Serialize)]
struct TerminateRequest<'a> {
    ids: &'a [String],
}

#[derive(Serialize)]
struct RerunRequest<'a> {
    request_id: &'a str,
    ids: &'a [String],
}

/// A scheduler reached through the changeover scheduler contract.
#[derive(Debug, Clone)]
pub struct ContractClient {
    base: Url,
    http: reqwest::Client,
}

impl ContractClient {
    /// A client for the platform at `base_url` (e.g. `http://127.0.0.1:8080`), with the
    /// default timeouts.
    pub fn new(base_url: &str) -> Result<Self, SchedulerError> {
        Self::with_timeouts(base_url, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT)
    }

    pub fn with_timeouts(
        base_url: &str,
        connect: Duration,
        request: Duration,
    ) -> Result<Self, SchedulerError> {
        let mut base = Url::parse(base_url).map_err(|e| {
            SchedulerError::InvalidConfig(format!(
                "scheduler address {base_url:?} is not a URL ({e}); write it like http://host:port"
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(SchedulerError::InvalidConfig(format!(
                "scheduler address {base_url:?} must be an http:// URL"
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(request)
            .build()
            .map_err(|e| {
                SchedulerError::InvalidConfig(format!("cannot build the HTTP client: {e}"))
            })?;
        Ok(Self { base, http })
    }

    /// The platform's liveness and version (`GET /health`).
    pub async fn health(&self) -> Result<PlatformHealth, SchedulerError> {
        self.call("health", Method::GET, "health", &[], None::<&()>)
            .await
    }

    fn url(&self, operation: &'static str, path: &str) -> Result<Url, SchedulerError> {
        self.base.join(path).map_err(|e| {
            SchedulerError::InvalidConfig(format!("cannot build URL for {operation}: {e}"))
        })
    }

    async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, SchedulerError> {
        let url = self.url(operation, path)?;
        let endpoint = url.to_string();
        let mut request = self.http.request(method, url);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                SchedulerError::Timeout {
                    endpoint: endpoint.clone(),
                    operation,
                }
            } else {
                SchedulerError::Unreachable {
                    endpoint: endpoint.clone(),
                    operation,
                    source: Box::new(e),
                }
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
        tracing::debug!(operation, %endpoint, status = status.as_u16(), "scheduler answered");
        if !status.is_success() {
            return Err(rejected(operation, status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| SchedulerError::InvalidResponse {
            operation,
            detail: format!("{e} in {}", snippet(&bytes)),
        })
    }
}

fn rejected(operation: &'static str, status: StatusCode, bytes: &[u8]) -> SchedulerError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => SchedulerError::Rejected {
            operation,
            status: status.as_u16(),
            code: body.code,
            message: body.message,
        },
        Err(_) => SchedulerError::Rejected {
            operation,
            status: status.as_u16(),
            code: "unknown".to_owned(),
            message: if bytes.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("no reason given")
                    .to_owned()
            } else {
                snippet(bytes)
            },
        },
    }
}

/// At most 200 characters of a body, for error messages.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut short: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        short.push('…');
    }
    short
}

#[async_trait]
impl SchedulerAdapter for ContractClient {
    fn describe(&self) -> String {
        format!("changeover contract at {}", self.base)
    }

    async fn toggles(&self) -> Result<Vec<Toggles>, SchedulerError> {
        self.call(
            "read toggles",
            Method::GET,
            "changeover/v1/toggles",
            &[],
            None::<&()>,
        )
        .await
    }

    async fn set_toggles(
        &self,
        environment: Environment,
        change: ToggleChange,
    ) -> Result<Toggles, SchedulerError> {
        let path = format!("changeover/v1/toggles/{environment}");
        self.call("set toggles", Method::PUT, &path, &[], Some(&change))
            .await
    }

    async fn running_instances(&self) -> Result<Vec<Instance>, SchedulerError> {
        let query = [("status", "running".to_owned())];
        self.call(
            "list running instances",
            Method::GET,
            "changeover/v1/instances",
            &query,
            None::<&()>,
        )
        .await
    }

    async fn terminate(&self, ids: &[String]) -> Result<TerminateOutcome, SchedulerError> {
        let body = TerminateRequest { ids };
        self.call(
            "terminate instances",
            Method::POST,
            "changeover/v1/instances/terminate",
            &[],
            Some(&body),
        )
        .await
    }

    async fn rerun(
        &self,
        request_id: &str,
        ids: &[String],
    ) -> Result<RerunOutcome, SchedulerError> {
        if request_id.trim().is_empty() {
            return Err(SchedulerError::InvalidConfig(
                "a re-run needs a non-empty request id so that it runs once".to_owned(),
            ));
        }
        let body = RerunRequest { request_id, ids };
        self.call(
            "re-run instances",
            Method::POST,
            "changeover/v1/instances/rerun",
            &[],
            Some(&body),
        )
        .await
    }

    async fn statistics(
        &self,
        query: &StatisticsQuery,
    ) -> Result<Vec<StatisticsRow>, SchedulerError> {
        let mut params = vec![
            ("from", query.from.to_string()),
            ("to", query.to.to_string()),
        ];
        if let Some(tenant) = &query.tenant {
            params.push(("tenant", tenant.clone()));
        }
        if let Some(environment) = query.environment {
            params.push(("environment", environment.to_string()));
        }
        self.call(
            "read statistics",
            Method::GET,
            "changeover/v1/statistics",
            &params,
            None::<&()>,
        )
        .await
    }

    async fn failed_today_succeeded_yesterday(
        &self,
        today: NaiveDate,
    ) -> Result<Vec<FailedInstance>, SchedulerError> {
        let params = [("today", today.to_string())];
        self.call(
            "list failed-today-succeeded-yesterday",
            Method::GET,
            "changeover/v1/failed-today-succeeded-yesterday",
            &params,
            None::<&()>,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_gets_a_trailing_slash_and_joins_paths() {
        let client = ContractClient::new("http://127.0.0.1:9/platform").unwrap();
        let url = client.url("x", "changeover/v1/toggles").unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/platform/changeover/v1/toggles"
        );
    }

    #[test]
    fn non_http_addresses_are_refused() {
        let err = ContractClient::new("ftp://x").unwrap_err();
        assert!(err.to_string().contains("must be an http:// URL"), "{err}");
        let err = ContractClient::new("not a url").unwrap_err();
        assert!(err.to_string().contains("is not a URL"), "{err}");
    }

    #[test]
    fn error_bodies_become_rejections_with_code() {
        let err = rejected(
            "set toggles",
            StatusCode::CONFLICT,
            br#"{"code":"dev_scheduling_always_off","message":"dev scheduling stays off"}"#,
        );
        assert_eq!(err.code(), Some("dev_scheduling_always_off"));
        assert!(!err.is_retryable());
        let err = rejected("x", StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>");
        assert_eq!(err.code(), Some("unknown"));
        assert!(err.is_retryable());
    }
}
