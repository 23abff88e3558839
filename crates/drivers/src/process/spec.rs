//! The resolved application spec the process driver runs, and its validation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use super::ProcessError;

/// Java and most runtimes print a thread dump on SIGQUIT.
const DEFAULT_STACK_DUMP_SIGNAL: &str = "SIGQUIT";
/// Long enough for a JVM service to finish in-flight requests after SIGTERM.
const DEFAULT_STOP_GRACE_MS: u64 = 10_000;
/// How long a retired upstream keeps serving requests a gateway already sent to it.
const DEFAULT_DRAIN_MS: u64 = 2_000;
/// One health probe may take this long before it counts as failed.
const DEFAULT_HEALTH_TIMEOUT_MS: u64 = 2_000;
/// Probes before giving up: with the default interval, one minute of startup.
const DEFAULT_HEALTH_RETRIES: u32 = 120;
const DEFAULT_HEALTH_INTERVAL_MS: u64 = 500;

/// How an application is replaced by a new version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Stop the old instance, start the new one on the same port (service interrupted).
    #[default]
    Recreate,
    /// Start the new instance beside the old, switch the route, drain and retire the old.
    Rolling,
}

/// What "healthy" means for an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Probe {
    /// `GET http://127.0.0.1:{port}{path}` answers 2xx.
    Http { path: String },
    /// A TCP connection to `127.0.0.1:{port}` succeeds.
    Tcp,
    /// The process is still alive one interval after start.
    Alive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    pub probe: Probe,
    #[serde(default = "default_health_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_health_retries")]
    pub retries: u32,
    #[serde(default = "default_health_interval_ms")]
    pub interval_ms: u64,
}

impl HealthCheck {
    pub fn new(probe: Probe) -> Self {
        Self {
            probe,
            timeout_ms: DEFAULT_HEALTH_TIMEOUT_MS,
            retries: DEFAULT_HEALTH_RETRIES,
            interval_ms: DEFAULT_HEALTH_INTERVAL_MS,
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }
}

/// One application at one version, resolved from a bundle: everything needed to run it.
///
/// In `command`, `env` values and `working_dir`, the text `{port}` is replaced by the port
/// the instance gets; the instance also sees `CHANGEOVER_PORT`, `CHANGEOVER_APP`,
/// `CHANGEOVER_VERSION` and `CHANGEOVER_INSTANCE` in its environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub name: String,
    pub version: String,
    /// Program and arguments; no shell is involved.
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub working_dir: Option<PathBuf>,
    /// The port to serve on; `None` picks a free one at start.
    #[serde(default)]
    pub port: Option<u16>,
    pub health: HealthCheck,
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default)]
    pub always_on: bool,
    #[serde(default = "default_stack_dump_signal")]
    pub stack_dump_signal: String,
    #[serde(default = "default_stop_grace_ms")]
    pub stop_grace_ms: u64,
    /// Stop by sending SIGTERM to the main process only, so it can let its child processes
    /// (e.g. the running tasks of a scheduler's local executor) finish; whatever is left of
    /// the process group is killed after `stop_grace_ms`. Default: SIGTERM to the group.
    #[serde(default)]
    pub stop_main_first: bool,
    #[serde(default = "default_drain_ms")]
    pub drain_ms: u64,
}

impl AppSpec {
    /// A spec with default timings, strategy `recreate` and a TCP probe.
    pub fn new(name: &str, version: &str, command: Vec<String>) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            command,
            env: BTreeMap::new(),
            working_dir: None,
            port: None,
            health: HealthCheck::new(Probe::Tcp),
            strategy: Strategy::Recreate,
            always_on: false,
            stack_dump_signal: DEFAULT_STACK_DUMP_SIGNAL.to_owned(),
            stop_grace_ms: DEFAULT_STOP_GRACE_MS,
            stop_main_first: false,
            drain_ms: DEFAULT_DRAIN_MS,
        }
    }

    /// Checks everything that can be checked without running anything.
    pub fn validate(&self) -> Result<(), ProcessError> {
        let problem = |what: String| ProcessError::InvalidSpec {
            app: self.name.clone(),
            problem: what,
        };
        if !is_file_name_safe(&self.name) {
            return Err(problem(format!(
                "name {:?} must be 1-64 letters, digits, '-' or '_'",
                self.name
            )));
        }
        if !is_file_name_safe(&self.version.replace('.', "_")) {
            return Err(problem(format!(
                "version {:?} must be 1-64 letters, digits, '.', '-' or '_'",
                self.version
            )));
        }
        match self.command.first() {
            None => return Err(problem("command is empty; give the program to run".into())),
            Some(program) if program.trim().is_empty() => {
                return Err(problem("command starts with an empty program name".into()));
            }
            Some(_) => {}
        }
        for key in self.env.keys() {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(problem(format!(
                    "environment variable name {key:?} is invalid"
                )));
            }
        }
        if self.port == Some(0) {
            return Err(problem(
                "port 0 is not a port; leave it out to pick a free one".into(),
            ));
        }
        if let Probe::Http { path } = &self.health.probe
            && !path.starts_with('/')
        {
            return Err(problem(format!(
                "health check path {path:?} must start with '/'"
            )));
        }
        if self.health.retries == 0 {
            return Err(problem("health check retries must be at least 1".into()));
        }
        if self.health.timeout_ms == 0 {
            return Err(problem("health check timeout_ms must be above 0".into()));
        }
        self.stack_dump_signal()?;
        Ok(())
    }

    /// The stack-dump signal, accepting `SIGQUIT` or `QUIT`.
    pub fn stack_dump_signal(&self) -> Result<Signal, ProcessError> {
        parse_signal(&self.stack_dump_signal).ok_or_else(|| ProcessError::InvalidSpec {
            app: self.name.clone(),
            problem: format!(
                "stack_dump_signal {:?} is not a signal name like SIGQUIT or USR1",
                self.stack_dump_signal
            ),
        })
    }

    pub fn stop_grace(&self) -> Duration {
        Duration::from_millis(self.stop_grace_ms)
    }

    pub fn drain(&self) -> Duration {
        Duration::from_millis(self.drain_ms)
    }
}

pub(crate) fn parse_signal(name: &str) -> Option<Signal> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&full).ok()
}

fn is_file_name_safe(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn default_stack_dump_signal() -> String {
    DEFAULT_STACK_DUMP_SIGNAL.to_owned()
}
fn default_stop_grace_ms() -> u64 {
    DEFAULT_STOP_GRACE_MS
}
fn default_drain_ms() -> u64 {
    DEFAULT_DRAIN_MS
}
fn default_health_timeout_ms() -> u64 {
    DEFAULT_HEALTH_TIMEOUT_MS
}
fn default_health_retries() -> u32 {
    DEFAULT_HEALTH_RETRIES
}
fn default_health_interval_ms() -> u64 {
    DEFAULT_HEALTH_INTERVAL_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AppSpec {
        AppSpec::new("oltp", "5.1.2.04", vec!["sleep".into(), "1".into()])
    }

    #[test]
    fn a_plain_spec_is_valid() {
        spec().validate().unwrap();
    }

    #[test]
    fn names_that_could_escape_the_state_dir_are_refused() {
        let mut s = spec();
        s.name = "../etc".into();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("name \"../etc\""), "{err}");
        let mut s = spec();
        s.version = "1/2".into();
        assert!(s.validate().unwrap_err().to_string().contains("version"));
    }

    #[test]
    fn bad_signal_path_and_command_are_named() {
        let mut s = spec();
        s.stack_dump_signal = "SIGNOPE".into();
        assert!(s.validate().unwrap_err().to_string().contains("SIGNOPE"));
        let mut s = spec();
        s.health.probe = Probe::Http {
            path: "health".into(),
        };
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("must start with '/'")
        );
        let mut s = spec();
        s.command.clear();
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("command is empty")
        );
    }

    #[test]
    fn signals_parse_with_or_without_prefix() {
        assert_eq!(parse_signal("QUIT"), Some(Signal::SIGQUIT));
        assert_eq!(parse_signal("sigusr1"), Some(Signal::SIGUSR1));
        assert_eq!(parse_signal("bogus"), None);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = r#"{"name":"a","version":"1","command":["x"],"health":{"probe":{"kind":"tcp"}},"colour":"red"}"#;
        let err = serde_json::from_str::<AppSpec>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
    }
}
