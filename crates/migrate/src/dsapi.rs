//! DolphinScheduler's REST API, for the one thing a cutover cannot do in the database:
//! switching schedules. A running DolphinScheduler keeps its cron triggers in Quartz, which
//! only its API server writes: a schedule row set online creates no trigger in 3.2, and in
//! 1.3 a row set offline leaves the trigger firing (1.3's job checks the definition's release
//! state, not the schedule's). So a cutover takes the 1.3 schedules offline and brings the
//! 3.2 ones online through the API, as an operator's clicks in either UI would.
//!
//! 1.3: `POST {base}/projects/{projectName}/schedule/offline|online` with form `id`.
//! 3.2: `POST {base}/projects/{projectCode}/schedules/{id}/online|offline`.
//! Both: header `token`, answer `{"code": 0, "msg": ...}` (any other code is a refusal).
//! The token is sent only in that header: it never appears in a URL, a log or an error.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::error::MigrateError;

/// Which DolphinScheduler an API belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// The 1.3 source.
    V13,
    /// The 3.2 target.
    V32,
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Release::V13 => "the 1.3 source's API",
            Release::V32 => "the 3.2 target's API",
        })
    }
}

/// One DolphinScheduler API server: its base URL (`http://host:12345/dolphinscheduler`) and
/// a user token with rights on the projects cut over.
#[derive(Clone)]
pub struct DsApi {
    release: Release,
    base: url::Url,
    token: String,
    http: reqwest::Client,
}

impl fmt::Debug for DsApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DsApi")
            .field("release", &self.release)
            .field("base", &self.base.as_str())
            .field("token", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct Answer {
    code: i64,
    #[serde(default)]
    msg: Option<String>,
}

impl DsApi {
    /// Checks `base` (an `http://` URL without credentials, query or fragment) and the
    /// token (not empty).
    pub fn new(release: Release, base: &str, token: &str) -> Result<DsApi, MigrateError> {
        let bad = |reason: String| MigrateError::Cutover {
            reason: format!("{release} URL `{base}`: {reason}"),
        };
        let mut url = url::Url::parse(base).map_err(|e| bad(e.to_string()))?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(bad(
                    "https is not built into this changeover; reach the API over http on a trusted network or through a local TLS-terminating proxy".into(),
                ));
            }
            other => return Err(bad(format!("scheme {other}: is not http"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "credentials do not belong in the URL; give the token in its environment variable"
                    .into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("a query or fragment is not part of a base URL".into()));
        }
        if token.trim().is_empty() {
            return Err(MigrateError::Cutover {
                reason: format!("{release}: the token is empty"),
            });
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(DsApi {
            release,
            base: url,
            token: token.to_owned(),
            http,
        })
    }

    pub fn release(&self) -> Release {
        self.release
    }

    /// 1.3: takes schedule `id` of project `project` offline (`online` false) or online.
    pub async fn switch_13(
        &self,
        project: &str,
        id: i64,
        online: bool,
    ) -> Result<(), MigrateError> {
        let verb = if online { "online" } else { "offline" };
        let path = ["projects", project, "schedule", verb];
        self.post(
            &path,
            &[("id", id.to_string())],
            &format!("schedule {id} {verb}"),
        )
        .await
    }

    /// 3.2: brings schedule `id` of the project with `project_code` online or offline.
    pub async fn switch_32(
        &self,
        project_code: i64,
        id: i64,
        online: bool,
    ) -> Result<(), MigrateError> {
        let verb = if online { "online" } else { "offline" };
        let code = project_code.to_string();
        let id_text = id.to_string();
        let path = [
            "projects",
            code.as_str(),
            "schedules",
            id_text.as_str(),
            verb,
        ];
        self.post(&path, &[], &format!("schedule {id} {verb}"))
            .await
    }

    async fn post(
        &self,
        segments: &[&str],
        form: &[(&str, String)],
        what: &str,
    ) -> Result<(), MigrateError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| MigrateError::Cutover {
                reason: format!("{}: `{}` cannot be a base URL", self.release, self.base),
            })?
            .pop_if_empty()
            .extend(segments);
        let failed = |reason: String| MigrateError::Cutover {
            reason: format!("{} refused {what} (POST {url}): {reason}", self.release),
        };
        let resp = self
            .http
            .post(url.clone())
            .header("token", &self.token)
            .form(form)
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        let answer: Option<Answer> = serde_json::from_str(&body).ok();
        match answer {
            Some(a) if status.is_success() && a.code == 0 => Ok(()),
            Some(a) => Err(failed(format!(
                "HTTP {status}, code {}: {}",
                a.code,
                a.msg.unwrap_or_default()
            ))),
            None => Err(failed(format!(
                "HTTP {status}, not a DolphinScheduler answer: {}",
                body.chars().take(200).collect::<String>()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_and_tokens_are_refused_with_the_reason() {
        let cases = [
            ("ftp://h/ds", "tok", "scheme ftp"),
            ("https://h/ds", "tok", "https is not built in"),
            ("http://u:p@h/ds", "tok", "credentials do not belong"),
            ("http://h/ds?x=1", "tok", "query or fragment"),
            ("not a url", "tok", "relative URL"),
            ("http://h/ds", " ", "token is empty"),
        ];
        for (url, token, needle) in cases {
            let err = DsApi::new(Release::V32, url, token)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{url}: {err}");
        }
    }

    #[test]
    fn the_token_is_not_in_debug_output() {
        let api = DsApi::new(Release::V13, "http://h:12345/dolphinscheduler", "s3cret").unwrap();
        let shown = format!("{api:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("redacted"),
            "{shown}"
        );
    }
}
