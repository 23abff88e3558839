//! Health checks: an HTTP GET expecting 2xx, a TCP connect, or "still alive".

use tokio::net::TcpStream;

use super::instance::{Children, Liveness, liveness};
use super::state::InstanceRecord;
use super::{HealthCheck, Probe, ProcessError, log_tail};

/// Lines of log quoted in errors about an instance.
pub(crate) const ERROR_LOG_LINES: usize = 20;

/// One probe of a running instance; `Err` says what was wrong.
pub(crate) async fn probe_once(
    http: &reqwest::Client,
    check: &HealthCheck,
    port: u16,
) -> Result<(), String> {
    match &check.probe {
        Probe::Alive => Ok(()),
        Probe::Tcp => {
            match tokio::time::timeout(check.timeout(), TcpStream::connect(("127.0.0.1", port)))
                .await
            {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("tcp connect to 127.0.0.1:{port} failed: {e}")),
                Err(_) => Err(format!(
                    "tcp connect to 127.0.0.1:{port} took over {} ms",
                    check.timeout_ms
                )),
            }
        }
        Probe::Http { path } => {
            let url = format!("http://127.0.0.1:{port}{path}");
            match http.get(&url).timeout(check.timeout()).send().await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(format!("GET {url} answered {}", response.status())),
                Err(e) if e.is_timeout() => {
                    Err(format!("GET {url} took over {} ms", check.timeout_ms))
                }
                Err(e) => Err(format!("GET {url} failed: {e}")),
            }
        }
    }
}

/// Probes until healthy, up to `check.retries` times `check.interval` apart.
///
/// Fails at once, with the exit status and log tail, if the process ends meanwhile; fails
/// with the log tail if it never became healthy. Records the exit in `record`.
pub(crate) async fn wait_healthy(
    app: &str,
    http: &reqwest::Client,
    children: &Children,
    check: &HealthCheck,
    record: &mut InstanceRecord,
) -> Result<(), ProcessError> {
    let mut last_problem = String::new();
    for attempt in 1..=check.retries {
        if matches!(check.probe, Probe::Alive) || attempt > 1 {
            tokio::time::sleep(check.interval()).await;
        }
        if let Liveness::Ended(exit) = liveness(children, record) {
            return Err(ProcessError::Exited {
                app: app.to_owned(),
                instance: record.instance_id.clone(),
                exit,
                log_tail: tail_text(record),
            });
        }
        match probe_once(http, check, record.port).await {
            Ok(()) => {
                tracing::info!(app, instance = %record.instance_id, attempt, "instance healthy");
                return Ok(());
            }
            Err(problem) => {
                tracing::debug!(app, instance = %record.instance_id, attempt, %problem, "not healthy yet");
                last_problem = problem;
            }
        }
    }
    // It may have died during the last probe; say so rather than "unhealthy".
    if let Liveness::Ended(exit) = liveness(children, record) {
        return Err(ProcessError::Exited {
            app: app.to_owned(),
            instance: record.instance_id.clone(),
            exit,
            log_tail: tail_text(record),
        });
    }
    Err(ProcessError::NeverHealthy {
        app: app.to_owned(),
        instance: record.instance_id.clone(),
        attempts: check.retries,
        last_problem,
        log_tail: tail_text(record),
    })
}

pub(crate) fn tail_text(record: &InstanceRecord) -> String {
    match log_tail::last_lines(&record.log_path, ERROR_LOG_LINES) {
        Ok(lines) if lines.is_empty() => "(the log is empty)".to_owned(),
        Ok(lines) => lines.join("\n"),
        Err(e) => format!("(cannot read the log: {e})"),
    }
}
