//! Running one data-update task: SQL in a transaction, or a process (stoppable: its
//! process group gets SIGTERM, then SIGKILL).

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::TaskKind;
use super::record::Progress;
use crate::conn::Conn;
use crate::target::Engine;
use crate::tool::StopSignal;

/// How long a stopped command gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How a run ended.
pub(crate) enum Outcome {
    Succeeded,
    Failed(String),
    Stopped,
}

/// What a running task reports.
pub(crate) trait TaskObserver: Send + Sync {
    fn line(&self, line: &str);
    fn progress(&self, p: Progress);
}

pub(crate) async fn run(
    kind: &TaskKind,
    observer: &dyn TaskObserver,
    stop: &StopSignal,
) -> Outcome {
    match kind {
        TaskKind::Sql { target, sql } => {
            let work = async {
                let mut conn = Conn::open(target).await.map_err(|e| e.to_string())?;
                let begin = if target.engine == Engine::Mysql {
                    "START TRANSACTION"
                } else {
                    "BEGIN"
                };
                let r = async {
                    conn.execute(begin).await?;
                    let n = conn.execute(sql).await?;
                    conn.execute("COMMIT").await?;
                    Ok::<u64, sqlx::Error>(n)
                }
                .await;
                if r.is_err() {
                    let _ = conn.execute("ROLLBACK").await;
                }
                conn.close().await;
                r.map_err(|e| target.scrub(&e.to_string()))
            };
            tokio::select! {
                r = work => match r {
                    Ok(n) => {
                        observer.line(&format!("SQL committed on {target}, {n} rows affected"));
                        Outcome::Succeeded
                    }
                    Err(e) => Outcome::Failed(e),
                },
                _ = stop.stopped() => Outcome::Stopped,
            }
        }
        TaskKind::Command { argv, env, workdir } => {
            run_command(argv, env, workdir.as_deref(), observer, stop).await
        }
    }
}

async fn run_command(
    argv: &[String],
    env: &std::collections::BTreeMap<String, String>,
    workdir: Option<&std::path::Path>,
    observer: &dyn TaskObserver,
    stop: &StopSignal,
) -> Outcome {
    let Some((program, args)) = argv.split_first() else {
        return Outcome::Failed("the command is empty".into());
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(w) = workdir {
        cmd.current_dir(w);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("cannot start `{program}`: {e}")),
    };
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = tx.send(l);
            }
        });
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = tx.send(l);
            }
        });
    }
    drop(tx);
    let mut last = String::new();
    let handle = |l: String, last: &mut String| {
        if let Some(p) = Progress::parse_line(&l) {
            observer.progress(p);
        }
        observer.line(&l);
        *last = l;
    };
    let status = loop {
        tokio::select! {
            s = child.wait() => break s,
            Some(l) = rx.recv() => handle(l, &mut last),
            _ = stop.stopped() => {
                if let Some(pg) = pgid {
                    let _ = killpg(pg, Signal::SIGTERM);
                }
                if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
                    if let Some(pg) = pgid {
                        let _ = killpg(pg, Signal::SIGKILL);
                    }
                    let _ = child.wait().await;
                }
                while let Ok(l) = rx.try_recv() {
                    handle(l, &mut last);
                }
                return Outcome::Stopped;
            }
        }
    };
    while let Some(l) = rx.recv().await {
        handle(l, &mut last);
    }
    match status {
        Ok(s) if s.success() => Outcome::Succeeded,
        Ok(s) => Outcome::Failed(format!("`{program}` ended with {s}; last output: {last}")),
        Err(e) => Outcome::Failed(format!("waiting for `{program}` failed: {e}")),
    }
}
