//! The config file (`--config FILE`, or `./changeover.yaml` when present).
//!
//! ```yaml
//! store: postgres://postgres@127.0.0.1:5432/changeover   # or a SQLite file path
//! platform: sample                                        # the platform commands act on
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::failure::bad_input;

/// The config file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "changeover.yaml";

/// The platform commands act on when neither `--platform` nor `platform:` says.
pub const DEFAULT_PLATFORM: &str = "sample";

/// Largest config file read: it is a few lines; anything bigger is a wrong file.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The config file's content. Other areas add their own sections here (`server:` …).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Store location: a SQLite file path or a `postgres://` URL.
    pub store: Option<String>,
    /// The platform commands act on by default.
    pub platform: Option<String>,
}

impl Config {
    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(store) = &self.store {
            changeover_store::Location::parse(store).map_err(|e| format!("store: {e}"))?;
        }
        if let Some(platform) = &self.platform {
            crate::cmd::check_platform_name(platform).map_err(|e| format!("platform: {e}"))?;
        }
        Ok(())
    }
}

/// The config and where it was read from (`None` when there is no file).
pub fn load(explicit: Option<&Path>) -> anyhow::Result<(Config, Option<PathBuf>)> {
    let path = match explicit {
        Some(path) => path.to_owned(),
        None => {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            if !default.is_file() {
                return Ok((Config::default(), None));
            }
            default
        }
    };
    let shown = path.display().to_string();
    let meta = std::fs::metadata(&path).map_err(|e| {
        bad_input(
            format!("cannot read the config file {shown}: {e}"),
            "check the path given to --config",
        )
    })?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(bad_input(
            format!(
                "the config file {shown} is {} bytes, more than a config file can be",
                meta.len()
            ),
            "point --config at the changeover YAML config file",
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        bad_input(
            format!("cannot read the config file {shown}: {e}"),
            "check the file's permissions and encoding (UTF-8)",
        )
    })?;
    let config: Config = if text.trim().is_empty() {
        Config::default()
    } else {
        serde_saphyr::from_str(&text).map_err(|e| {
            bad_input(
                format!("the config file {shown} is not valid: {e}"),
                "the known keys are `store` and `platform`; see `changeover --help`",
            )
        })?
    };
    config.validate().map_err(|e| {
        bad_input(
            format!("the config file {shown} is not valid: {e}"),
            "fix the value named above",
        )
    })?;
    Ok((config, Some(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, text).unwrap();
        load(Some(&path)).map(|(c, _)| c).map_err(|e| e.to_string())
    }

    #[test]
    fn known_keys() {
        let c = parse("store: /tmp/x.db\nplatform: sample\n").unwrap();
        assert_eq!(c.store.as_deref(), Some("/tmp/x.db"));
        assert!(parse("").unwrap().store.is_none());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(parse("stor: x\n").unwrap_err().contains("stor"));
        assert!(
            parse("store: mysql://h/db\n")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(parse("platform: 'a b'\n").unwrap_err().contains("platform"));
    }
}
