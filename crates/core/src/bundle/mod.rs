//! Version bundles: a YAML file or a ZIP archive describing one target version.
//!
//! [`read`] parses bytes (YAML or ZIP, told apart by the ZIP magic) with YAML budgets and
//! ZIP safety limits; [`Bundle::validate`] checks structure and configuration against a
//! [`ValidationContext`]. Format reference: `docs/bundle-format.md`.

mod archive;
mod digest;
mod error;
mod manifest;
mod placeholder;
mod read;
mod structure;
mod validate;

use std::collections::BTreeMap;

pub use archive::{
    Files, MAX_COMPRESSION_RATIO, MAX_ENTRIES, MAX_UNPACKED_BYTES, RATIO_EXEMPT_BYTES,
};
pub use digest::{md5_hex, sha256_hex};
pub use error::BundleError;
pub use manifest::*;
pub use placeholder::{PLACEHOLDERS, Placeholder, scan as scan_placeholders};
pub use read::{
    MAX_BUNDLE_BYTES, MAX_YAML_ALIASES, MAX_YAML_EVENTS, MAX_YAML_NODES, MAX_YAML_REPLAYED_EVENTS,
    read,
};
pub use structure::{HOOK_METHODS, STACK_DUMP_SIGNALS, check_structure};
pub use validate::{Issue, ValidationContext, ValidationReport};

/// Whether a bundle came as one YAML file or as a ZIP archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BundleKind {
    Yaml,
    Zip,
}

/// Replaces a secret configuration value wherever values are shown.
pub const REDACTED: &str = "********";

/// A bundle that was read safely. Keeps the original bytes so it can be downloaded again
/// unchanged.
#[derive(Clone, PartialEq)]
pub struct Bundle {
    manifest: Manifest,
    kind: BundleKind,
    file_name: String,
    original: Vec<u8>,
    /// ZIP only: every file by normalised path.
    files: Files,
    /// ZIP only: `values.yaml`, flattened to dotted keys.
    values_file: Option<ConfigValues>,
    /// ZIP only: `overlays/*.yaml` by entry path, in path order, flattened.
    overlays: Vec<(String, ConfigValues)>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print configuration values: some are secrets.
        f.debug_struct("Bundle")
            .field("platform", &self.manifest.platform)
            .field("version", &self.manifest.version)
            .field("kind", &self.kind)
            .field("file_name", &self.file_name)
            .field("bytes", &self.original.len())
            .finish_non_exhaustive()
    }
}

impl Bundle {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    pub fn platform(&self) -> &str {
        &self.manifest.platform
    }
    pub fn version(&self) -> &crate::version::Version {
        &self.manifest.version
    }
    pub fn kind(&self) -> BundleKind {
        self.kind
    }
    /// The name the bundle was uploaded under (used in messages).
    pub fn file_name(&self) -> &str {
        &self.file_name
    }
    /// The bytes exactly as uploaded: offer these for "download again".
    pub fn original_bytes(&self) -> &[u8] {
        &self.original
    }
    /// SHA-256 of the original bytes, lowercase hex.
    pub fn sha256(&self) -> String {
        sha256_hex(&self.original)
    }
    /// MD5 of the original bytes, lowercase hex.
    pub fn md5(&self) -> String {
        md5_hex(&self.original)
    }
    /// ZIP only: every file of the archive by normalised path (empty for YAML).
    pub fn files(&self) -> &Files {
        &self.files
    }
    /// ZIP only: the values of `values.yaml`, flattened to dotted keys.
    pub fn values_file(&self) -> Option<&ConfigValues> {
        self.values_file.as_ref()
    }
    /// ZIP only: each overlay's path and flattened values, in path order.
    pub fn overlays(&self) -> &[(String, ConfigValues)] {
        &self.overlays
    }

    /// The MD5 identifying the configuration template. For a ZIP with a `template/`
    /// directory: MD5 over its files in path order (each as path, NUL, content, NUL);
    /// otherwise MD5 of the `template:` section as compact JSON. Register this value when
    /// a bundle is imported; later uploads are compared against it.
    pub fn template_md5(&self) -> String {
        let mut buf = Vec::new();
        for (path, content) in self.files.range("template/".to_owned()..) {
            if !path.starts_with("template/") {
                break;
            }
            buf.extend_from_slice(path.as_bytes());
            buf.push(0);
            buf.extend_from_slice(content);
            buf.push(0);
        }
        if buf.is_empty() {
            buf = serde_json::to_vec(&self.manifest.template).unwrap_or_default();
        }
        md5_hex(&buf)
    }

    /// The values the bundle gives, before template defaults: `config:` overridden by
    /// `values.yaml`, overridden by each overlay in path order.
    pub fn given_values(&self) -> ConfigValues {
        let mut values = self.manifest.config.clone();
        if let Some(file) = &self.values_file {
            values.extend(file.clone());
        }
        for (_, overlay) in &self.overlays {
            values.extend(overlay.clone());
        }
        values
    }

    /// The values the platform will run with: template defaults, then [`Self::given_values`].
    pub fn effective_config(&self) -> ConfigValues {
        let mut values: ConfigValues = self
            .manifest
            .template
            .items
            .iter()
            .filter_map(|item| item.default.clone().map(|d| (item.key.clone(), d)))
            .collect();
        values.extend(self.given_values());
        values
    }

    /// [`Self::effective_config`] with every secret item's value replaced by [`REDACTED`].
    pub fn redacted_config(&self) -> ConfigValues {
        let secret: BTreeMap<&str, bool> = self
            .manifest
            .template
            .items
            .iter()
            .map(|i| (i.key.as_str(), i.secret))
            .collect();
        self.effective_config()
            .into_iter()
            .map(|(k, v)| {
                let v = if secret.get(k.as_str()).copied().unwrap_or(false) {
                    ConfigValue::String(REDACTED.to_owned())
                } else {
                    v
                };
                (k, v)
            })
            .collect()
    }

    /// Check structure and configuration; see [`ValidationReport`].
    pub fn validate(&self, context: &ValidationContext) -> ValidationReport {
        validate::validate(self, context)
    }
}
