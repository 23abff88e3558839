//! Platform versions: `5.1.2.04`, `V5.1.2.04`, `4.2.9-CE`.
//!
//! A version has one to four numeric segments, an optional `V`/`v` prefix and an optional
//! edition suffix from [`EDITION_SUFFIXES`].
//!
//! # Order
//! Versions are ordered by, in turn:
//! 1. their segments compared numerically, a missing segment counting as 0
//!    (`5.1` < `5.1.1` < `5.2`);
//! 2. the number of segments (`5.1` < `5.1.0`, so the order stays total);
//! 3. the edition suffix: none, then the suffixes in the order of [`EDITION_SUFFIXES`];
//! 4. the segments as written, shorter first (`5.1.2.4` < `5.1.2.04`).
//!
//! Equality agrees with this order: two versions are equal only when they print the same.
//!
//! # Canonical form
//! [`Display`](fmt::Display) prints the canonical form: no `V` prefix, the segments exactly
//! as written (leading zeros kept: `5.1.2.04` prints `5.1.2.04`), then `-SUFFIX`.
//! `V5.1.2.04` therefore prints `5.1.2.04` and parses back equal.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The edition suffixes a version may carry after a `-`, in their sort order.
/// `CE` is a community edition, `EE` an enterprise edition. Any other suffix is refused,
/// because a typo in a suffix would otherwise silently make an unrelated version.
pub const EDITION_SUFFIXES: &[&str] = &["CE", "EE"];

/// At most this many numeric segments (`5.1.2.04`), as the platforms we manage use.
pub const MAX_SEGMENTS: usize = 4;

/// A parsed platform version. See the module documentation for its order.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Version {
    /// Segment values.
    numbers: Vec<u32>,
    /// Segments exactly as written (keeps leading zeros).
    written: Vec<String>,
    /// Index into [`EDITION_SUFFIXES`].
    suffix: Option<usize>,
}

/// Why a version string was refused. Each message names the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("version is empty; write it like 5.1.2.04, V5.1.2.04 or 4.2.9-CE")]
    Empty,
    #[error("version {text:?} has {count} segments; at most {MAX_SEGMENTS} are allowed")]
    TooManySegments { text: String, count: usize },
    #[error("version {text:?}: segment {index} is empty; write digits between the dots")]
    EmptySegment { text: String, index: usize },
    #[error("version {text:?}: segment {index} {segment:?} is not a number")]
    NotANumber {
        text: String,
        index: usize,
        segment: String,
    },
    #[error("version {text:?}: segment {index} {segment:?} is larger than {max}", max = u32::MAX)]
    Overflow {
        text: String,
        index: usize,
        segment: String,
    },
    #[error(
        "version {text:?}: unknown suffix {suffix:?}; the accepted suffixes are {}",
        EDITION_SUFFIXES.join(", ")
    )]
    UnknownSuffix { text: String, suffix: String },
}

impl Version {
    /// The segment values, e.g. `[5, 1, 2, 4]` for `5.1.2.04`.
    pub fn segments(&self) -> &[u32] {
        &self.numbers
    }

    /// The edition suffix, e.g. `Some("CE")` for `4.2.9-CE`.
    pub fn suffix(&self) -> Option<&'static str> {
        self.suffix.map(|i| EDITION_SUFFIXES[i])
    }

    /// The value of segment `index` (0-based); a missing segment counts as 0.
    pub fn segment(&self, index: usize) -> u32 {
        self.numbers.get(index).copied().unwrap_or(0)
    }

    /// The first `count` segments as written, joined by dots (`5.1.2` for `5.1.2.04`, 3);
    /// missing segments print as `0`. Used in messages about compatibility.
    pub fn prefix(&self, count: usize) -> String {
        (0..count)
            .map(|i| {
                self.written
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| "0".to_owned())
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Whether the first `count` segments are numerically equal (missing ones count as 0).
    pub fn same_prefix(&self, other: &Version, count: usize) -> bool {
        (0..count).all(|i| self.segment(i) == other.segment(i))
    }

    /// Numeric comparison of the segments only (missing segments count as 0), ignoring the
    /// segment count, the suffix and leading zeros.
    pub fn cmp_numeric(&self, other: &Version) -> Ordering {
        let len = self.numbers.len().max(other.numbers.len());
        (0..len)
            .map(|i| self.segment(i).cmp(&other.segment(i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_numeric(other)
            .then_with(|| self.numbers.len().cmp(&other.numbers.len()))
            .then_with(|| self.suffix.cmp(&other.suffix))
            .then_with(|| {
                let a = self.written.iter().map(|s| (s.len(), s.as_str()));
                let b = other.written.iter().map(|s| (s.len(), s.as_str()));
                a.cmp(b)
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().is_empty() {
            return Err(VersionError::Empty);
        }
        let body = text.strip_prefix(['V', 'v']).unwrap_or(text);
        let (body, suffix) = match body.split_once('-') {
            Some((body, suffix)) => {
                let index = EDITION_SUFFIXES
                    .iter()
                    .position(|s| *s == suffix)
                    .ok_or_else(|| VersionError::UnknownSuffix {
                        text: text.to_owned(),
                        suffix: suffix.to_owned(),
                    })?;
                (body, Some(index))
            }
            None => (body, None),
        };
        let parts: Vec<&str> = body.split('.').collect();
        if parts.len() > MAX_SEGMENTS {
            return Err(VersionError::TooManySegments {
                text: text.to_owned(),
                count: parts.len(),
            });
        }
        let mut numbers = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let index = i + 1;
            if part.is_empty() {
                return Err(VersionError::EmptySegment {
                    text: text.to_owned(),
                    index,
                });
            }
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::NotANumber {
                    text: text.to_owned(),
                    index,
                    segment: (*part).to_owned(),
                });
            }
            let value = part.parse::<u32>().map_err(|_| VersionError::Overflow {
                text: text.to_owned(),
                index,
                segment: (*part).to_owned(),
            })?;
            numbers.push(value);
        }
        Ok(Version {
            numbers,
            written: parts.into_iter().map(str::to_owned).collect(),
            suffix,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written.join("."))?;
        if let Some(suffix) = self.suffix() {
            write!(f, "-{suffix}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({self})")
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a version string like 5.1.2.04 or 4.2.9-CE")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Version, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Version, E> {
                v.to_string().parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// An inclusive range of versions, `{ min: 4.2.0-CE, max: 4.2.8-CE }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRange {
    pub min: Version,
    pub max: Version,
}

impl VersionRange {
    /// Whether `version` lies within the range, both ends included.
    pub fn contains(&self, version: &Version) -> bool {
        *version >= self.min && *version <= self.max
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {}", self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().expect("valid version")
    }

    #[test]
    fn parses_and_prints_canonical_form() {
        assert_eq!(v("5.1.2.04").to_string(), "5.1.2.04");
        assert_eq!(v("V5.1.2.04").to_string(), "5.1.2.04");
        assert_eq!(v("v1").to_string(), "1");
        assert_eq!(v("4.2.9-CE").to_string(), "4.2.9-CE");
        assert_eq!(v("4.2.9-CE").suffix(), Some("CE"));
        assert_eq!(v("5.1.2.04").segments(), &[5, 1, 2, 4]);
    }

    #[test]
    fn refuses_bad_text_naming_it() {
        let err = |s: &str| s.parse::<Version>().unwrap_err().to_string();
        assert_eq!(
            err(""),
            "version is empty; write it like 5.1.2.04, V5.1.2.04 or 4.2.9-CE"
        );
        assert_eq!(
            err("5.x.1"),
            r#"version "5.x.1": segment 2 "x" is not a number"#
        );
        assert_eq!(
            err("5..1"),
            r#"version "5..1": segment 2 is empty; write digits between the dots"#
        );
        assert_eq!(
            err("1.2.3.4.5"),
            r#"version "1.2.3.4.5" has 5 segments; at most 4 are allowed"#
        );
        assert_eq!(
            err("1.99999999999"),
            r#"version "1.99999999999": segment 2 "99999999999" is larger than 4294967295"#
        );
        assert_eq!(
            err("4.2.9-XE"),
            r#"version "4.2.9-XE": unknown suffix "XE"; the accepted suffixes are CE, EE"#
        );
        assert_eq!(
            err("V"),
            r#"version "V": segment 1 is empty; write digits between the dots"#
        );
        assert_eq!(
            err("1.2-"),
            r#"version "1.2-": unknown suffix ""; the accepted suffixes are CE, EE"#
        );
        assert_eq!(err("+1"), r#"version "+1": segment 1 "+1" is not a number"#);
    }

    #[test]
    fn orders_numerically() {
        assert!(v("5.1.2.10") > v("5.1.2.04"));
        assert!(v("5.10") > v("5.9.9"));
        assert!(v("5.1") < v("5.1.0"));
        assert!(v("5.1.0") < v("5.1.1"));
        assert!(v("4.2.9") < v("4.2.9-CE"));
        assert!(v("4.2.9-CE") < v("4.2.9-EE"));
        assert!(v("5.1.2.4") < v("5.1.2.04"));
        assert_eq!(v("V5.1.2.04"), v("5.1.2.04"));
        assert_eq!(v("5.1.2.04").cmp_numeric(&v("5.1.2.4")), Ordering::Equal);
    }

    #[test]
    fn prefix_and_same_prefix() {
        assert_eq!(v("5.1.2.04").prefix(3), "5.1.2");
        assert_eq!(v("5.2").prefix(3), "5.2.0");
        assert!(v("5.1.2.02").same_prefix(&v("5.1.2.04"), 3));
        assert!(!v("5.1.2").same_prefix(&v("5.2.0"), 3));
    }

    #[test]
    fn serde_as_string() {
        let json = serde_json::to_string(&v("4.2.9-CE")).unwrap();
        assert_eq!(json, r#""4.2.9-CE""#);
        let back: Version = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v("4.2.9-CE"));
        let err = serde_json::from_str::<Version>(r#""5.x""#)
            .unwrap_err()
            .to_string();
        assert!(err.contains(r#"segment 2 "x" is not a number"#), "{err}");
    }
}
