//! Placeholders in command lines, environment values, URLs and paths: `{port}`,
//! `{bin_dir}`, `{data_dir}`, `{config.KEY}`. The parser only checks them; the engine and
//! drivers expand them at run time.

/// The placeholder names besides `config.KEY`, with what they expand to.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("port", "the application's `port`"),
    (
        "bin_dir",
        "the directory holding the target version's programs",
    ),
    (
        "data_dir",
        "the application's data directory, kept across versions",
    ),
    (
        "config.KEY",
        "the value of configuration item KEY (declared in the template)",
    ),
];

/// One placeholder found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    Port,
    BinDir,
    DataDir,
    Config(String),
}

/// Every placeholder in `text`, or a sentence saying what is malformed.
pub fn scan(text: &str) -> Result<Vec<Placeholder>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(format!("{text:?} has a '}}' without '{{'"));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("{text:?} has a '{{' without '}}'"))?;
        let name = &after[..close];
        let placeholder = match name {
            "port" => Placeholder::Port,
            "bin_dir" => Placeholder::BinDir,
            "data_dir" => Placeholder::DataDir,
            _ => match name.strip_prefix("config.") {
                Some(key) if !key.is_empty() && !key.contains(['{', ' ']) => {
                    Placeholder::Config(key.to_owned())
                }
                _ => {
                    return Err(format!(
                        "unknown placeholder {{{name}}}; use {{port}}, {{bin_dir}}, {{data_dir}} or {{config.KEY}}"
                    ));
                }
            },
        };
        found.push(placeholder);
        rest = &after[close + 1..];
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_placeholders() {
        assert_eq!(
            scan("{bin_dir}/x --port={port} {config.metadb.url}{data_dir}").unwrap(),
            vec![
                Placeholder::BinDir,
                Placeholder::Port,
                Placeholder::Config("metadb.url".into()),
                Placeholder::DataDir
            ]
        );
        assert_eq!(scan("plain").unwrap(), vec![]);
        assert!(
            scan("{oops}")
                .unwrap_err()
                .contains("unknown placeholder {oops}")
        );
        assert!(scan("{port").unwrap_err().contains("without"));
        assert!(scan("port}").unwrap_err().contains("without"));
        assert!(scan("{config.}").is_err());
    }
}
