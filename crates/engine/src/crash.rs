//! Named crash points: `CHANGEOVER_CRASH_AT=<point>` (or `<point>@<n>` for its n-th pass)
//! kills changeover with SIGKILL at that point, so tests can prove every step resumes.
//!
//! Points are `<step>:begin` (intent saved, nothing done), `<step>:effect` (a side effect
//! done, its outcome not saved yet) and `<step>:end` (outcome saved, cursor not moved).

use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming the crash point.
pub const CRASH_AT: &str = "CHANGEOVER_CRASH_AT";

static PASSES: AtomicU32 = AtomicU32::new(0);

/// Kills this process with SIGKILL if `point` is the configured crash point.
pub fn point(point: &str) {
    let Ok(wanted) = std::env::var(CRASH_AT) else {
        return;
    };
    let (name, nth) = match wanted.split_once('@') {
        Some((name, n)) => (name.to_owned(), n.parse::<u32>().unwrap_or(1)),
        None => (wanted, 1),
    };
    if name != point {
        return;
    }
    let pass = PASSES.fetch_add(1, Ordering::SeqCst) + 1;
    if pass >= nth {
        tracing::warn!(
            point,
            "crash point reached: killing changeover with SIGKILL"
        );
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
        // SIGKILL cannot be caught; this is not reached.
        std::process::abort();
    }
}
