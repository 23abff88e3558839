//! Safe unpacking of a ZIP bundle into memory. Nothing is ever written to disk.
//!
//! Refused, naming the entry: a path escaping the root (`..`, absolute, drive letters,
//! backslashes), a symbolic link, an encrypted entry, two entries with the same path after
//! normalisation (`a/b`, `a//b`, `./a/b`), more than [`MAX_ENTRIES`] entries, more than
//! [`MAX_UNPACKED_BYTES`] unpacked in total (counted while reading, headers are not
//! trusted), and an entry expanding more than [`MAX_COMPRESSION_RATIO`] times.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Component;

use super::error::BundleError;

/// A bundle is a manifest, a template, a few overlays and SQL files: hundreds of entries
/// at most. Far more means a mistake or an attack on the central directory.
pub const MAX_ENTRIES: usize = 1_000;

/// Everything unpacked must fit in memory comfortably, as the core unpacks in memory;
/// templates, overlays and SQL of a real platform are a few megabytes.
pub const MAX_UNPACKED_BYTES: u64 = 16 * 1024 * 1024;

/// Text compresses about 3–20 times; beyond this ratio an entry is treated as a zip bomb.
pub const MAX_COMPRESSION_RATIO: u64 = 200;

/// Entries smaller than this are exempt from the ratio check: a tiny file of repeated
/// characters legitimately compresses far, and cannot hurt.
pub const RATIO_EXEMPT_BYTES: u64 = 64 * 1024;

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;

/// The files of an archive by normalised path (`template/app.properties`).
pub type Files = BTreeMap<String, Vec<u8>>;

/// Unpack `bytes` (a ZIP archive called `file`) into memory, refusing unsafe entries.
/// Directory entries are counted but not kept.
pub fn unpack(bytes: &[u8], file: &str) -> Result<Files, BundleError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| BundleError::Zip {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    if archive.len() > MAX_ENTRIES {
        return Err(BundleError::TooManyEntries {
            file: file.to_owned(),
            limit: MAX_ENTRIES,
        });
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut files = Files::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|e| BundleError::Zip {
            file: file.to_owned(),
            message: format!("entry {index}: {e}"),
        })?;
        let raw = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let unsafe_entry = |reason: &str| BundleError::UnsafeEntry {
            file: file.to_owned(),
            entry: raw.clone(),
            reason: reason.to_owned(),
        };
        let is_link =
            entry.is_symlink() || entry.unix_mode().is_some_and(|m| m & S_IFMT == S_IFLNK);
        if is_link {
            return Err(unsafe_entry("is a symbolic link"));
        }
        if entry.encrypted() {
            return Err(unsafe_entry("is encrypted"));
        }
        let path = normalise(&raw, entry.enclosed_name().is_some()).map_err(unsafe_entry)?;
        if let Some(first) = seen.insert(path.clone(), raw.clone()) {
            return Err(BundleError::DuplicateEntry {
                file: file.to_owned(),
                first,
                second: raw,
            });
        }
        if entry.is_dir() {
            continue;
        }
        let compressed = entry.compressed_size();
        let remaining = MAX_UNPACKED_BYTES - total;
        let mut content = Vec::new();
        (&mut entry)
            .take(remaining + 1)
            .read_to_end(&mut content)
            .map_err(|e| BundleError::Entry {
                file: file.to_owned(),
                entry: raw.clone(),
                message: format!("cannot be unpacked: {e}"),
            })?;
        let len = content.len() as u64;
        if len > remaining {
            return Err(BundleError::TooLargeUnpacked {
                file: file.to_owned(),
                entry: raw,
                limit: MAX_UNPACKED_BYTES,
            });
        }
        if len > RATIO_EXEMPT_BYTES && len > compressed.saturating_mul(MAX_COMPRESSION_RATIO) {
            return Err(BundleError::CompressionRatio {
                file: file.to_owned(),
                entry: raw,
                limit: MAX_COMPRESSION_RATIO,
            });
        }
        total += len;
        files.insert(path, content);
    }
    if archive.has_duplicate_names() {
        return Err(BundleError::Zip {
            file: file.to_owned(),
            message: "two entries have the same name; keep one".to_owned(),
        });
    }
    Ok(files)
}

/// The path of `raw` relative to the root, components joined by `/`, or why it is unsafe.
fn normalise(raw: &str, enclosed: bool) -> Result<String, &'static str> {
    if raw.contains('\\') || raw.contains(':') || raw.contains('\0') {
        return Err("is not a portable path (backslash, colon or NUL)");
    }
    if raw.starts_with('/') || !enclosed {
        return Err("escapes the bundle root");
    }
    let mut parts = Vec::new();
    for component in std::path::Path::new(raw).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return Err("escapes the bundle root"),
        }
    }
    if parts.is_empty() {
        return Err("has an empty path");
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn normalises_paths() {
        assert_eq!(normalise("a//b", true), Ok("a/b".to_owned()));
        assert_eq!(normalise("./a/b", true), Ok("a/b".to_owned()));
        assert_eq!(normalise("a/b/", true), Ok("a/b".to_owned()));
        assert!(normalise("a/../b", true).is_err());
        assert!(normalise("/abs", false).is_err());
        assert!(normalise("..\\evil", true).is_err());
    }
}
