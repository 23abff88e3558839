//! One operating-system process of an application: spawn, watch, signal, stop.
//!
//! Every instance leads its own process group (so a stop reaches its children too) and
//! writes stdout and stderr to its own log file, not to a pipe: it keeps running, and
//! keeps logging, when changeover itself exits or crashes.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

use super::state::InstanceRecord;
use super::{AppSpec, ProcessError};

/// How often a stop looks whether the process has gone.
const STOP_POLL: Duration = Duration::from_millis(50);
/// After SIGKILL the kernel ends the process at once; this only bounds a stuck wait.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// How a process ended. Both fields `None`: it ended while changeover was not watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl ExitStatus {
    pub(crate) const UNKNOWN: ExitStatus = ExitStatus {
        code: None,
        signal: None,
    };
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exited with code {code}"),
            (None, Some(signal)) => {
                let name = Signal::try_from(signal).map(|s| s.as_str()).unwrap_or("?");
                write!(f, "was killed by signal {signal} ({name})")
            }
            (None, None) => f.write_str("ended while changeover was not watching (status unknown)"),
        }
    }
}

/// What a stop had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopOutcome {
    /// The process had already ended.
    AlreadyEnded,
    /// It ended within the grace period after SIGTERM.
    Graceful,
    /// It ignored SIGTERM and was killed with SIGKILL.
    Killed,
}

pub(crate) enum Liveness {
    Alive,
    Ended(ExitStatus),
}

/// Child handles of the processes this driver object started itself (their exit status
/// is exact); processes re-adopted from the state dir are watched through `/proc`.
#[derive(Default)]
pub(crate) struct Children(Mutex<HashMap<i32, Child>>);

impl Children {
    fn insert(&self, pid: i32, child: Child) {
        self.lock().insert(pid, child);
    }

    /// `None` when the pid is not our child; `Some(None)` while it runs.
    fn try_exit(&self, pid: i32) -> Option<Option<ExitStatus>> {
        let mut children = self.lock();
        let child = children.get_mut(&pid)?;
        match child.try_wait() {
            Ok(None) => Some(None),
            Ok(Some(status)) => {
                children.remove(&pid);
                Some(Some(ExitStatus {
                    code: status.code(),
                    signal: status.signal(),
                }))
            }
            Err(_) => {
                children.remove(&pid);
                Some(Some(ExitStatus::UNKNOWN))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Child>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether the instance still runs; records the exit status in `record` when it ended.
pub(crate) fn liveness(children: &Children, record: &mut InstanceRecord) -> Liveness {
    if let Some(exit) = record.exit {
        return Liveness::Ended(exit);
    }
    let ended = match children.try_exit(record.pid) {
        Some(None) => return Liveness::Alive,
        Some(Some(exit)) => exit,
        None => match proc_stat(record.pid) {
            Some(stat)
                if !matches!(stat.state, 'Z' | 'X')
                    && (record.start_ticks.is_none()
                        || record.start_ticks == Some(stat.start_ticks)) =>
            {
                return Liveness::Alive;
            }
            _ => ExitStatus::UNKNOWN,
        },
    };
    record.exit = Some(ended);
    Liveness::Ended(ended)
}

struct ProcStat {
    state: char,
    start_ticks: u64,
}

/// Reads state and start time of a pid from `/proc/<pid>/stat`.
fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); starttime is field 22.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// Starts one instance of `spec` on `port`, logging to `log_path` (appended).
pub(crate) fn spawn(
    spec: &AppSpec,
    children: &Children,
    instance_id: &str,
    port: u16,
    log_path: &Path,
) -> Result<InstanceRecord, ProcessError> {
    let port_text = port.to_string();
    let fill = |text: &str| text.replace("{port}", &port_text);
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| ProcessError::io("open log file", log_path, e))?;
    let started_at = Utc::now();
    writeln!(
        log,
        "=== changeover: starting {instance_id} (version {}) on port {port} at {} ===",
        spec.version,
        started_at.to_rfc3339()
    )
    .map_err(|e| ProcessError::io("write log file", log_path, e))?;
    let stderr = log
        .try_clone()
        .map_err(|e| ProcessError::io("open log file", log_path, e))?;

    let program = fill(&spec.command[0]);
    let mut command = Command::new(&program);
    command
        .args(spec.command[1..].iter().map(|a| fill(a)))
        .envs(spec.env.iter().map(|(k, v)| (k.clone(), fill(v))))
        .env("CHANGEOVER_PORT", &port_text)
        .env("CHANGEOVER_APP", &spec.name)
        .env("CHANGEOVER_VERSION", &spec.version)
        .env("CHANGEOVER_INSTANCE", instance_id)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(stderr))
        .process_group(0)
        .kill_on_drop(false);
    if let Some(dir) = &spec.working_dir {
        command.current_dir(fill(&dir.to_string_lossy()));
    }
    let child = command.spawn().map_err(|source| ProcessError::Spawn {
        app: spec.name.clone(),
        program: program.clone(),
        source,
    })?;
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| ProcessError::Spawn {
            app: spec.name.clone(),
            program,
            source: std::io::Error::other("the process ended before its pid was read"),
        })?;
    children.insert(pid, child);
    let record = InstanceRecord {
        instance_id: instance_id.to_owned(),
        version: spec.version.clone(),
        pid,
        start_ticks: proc_stat(pid).map(|s| s.start_ticks),
        port,
        log_path: log_path.to_owned(),
        started_at,
        health: spec.health.clone(),
        stop_grace_ms: spec.stop_grace_ms,
        stop_main_first: spec.stop_main_first,
        stack_dump_signal: spec.stack_dump_signal.clone(),
        exit: None,
        stopped: false,
    };
    tracing::info!(app = %spec.name, instance = instance_id, pid, port, "instance started");
    Ok(record)
}

/// Sends `signal` to the instance's main process only.
pub(crate) fn signal_main(
    app: &str,
    record: &InstanceRecord,
    signal: Signal,
) -> Result<(), ProcessError> {
    kill(Pid::from_raw(record.pid), signal).map_err(|source| ProcessError::Signal {
        app: app.to_owned(),
        signal: signal.as_str().to_owned(),
        pid: record.pid,
        source,
    })
}

/// Stops an instance: SIGTERM to its process group (or to its main process only when it
/// drains its children, `stop_main_first`), SIGKILL to the group after `grace`.
pub(crate) async fn stop(
    app: &str,
    children: &Children,
    record: &mut InstanceRecord,
) -> StopOutcome {
    let grace = Duration::from_millis(record.stop_grace_ms);
    if let Liveness::Ended(_) = liveness(children, record) {
        record.stopped = true;
        return StopOutcome::AlreadyEnded;
    }
    let group = Pid::from_raw(record.pid);
    if record.stop_main_first {
        let _ = kill(group, Signal::SIGTERM);
    } else {
        let _ = killpg(group, Signal::SIGTERM);
    }
    let outcome = if wait_ended(children, record, grace).await {
        StopOutcome::Graceful
    } else {
        tracing::warn!(app, instance = %record.instance_id, grace_ms = grace.as_millis(), "instance ignored SIGTERM; killing it");
        let _ = killpg(group, Signal::SIGKILL);
        wait_ended(children, record, KILL_WAIT).await;
        StopOutcome::Killed
    };
    // Children of the main process that outlived it belong to the same group.
    let _ = killpg(group, Signal::SIGKILL);
    record.stopped = true;
    tracing::info!(app, instance = %record.instance_id, ?outcome, "instance stopped");
    outcome
}

async fn wait_ended(children: &Children, record: &mut InstanceRecord, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Liveness::Ended(_) = liveness(children, record) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(STOP_POLL).await;
    }
}

/// Kills the whole group at once, without grace; for emergencies and test cleanup.
pub(crate) fn kill_now(children: &Children, record: &mut InstanceRecord) {
    if let Liveness::Alive = liveness(children, record) {
        let _ = killpg(Pid::from_raw(record.pid), Signal::SIGKILL);
        record.stopped = true;
    }
}

/// A port nobody listens on right now (the kernel's choice for port 0).
pub(crate) fn free_port() -> Result<u16, ProcessError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(ProcessError::NoFreePort)?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(ProcessError::NoFreePort)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_stat_is_readable() {
        let stat = proc_stat(std::process::id() as i32).unwrap();
        assert!(matches!(stat.state, 'R' | 'S'));
        assert!(stat.start_ticks > 0);
    }

    #[test]
    fn exit_status_reads_well() {
        let code = ExitStatus {
            code: Some(3),
            signal: None,
        };
        assert_eq!(code.to_string(), "exited with code 3");
        let sig = ExitStatus {
            code: None,
            signal: Some(9),
        };
        assert!(sig.to_string().contains("SIGKILL"));
        assert!(ExitStatus::UNKNOWN.to_string().contains("unknown"));
    }
}
