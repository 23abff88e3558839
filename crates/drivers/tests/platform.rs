//! The sample platform's binaries, built once per test run with the workspace's cargo.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Paths of `sample-scheduler` and `sample-dataservice`, building them the first time.
pub fn binaries() -> &'static (PathBuf, PathBuf) {
    static BINARIES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let root = workspace_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "sample-platform", "--bins"])
            .current_dir(root)
            .status()
            .expect("run cargo build for the sample platform");
        assert!(status.success(), "building the sample platform failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|dir| {
                if dir.is_absolute() {
                    dir
                } else {
                    root.join(dir)
                }
            })
            .unwrap_or_else(|| root.join("target"));
        let bin = |name: &str| {
            let path = target.join("debug").join(name);
            assert!(path.is_file(), "{} was not built", path.display());
            path
        };
        (bin("sample-scheduler"), bin("sample-dataservice"))
    })
}

pub fn scheduler_bin() -> String {
    binaries().0.to_string_lossy().into_owned()
}

pub fn dataservice_bin() -> String {
    binaries().1.to_string_lossy().into_owned()
}

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("crates/drivers lies two levels below the workspace root")
}
