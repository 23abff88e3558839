//! The web console in a real headless Chromium (Debian's `chromium` through
//! `chromedriver`; `scripts/setup.d/30-browser` installs both). Screenshots go to
//! `target/browser-screenshots/<test>/`; each test prints the directory.

mod full;
mod pages;
mod platform;
mod upgrade;
mod webdriver;

use std::path::PathBuf;

/// `target/browser-screenshots/<test>`, recreated (the target directory is found from the
/// test binary's path, so `CARGO_TARGET_DIR` is honoured).
pub fn screenshot_dir(test: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/main-<hash>
    let target = exe.ancestors().nth(3).ok_or_else(|| {
        anyhow::anyhow!("cannot find the target directory from {}", exe.display())
    })?;
    let dir = target.join("browser-screenshots").join(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    println!("screenshots of {test}: {}", dir.display());
    Ok(dir)
}
