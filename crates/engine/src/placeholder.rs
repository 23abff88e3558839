//! Placeholders in bundle strings (`{bin_dir}`, `{data_dir}`, `{config.KEY}`), expanded at
//! run time; `{port}` is left for the process driver, which knows the port it picked.

use std::collections::BTreeMap;

/// The values placeholders expand to.
#[derive(Debug, Clone, Default)]
pub struct Placeholders {
    pub bin_dir: String,
    pub data_dir: String,
    pub config: BTreeMap<String, String>,
}

impl Placeholders {
    /// Expands every known placeholder in `text`; an unknown `{config.KEY}` or other
    /// `{name}` (except `{port}`) is an error naming it and `what` it was found in.
    pub fn expand(&self, text: &str, what: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[open..]);
                return Ok(out);
            };
            let name = &after[..close];
            match name {
                "bin_dir" => out.push_str(&self.bin_dir),
                "data_dir" => out.push_str(&self.data_dir),
                "port" => out.push_str("{port}"),
                _ => match name.strip_prefix("config.") {
                    Some(key) => out.push_str(self.config.get(key).ok_or_else(|| {
                        format!("{what}: `{{{name}}}` names configuration item `{key}`, which is not set; add it to the bundle's config or values")
                    })?),
                    None => {
                        return Err(format!(
                            "{what}: unknown placeholder `{{{name}}}`; use {{bin_dir}}, {{data_dir}}, {{port}} or {{config.KEY}}"
                        ));
                    }
                },
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Placeholders {
        Placeholders {
            bin_dir: "/opt/bin".into(),
            data_dir: "/var/lib/p".into(),
            config: [(
                "metadb.url".to_owned(),
                "sqlite:///var/lib/p/meta.db".to_owned(),
            )]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn expands_known_placeholders_and_keeps_port() {
        let v = values();
        assert_eq!(
            v.expand(
                "{bin_dir}/sample-scheduler --port {port} --db {config.metadb.url}",
                "app"
            )
            .unwrap(),
            "/opt/bin/sample-scheduler --port {port} --db sqlite:///var/lib/p/meta.db"
        );
        assert_eq!(v.expand("{data_dir}/x", "w").unwrap(), "/var/lib/p/x");
        assert_eq!(v.expand("no braces", "w").unwrap(), "no braces");
        assert_eq!(v.expand("open { only", "w").unwrap(), "open { only");
    }

    #[test]
    fn unknown_placeholders_name_themselves() {
        let v = values();
        assert_eq!(
            v.expand("{config.nope}", "application scheduler")
                .unwrap_err(),
            "application scheduler: `{config.nope}` names configuration item `nope`, which is not set; add it to the bundle's config or values"
        );
        assert_eq!(
            v.expand("{home}", "hook ha-off").unwrap_err(),
            "hook ha-off: unknown placeholder `{home}`; use {bin_dir}, {data_dir}, {port} or {config.KEY}"
        );
    }
}
