//! Why a bundle could not be read. Each message names the file and, inside a ZIP, the entry.

/// A bundle refused while reading (parse or archive safety). Structural and configuration
/// problems are reported by [`super::validate`] instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("bundle {file:?} is {size} bytes; at most {limit} are accepted")]
    TooLarge {
        file: String,
        size: usize,
        limit: usize,
    },
    #[error("bundle {file:?} is empty; upload a YAML file or a ZIP archive")]
    Empty { file: String },
    #[error("bundle {file:?}{entry}: not valid UTF-8 text; save it as UTF-8", entry = in_entry(entry))]
    NotUtf8 { file: String, entry: Option<String> },
    #[error("bundle {file:?}{entry}: line {line} column {column}: {message}", entry = in_entry(entry))]
    Yaml {
        file: String,
        entry: Option<String>,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("bundle {file:?}{entry}: unsupported format {found:?}; this changeover reads {expected:?}", entry = in_entry(entry))]
    UnsupportedFormat {
        file: String,
        entry: Option<String>,
        found: String,
        expected: &'static str,
    },
    #[error("bundle {file:?} is not a readable ZIP archive: {message}")]
    Zip { file: String, message: String },
    #[error("bundle {file:?}: entry {entry:?} {reason}; rebuild the archive without it")]
    UnsafeEntry {
        file: String,
        entry: String,
        reason: String,
    },
    #[error("bundle {file:?}: entries {first:?} and {second:?} are the same path; keep one")]
    DuplicateEntry {
        file: String,
        first: String,
        second: String,
    },
    #[error(
        "bundle {file:?} has more than {limit} entries; a bundle is a manifest, a template, overlays and SQL files"
    )]
    TooManyEntries { file: String, limit: usize },
    #[error(
        "bundle {file:?}: entry {entry:?} unpacks past the limit of {limit} bytes in total for the archive"
    )]
    TooLargeUnpacked {
        file: String,
        entry: String,
        limit: u64,
    },
    #[error(
        "bundle {file:?}: entry {entry:?} expands more than {limit} times its compressed size; this looks like a zip bomb"
    )]
    CompressionRatio {
        file: String,
        entry: String,
        limit: u64,
    },
    #[error("bundle {file:?} has no bundle.yaml at the root of the archive")]
    MissingManifest { file: String },
    #[error("bundle {file:?}: entry {entry:?}: {message}")]
    Entry {
        file: String,
        entry: String,
        message: String,
    },
}

fn in_entry(entry: &Option<String>) -> String {
    match entry {
        Some(e) => format!(" entry {e:?}"),
        None => String::new(),
    }
}
