//! The three behaviours one build can take.

use std::fmt;
use std::str::FromStr;

/// Which version of the sample platform this process behaves as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformVersion {
    /// Creates its schema when the database is empty.
    V1_0_0,
    /// A patch: behaves as 1.0.0, reports 1.0.1.
    V1_0_1,
    /// Needs `task_instance.owner` (added by the bundle's migration) and serves `owner`.
    V1_1_0,
}

impl PlatformVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformVersion::V1_0_0 => "1.0.0",
            PlatformVersion::V1_0_1 => "1.0.1",
            PlatformVersion::V1_1_0 => "1.1.0",
        }
    }

    /// Whether this version knows the `owner` column.
    pub fn has_owner(self) -> bool {
        self == PlatformVersion::V1_1_0
    }
}

impl FromStr for PlatformVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bare = text.trim().trim_start_matches(['v', 'V']);
        match bare {
            "1.0.0" => Ok(PlatformVersion::V1_0_0),
            "1.0.1" => Ok(PlatformVersion::V1_0_1),
            "1.1.0" => Ok(PlatformVersion::V1_1_0),
            _ => Err(format!(
                "unknown platform version {text:?}: this build behaves as 1.0.0, 1.0.1 or 1.1.0"
            )),
        }
    }
}

impl fmt::Display for PlatformVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_with_optional_v() {
        assert_eq!("V1.1.0".parse(), Ok(PlatformVersion::V1_1_0));
        assert_eq!(
            "1.0.1".parse::<PlatformVersion>().unwrap().to_string(),
            "1.0.1"
        );
        let err = "2.0".parse::<PlatformVersion>().unwrap_err();
        assert!(err.contains("\"2.0\""), "{err}");
    }
}
