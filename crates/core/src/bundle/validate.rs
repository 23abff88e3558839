//! Validation of a bundle that was read (design.md §3, seeds 000/002 "Configuration file").
//!
//! Blocking: structural issues, missing configuration items, values or overlays that are
//! incompatible with the template. Warnings: a template whose MD5 differs from the one
//! registered for the version, values differing from those running now.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Bundle;
use super::manifest::{ConfigValues, TemplateItem};
use super::structure::check_structure;

/// What the store knows when a bundle is uploaded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationContext {
    /// [`Bundle::template_md5`] of the bundle registered for the same version, if any.
    pub registered_template_md5: Option<String>,
    /// The configuration values the platform runs with now, if known.
    pub running_values: Option<ConfigValues>,
}

/// One finding, with the path it concerns (empty for the whole file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

impl Issue {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Issue {
        Issue {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The outcome of [`Bundle::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Blocking problems. Missing items are also summarised here as one issue.
    pub errors: Vec<Issue>,
    /// Every required template key without a value or default ("View details").
    pub missing_items: Vec<String>,
    /// Shown to the operator; the upload may proceed.
    pub warnings: Vec<Issue>,
}

impl ValidationReport {
    /// Whether nothing blocks the import.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty() && self.missing_items.is_empty()
    }
}

pub(super) fn validate(bundle: &Bundle, context: &ValidationContext) -> ValidationReport {
    let manifest = bundle.manifest();
    let mut report = ValidationReport {
        errors: check_structure(manifest),
        ..ValidationReport::default()
    };
    let version = manifest.version.to_string();
    let items: BTreeMap<&str, &TemplateItem> = manifest
        .template
        .items
        .iter()
        .map(|i| (i.key.as_str(), i))
        .collect();

    let given = bundle.given_values();
    report.missing_items = manifest
        .template
        .items
        .iter()
        .filter(|i| {
            i.required && i.default.is_none() && given.get(&i.key).is_none_or(|v| v.is_null())
        })
        .map(|i| i.key.clone())
        .collect();
    if !report.missing_items.is_empty() {
        report.errors.push(Issue::new(
            "",
            format!(
                "missing configuration items: {}; add a value for each",
                report.missing_items.join(", ")
            ),
        ));
    }

    let mut incompatible = Vec::new();
    let mut sources: Vec<(&str, &ConfigValues)> = vec![("config", &manifest.config)];
    if let Some(values) = bundle.values_file() {
        sources.push(("values.yaml", values));
    }
    for (path, overlay) in bundle.overlays() {
        sources.push((path.as_str(), overlay));
    }
    for (source, values) in sources {
        for (key, value) in values {
            match items.get(key.as_str()) {
                None => incompatible.push(format!("{source}: {key} is not in the template")),
                Some(item) => {
                    if let Some(kind) = item.kind
                        && !value.is_null()
                        && !kind.accepts(value)
                    {
                        incompatible.push(format!("{source}: {key} must be {}", kind.name()));
                    }
                }
            }
        }
    }
    if !incompatible.is_empty() {
        report.errors.push(Issue::new(
            "",
            format!(
                "the configuration information in the file is incompatible with the selected version {version} and the upgrade cannot continue ({}); confirm with the platform's operations team",
                incompatible.join("; ")
            ),
        ));
    }

    if let Some(registered) = &context.registered_template_md5 {
        let md5 = bundle.template_md5();
        if !registered.eq_ignore_ascii_case(&md5) {
            report.warnings.push(Issue::new(
                "",
                format!(
                    "the configuration template in the file is incompatible with the selected version {version} (template MD5 {md5}, registered {registered}); confirm with the platform's operations team before continuing"
                ),
            ));
        }
    }

    if let Some(running) = &context.running_values {
        let file_values = bundle.values_file().unwrap_or(&manifest.config);
        let keys: BTreeSet<&String> = file_values.keys().chain(running.keys()).collect();
        let differing: Vec<&str> = keys
            .into_iter()
            .filter(|k| file_values.get(*k) != running.get(*k))
            .map(|k| k.as_str())
            .collect();
        if !differing.is_empty() {
            report.warnings.push(Issue::new(
                "",
                format!(
                    "the configuration in the file differs from the configuration running now ({}); continuing the upgrade will use the new configuration file",
                    differing.join(", ")
                ),
            ));
        }
    }
    report
}
