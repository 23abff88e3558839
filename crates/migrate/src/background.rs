//! Threads for the snapshot's CPU work (parsing, the transform, `COPY` encoding) that run
//! at a lower scheduling priority than the rest of the host.
//!
//! A snapshot is batch work beside a live system: the 1.3 platform keeps running on its
//! database, and the databases often share the migrator's host. Measured on two cores with
//! the target PostgreSQL on the same host, the fair scheduler gave the `COPY` backend about
//! half a core while three snapshot threads were runnable, and the backend is the critical
//! path of the snapshot. Lowering the snapshot threads' priority (`nice` +10, inherited by
//! the threads they start) lets the databases and the platform run first; the snapshot uses
//! what they leave. Each thread is its own: the lowered priority ends with it, and nothing
//! else runs on it (an unprivileged process could not raise it again).

use tokio::sync::oneshot;
use tracing::debug;

use crate::error::MigrateError;

/// How much lower the snapshot threads' priority is (added to their `nice` value).
pub const NICE_INCREMENT: i32 = 10;

/// A thread started by `spawn`; `join` waits for its result without blocking the runtime.
pub struct Background<T> {
    name: &'static str,
    result: oneshot::Receiver<T>,
}

/// Starts `f` on a new thread named `name` whose priority is lowered first. If the priority
/// cannot be changed (a platform without per-thread priorities), `f` runs at the normal one.
pub fn spawn<T: Send + 'static>(
    name: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<Background<T>, MigrateError> {
    let (tx, result) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_priority(name);
            // The receiver is gone only when the snapshot stopped waiting (an error).
            let _ = tx.send(f());
        })
        .map_err(|e| MigrateError::State {
            reason: format!("could not start the snapshot thread {name}: {e}"),
        })?;
    Ok(Background { name, result })
}

impl<T> Background<T> {
    /// The thread's result; an error if it panicked.
    pub async fn join(self) -> Result<T, MigrateError> {
        self.result.await.map_err(|_| MigrateError::State {
            reason: format!("the snapshot thread {} stopped abnormally", self.name),
        })
    }
}

#[cfg(target_os = "linux")]
fn lower_priority(name: &str) {
    // On Linux `PRIO_PROCESS` with a thread id sets that thread's nice value.
    let tid = rustix::thread::gettid();
    let lowered = rustix::process::getpriority_process(Some(tid)).and_then(|nice| {
        rustix::process::setpriority_process(Some(tid), (nice + NICE_INCREMENT).min(19))
    });
    if let Err(e) = lowered {
        debug!(thread = name, error = %e, "the snapshot thread keeps the normal priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(name: &str) {
    debug!(
        thread = name,
        "per-thread priorities are Linux only: normal priority"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    fn own_nice() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_thread_runs_lower_and_the_caller_keeps_its_priority() {
        let before = own_nice();
        let (nice, child_nice) = spawn("test-background", || {
            let child = std::thread::spawn(own_nice).join().unwrap();
            (own_nice(), child)
        })
        .unwrap()
        .join()
        .await
        .unwrap();
        assert_eq!(nice, (before + NICE_INCREMENT).min(19));
        assert_eq!(
            child_nice, nice,
            "threads it starts inherit the lower priority"
        );
        assert_eq!(own_nice(), before);
    }

    #[tokio::test]
    async fn a_panicking_thread_is_an_error_that_names_it() {
        let err = spawn("test-panics", || -> u8 { panic!("boom") })
            .unwrap()
            .join()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("test-panics"), "{err}");
    }
}
