//! Integration tests of changeover-core: sample bundles, scenario folders with the exact
//! expected error, ZIP safety, compatibility rules and property tests of versions.

mod compatibility;
mod samples;
mod scenarios;
mod versions;
mod zip_bundles;

use std::path::PathBuf;

/// `bundles/sample/<name>` at the repository root.
pub fn sample_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../bundles/sample")
        .join(name)
}

pub fn sample_bytes(name: &str) -> Vec<u8> {
    std::fs::read(sample_path(name)).expect("sample bundle is readable")
}
