//! Running the engines' own tools (`pg_dump`, `pg_restore`, `mariadb-dump`, `mariadb`)
//! with credentials in a 0600 file, never on the command line: PostgreSQL reads a
//! `PGPASSFILE`, MariaDB a `--defaults-extra-file` given as first argument.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use crate::error::Error;
use crate::target::{DbTarget, Engine};

/// How often a running tool's output size is sampled for progress.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);
/// Lines of a failed tool's stderr kept for the error message.
const STDERR_TAIL_LINES: usize = 12;
/// How long to wait for the rest of a finished tool's stderr.
const STDERR_DRAIN: Duration = Duration::from_secs(2);
/// Bytes of the dump the hash reads at a time: small enough to stay in the core's L2
/// cache between the copy out of the page cache and the hash that reads it back.
const HASH_CHUNK: usize = 256 << 10;
/// Bytes of a growing dump the hash lets pass before it flushes them to disk: the dump is
/// synced as it is written, so that what is left to sync when the tool ends is small.
const SYNC_EVERY: u64 = 64 << 20;

/// Receives what a running tool does.
pub(crate) trait ToolObserver: Send + Sync {
    /// Bytes written so far to the watched output.
    fn bytes(&self, _n: u64) {}
    /// One line of the tool's stderr (already scrubbed of the password).
    fn line(&self, _line: &str) {}
}

/// An observer that only logs through `tracing`.
pub(crate) struct TraceObserver<'a>(pub &'a str);

impl ToolObserver for TraceObserver<'_> {
    fn line(&self, line: &str) {
        tracing::debug!(tool = self.0, line, "tool output");
    }
}

/// A request to stop something that runs (a dump, a command task). Cloned freely.
#[derive(Clone)]
pub struct StopSignal {
    rx: watch::Receiver<bool>,
    tx: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for StopSignal {
    fn default() -> Self {
        let (tx, rx) = watch::channel(false);
        Self {
            rx,
            tx: std::sync::Arc::new(tx),
        }
    }
}

impl StopSignal {
    pub fn stop(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_stopped(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once [`StopSignal::stop`] was called.
    pub async fn stopped(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// A 0600 credentials file in a private temporary directory, deleted on drop.
pub(crate) struct Credentials {
    dir: tempfile::TempDir,
    engine: Engine,
}

impl Credentials {
    pub(crate) fn write(target: &DbTarget) -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("changeover-cred")
            .tempdir()
            .map_err(|e| Error::io("create credentials directory in", std::env::temp_dir(), e))?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("restrict", dir.path(), e))?;
        let pw = target.password.as_ref().map(|p| p.expose()).unwrap_or("");
        let (name, body) = match target.engine {
            Engine::Postgres => {
                let esc = |s: &str| s.replace('\\', "\\\\").replace(':', "\\:");
                (
                    "pgpass",
                    format!(
                        "{}:{}:*:{}:{}\n",
                        esc(&target.host),
                        target.port,
                        esc(&target.user),
                        esc(pw)
                    ),
                )
            }
            _ => {
                let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
                (
                    "client.cnf",
                    format!(
                        "[client]\nhost=\"{}\"\nport={}\nuser=\"{}\"\npassword=\"{}\"\nprotocol=tcp\n",
                        esc(&target.host),
                        target.port,
                        esc(&target.user),
                        esc(pw)
                    ),
                )
            }
        };
        let path = dir.path().join(name);
        let mut opts = std::fs::OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create", &path, e))?;
        std::io::Write::write_all(&mut f, body.as_bytes())
            .map_err(|e| Error::io("write", &path, e))?;
        Ok(Self {
            dir,
            engine: target.engine,
        })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join(match self.engine {
            Engine::Postgres => "pgpass",
            _ => "client.cnf",
        })
    }

    /// Prepares a command of `program` for `target` with credentials attached.
    pub(crate) fn command(&self, program: &str, target: &DbTarget) -> Command {
        let mut cmd = Command::new(program);
        cmd.kill_on_drop(true).stdin(Stdio::null());
        match self.engine {
            Engine::Postgres => {
                cmd.env_remove("PGPASSWORD")
                    .env("PGPASSFILE", self.path())
                    .arg("-h")
                    .arg(&target.host)
                    .arg("-p")
                    .arg(target.port.to_string())
                    .arg("-U")
                    .arg(&target.user)
                    .arg("--no-password");
            }
            _ => {
                let mut a = OsString::from("--defaults-extra-file=");
                a.push(self.path());
                cmd.arg(a);
            }
        }
        cmd
    }
}

/// Runs a prepared command to completion. `watch` is a file whose size is reported as
/// progress; `stop` kills the process. Errors carry the last stderr lines, scrubbed.
pub(crate) async fn run(
    tool: &str,
    target: &DbTarget,
    cmd: Command,
    watch: Option<&Path>,
    observer: &dyn ToolObserver,
    stop: Option<&StopSignal>,
) -> Result<(), Error> {
    let child = spawn(tool, cmd)?;
    supervise(tool, target, child, watch, observer, stop).await
}

/// Runs a prepared command that writes its dump to `out` itself (`--result-file`), and
/// hashes the file as it grows, on a thread of its own: the SHA-256 is ready when the tool
/// ends, with no second pass over the dump and no copy of it through changeover (the tool
/// writes the file as it would alone; the hash reads it back from the page cache). The
/// same thread syncs the file to disk every [`SYNC_EVERY`] bytes and at the end, so that
/// a backup recorded complete survives a power loss (`mariadb-dump` does not sync).
pub(crate) async fn run_hashing(
    tool: &str,
    target: &DbTarget,
    cmd: Command,
    out: &Path,
    observer: &dyn ToolObserver,
    stop: Option<&StopSignal>,
) -> Result<String, Error> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Tells the hash that the tool ended, however this function returns.
    struct Ended(Arc<AtomicBool>);
    impl Drop for Ended {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }

    // Created empty first, so that the hash can open it before the tool writes; the tool
    // opens it again to write (truncating nothing: nothing is in it yet).
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)
        .map_err(|e| Error::io("create", out, e))?;
    let ended = Ended(Arc::new(AtomicBool::new(false)));
    let tool_ended = Arc::clone(&ended.0);
    let path = out.to_owned();
    let (hash_tx, hash) = tokio::sync::oneshot::channel();
    // Its own thread, at a lower priority: the dump tool and the server it reads are the
    // critical path, and the hash (about 0.5 s of CPU per GB) should use what they leave
    // rather than take turns with them on a busy host. The thread ends with the hash.
    std::thread::Builder::new()
        .name("dump-sha256".into())
        .spawn(move || {
            lower_priority();
            let _ = hash_tx.send(hash_growing_file(file, &path, &tool_ended));
        })
        .map_err(|e| Error::ToolMissing {
            tool: tool.into(),
            message: format!("could not start the hash of the dump: {e}"),
        })?;
    let child = spawn(tool, cmd)?;
    let ran = supervise(tool, target, child, Some(out), observer, stop).await;
    drop(ended);
    let hashed = hash.await.map_err(|_| Error::ToolMissing {
        tool: tool.into(),
        message: "the hash of the dump ended abnormally".into(),
    })?;
    ran?;
    hashed
}

/// SHA-256 of `file` while a tool writes it: reads to the end, waits while the tool is
/// still running, and stops at the end of the file once `ended` is set; then syncs the
/// file (also every [`SYNC_EVERY`] bytes on the way).
fn hash_growing_file(
    mut file: std::fs::File,
    path: &Path,
    ended: &std::sync::atomic::AtomicBool,
) -> Result<String, Error> {
    use std::io::Read;
    use std::sync::atomic::Ordering;

    use sha2::Digest;

    let mut hash = sha2::Sha256::new();
    let mut buf = vec![0u8; HASH_CHUNK];
    let mut unsynced = 0u64;
    let sync = |file: &std::fs::File| file.sync_data().map_err(|e| Error::io("sync", path, e));
    loop {
        // Read whether the tool had ended before the read: a read of 0 after that is the
        // end of the file, not a pause of the tool.
        let was_ended = ended.load(Ordering::Acquire);
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read", path, e)),
        };
        if n > 0 {
            hash.update(&buf[..n]);
            unsynced += n as u64;
            if unsynced >= SYNC_EVERY {
                sync(&file)?;
                unsynced = 0;
            }
        } else if was_ended {
            break;
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    sync(&file)?;
    Ok(hex::encode(hash.finalize()))
}

/// Lowers the calling thread's priority (`nice` +10; Linux sets it per thread). A failure
/// only leaves the normal priority.
fn lower_priority() {
    let tid = rustix::thread::gettid();
    let lowered = rustix::process::getpriority_process(Some(tid))
        .and_then(|nice| rustix::process::setpriority_process(Some(tid), (nice + 10).min(19)));
    if let Err(e) = lowered {
        tracing::debug!(error = %e, "the dump's hash keeps the normal priority");
    }
}

fn spawn(tool: &str, mut cmd: Command) -> Result<tokio::process::Child, Error> {
    cmd.stderr(Stdio::piped());
    if cmd.as_std().get_program().is_empty() {
        return Err(Error::ToolMissing {
            tool: tool.into(),
            message: "empty program".into(),
        });
    }
    cmd.spawn().map_err(|e| Error::ToolMissing {
        tool: tool.into(),
        message: e.to_string(),
    })
}

/// Follows a spawned tool to its end: stderr kept (scrubbed) for the error, progress from
/// `watch`'s size, `stop` kills it.
async fn supervise(
    tool: &str,
    target: &DbTarget,
    mut child: tokio::process::Child,
    watch: Option<&Path>,
    observer: &dyn ToolObserver,
    stop: Option<&StopSignal>,
) -> Result<(), Error> {
    let stderr = child.stderr.take().map(|s| BufReader::new(s).lines());
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    if let Some(mut lines) = stderr {
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                if line_tx.send(l).is_err() {
                    break;
                }
            }
        });
    }
    let mut tail: Vec<String> = Vec::new();
    let keep = |l: String, tail: &mut Vec<String>| {
        let l = target.scrub(&l);
        observer.line(&l);
        tail.push(l);
        if tail.len() > STDERR_TAIL_LINES {
            tail.remove(0);
        }
    };
    let never = StopSignal::default();
    let stop = stop.unwrap_or(&never);
    let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.map_err(|e| Error::ToolMissing { tool: tool.into(), message: e.to_string() })?,
            Some(l) = line_rx.recv() => keep(l, &mut tail),
            _ = tick.tick() => if let Some(p) = watch { observer.bytes(output_size(p)) },
            _ = stop.stopped() => {
                let _ = child.kill().await;
                return Err(Error::Stopped { database: target.redacted() });
            }
        }
    };
    // Drain what is left of stderr (the reader ends at EOF).
    while let Ok(Some(l)) = tokio::time::timeout(STDERR_DRAIN, line_rx.recv()).await {
        keep(l, &mut tail);
    }
    if let Some(p) = watch {
        observer.bytes(output_size(p));
    }
    if status.success() {
        Ok(())
    } else {
        Err(Error::Tool {
            tool: tool.into(),
            target: target.redacted(),
            status: status.to_string(),
            stderr: tail.join(" | "),
        })
    }
}

/// Size of a file, or of every file in a directory (pg_dump `-Fd`); 0 when absent.
pub(crate) fn output_size(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// First line of `<tool> --version`.
pub(crate) async fn version(tool: &str) -> String {
    match Command::new(tool).arg("--version").output().await {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned(),
        Err(_) => String::from("unknown"),
    }
}
