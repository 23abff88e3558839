//! Task processes: started in their own process group, exit code written to a file, so a
//! restarted scheduler can adopt them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// How long a terminated task gets between SIGTERM and SIGKILL.
const TERMINATE_GRACE: Duration = Duration::from_secs(3);

/// The file a task's wrapper writes its exit code to.
pub fn exit_file(data_dir: &Path, id: i64) -> PathBuf {
    data_dir.join("instances").join(format!("{id}.exit"))
}

/// The file a task's wrapper writes its own pid to before running the command, so a
/// scheduler killed before it recorded the pid can still adopt the process.
pub fn pid_file(data_dir: &Path, id: i64) -> PathBuf {
    data_dir.join("instances").join(format!("{id}.pid"))
}

/// The pid a task's wrapper wrote, if any.
pub fn read_pid(data_dir: &Path, id: i64) -> Option<i64> {
    std::fs::read_to_string(pid_file(data_dir, id))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Starts `command` for instance `id`; returns its pid (also its process group id).
///
/// The wrapper runs the command in a child shell, then writes `$?` atomically (temp file +
/// rename) to [`exit_file`]; the child reaper task keeps zombies away.
pub fn spawn(data_dir: &Path, id: i64, command: &str) -> std::io::Result<i64> {
    let dir = data_dir.join("instances");
    std::fs::create_dir_all(&dir)?;
    let log = std::fs::File::create(dir.join(format!("{id}.log")))?;
    let exit = exit_file(data_dir, id);
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(r#"echo $$ > "$3"; sh -c "$1"; echo $? > "$2.tmp" && mv "$2.tmp" "$2""#)
        .arg("sample-task")
        .arg(command)
        .arg(&exit)
        .arg(pid_file(data_dir, id))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let pid = child.id().map(i64::from).unwrap_or_default();
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(pid)
}

/// The exit code written by a finished task, if any.
pub fn read_exit(data_dir: &Path, id: i64) -> Option<i64> {
    let text = std::fs::read_to_string(exit_file(data_dir, id)).ok()?;
    Some(text.trim().parse().unwrap_or(-1))
}

/// Whether any process of the group led by `pid` is still alive.
pub fn group_alive(pid: i64) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 1 {
        return false;
    }
    let group = killpg(Pid::from_raw(raw), None);
    let leader = kill(Pid::from_raw(raw), None);
    group.is_ok() || leader.is_ok() || matches!(leader, Err(nix::errno::Errno::EPERM))
}

/// SIGTERM to the whole group, then SIGKILL after the grace period.
pub async fn terminate(pid: i64) {
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    if raw <= 1 {
        return;
    }
    let group = Pid::from_raw(raw);
    let _ = killpg(group, Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + TERMINATE_GRACE;
    while tokio::time::Instant::now() < deadline {
        if !group_alive(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::warn!(pid, "task ignored SIGTERM; sending SIGKILL");
    let _ = killpg(group, Signal::SIGKILL);
}
