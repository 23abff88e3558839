//! Version upload: read a bundle, validate it against what the catalog and the platform
//! know, and store it when nothing blocks it. `changeover version upload`, the demo and
//! `POST /api/v1/versions` all go through [`validate_and_store`].

use changeover_core::Version;
use changeover_core::bundle::{self, BundleError, BundleKind, ValidationContext, ValidationReport};
use changeover_store::{CatalogEntry, Format, NewVersion, PutOutcome, Store, StoreError};
use serde::Serialize;

/// What an upload did, with its validation report.
#[derive(Debug, Serialize)]
pub struct Uploaded {
    pub platform: String,
    pub version: String,
    pub format: Format,
    /// `imported`, `overwritten` or `blocked` (nothing stored).
    pub outcome: &'static str,
    pub report: ValidationReport,
    pub entry: Option<CatalogEntry>,
}

/// Whether an upload may replace a version already in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Overwrite it (the CLI: a known version is replaced after validation).
    Overwrite,
    /// Refuse with [`UploadError::Exists`] (the API without `?overwrite=true`).
    Refuse,
}

/// Why an upload stored nothing, before any validation report could be made.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The bytes are not a bundle (the message names the place: line and column, ZIP entry).
    #[error(transparent)]
    Unreadable(#[from] BundleError),
    #[error("{file_name} is a bundle of platform {platform:?}, not {wanted:?}")]
    WrongPlatform {
        file_name: String,
        platform: String,
        wanted: String,
    },
    #[error("version {version} of platform {platform} is already in the catalog")]
    Exists { platform: String, version: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the manifest cannot be stored as JSON: {0}")]
    Manifest(#[from] serde_json::Error),
}

/// Reads and validates a bundle, and stores it when nothing blocks it. A file that cannot
/// be read as a bundle is an `Err`; a bundle with blocking errors is `outcome: "blocked"`.
pub async fn validate_and_store(
    store: &Store,
    bytes: Vec<u8>,
    file_name: &str,
    platform_filter: Option<&str>,
    known_version: Known,
) -> Result<Uploaded, UploadError> {
    let bundle = bundle::read(&bytes, file_name)?;
    let platform = bundle.platform().to_owned();
    if let Some(wanted) = platform_filter
        && wanted != platform
    {
        return Err(UploadError::WrongPlatform {
            file_name: file_name.to_owned(),
            platform,
            wanted: wanted.to_owned(),
        });
    }
    let version = bundle.version().clone();
    let known = store
        .catalog()
        .entry(&platform, &version.to_string())
        .await?;
    if known.is_some() && known_version == Known::Refuse {
        return Err(UploadError::Exists {
            platform,
            version: version.to_string(),
        });
    }
    let running = store
        .platforms()
        .get(&platform)
        .await?
        .map(|p| p.running_values)
        .filter(|v| !v.is_empty());
    let report = bundle.validate(&ValidationContext {
        registered_template_md5: known.as_ref().and_then(|k| k.template_md5.clone()),
        running_values: running,
    });
    let format = match bundle.kind() {
        BundleKind::Yaml => Format::Yaml,
        BundleKind::Zip => Format::Zip,
    };
    let mut uploaded = Uploaded {
        platform: platform.clone(),
        version: version.to_string(),
        format,
        outcome: "blocked",
        report,
        entry: None,
    };
    if uploaded.report.is_ok() {
        let new = NewVersion {
            platform: platform.clone(),
            version: version.to_string(),
            sort_key: sort_key(&version),
            file_name: file_name.to_owned(),
            format,
            content: bytes,
            // The first import registers the template; overwrites are compared against it.
            template_md5: known
                .as_ref()
                .and_then(|k| k.template_md5.clone())
                .or_else(|| Some(bundle.template_md5())),
            manifest: serde_json::to_value(bundle.manifest())?,
        };
        let (outcome, entry) = store.catalog().put(&new).await?;
        uploaded.outcome = match outcome {
            PutOutcome::Imported => "imported",
            PutOutcome::Overwritten { .. } => "overwritten",
        };
        uploaded.entry = Some(entry);
    }
    Ok(uploaded)
}

/// A text key whose byte order is the core's version order: four zero-padded segments,
/// the segment count, the edition rank, then each segment as written (length, then text).
pub fn sort_key(version: &Version) -> String {
    let mut key = String::new();
    for i in 0..changeover_core::version::MAX_SEGMENTS {
        key.push_str(&format!("{:010}.", version.segment(i)));
    }
    let edition = version
        .suffix()
        .and_then(|s| {
            changeover_core::version::EDITION_SUFFIXES
                .iter()
                .position(|e| *e == s)
        })
        .map_or(0, |i| i + 1);
    key.push_str(&format!("{}.{edition}", version.segments().len()));
    let canonical = version.to_string();
    let written = canonical.split('-').next().unwrap_or_default();
    for segment in written.split('.') {
        key.push_str(&format!(".{:04}{segment}", segment.len()));
    }
    key
}
