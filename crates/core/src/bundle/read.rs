//! Reading a bundle from bytes: YAML with serde-saphyr's budget on, ZIP through
//! [`super::archive::unpack`].

use serde::de::DeserializeOwned;

use super::archive::{self, Files};
use super::error::BundleError;
use super::manifest::{ConfigValue, ConfigValues, Engine, FORMAT_V1, Manifest, Migration};
use super::{Bundle, BundleKind};

/// The largest upload accepted, packed or not.
pub const MAX_BUNDLE_BYTES: usize = 16 * 1024 * 1024;

const ZIP_MAGIC: &[&[u8]] = &[b"PK\x03\x04", b"PK\x05\x06"];

/// Parse a bundle uploaded as `file_name`. ZIP archives are recognised by their magic
/// bytes, anything else is read as YAML. Only parsing and safety are checked here; call
/// [`Bundle::validate`] for structure and configuration.
pub fn read(bytes: &[u8], file_name: &str) -> Result<Bundle, BundleError> {
    let file = file_name.to_owned();
    if bytes.is_empty() {
        return Err(BundleError::Empty { file });
    }
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge {
            file,
            size: bytes.len(),
            limit: MAX_BUNDLE_BYTES,
        });
    }
    if ZIP_MAGIC.iter().any(|m| bytes.starts_with(m)) {
        read_zip(bytes, file)
    } else {
        let manifest = parse_manifest(bytes, &file, None)?;
        Ok(Bundle {
            manifest,
            kind: BundleKind::Yaml,
            file_name: file,
            original: bytes.to_vec(),
            files: Files::new(),
            values_file: None,
            overlays: Vec::new(),
        })
    }
}

fn read_zip(bytes: &[u8], file: String) -> Result<Bundle, BundleError> {
    let files = strip_single_top_dir(archive::unpack(bytes, &file)?);
    let manifest_bytes = files
        .get("bundle.yaml")
        .ok_or_else(|| BundleError::MissingManifest { file: file.clone() })?;
    let mut manifest = parse_manifest(manifest_bytes, &file, Some("bundle.yaml"))?;
    let template_keys: Vec<String> = manifest
        .template
        .items
        .iter()
        .map(|i| i.key.clone())
        .collect();
    let values_file = match files.get("values.yaml") {
        Some(b) => Some(parse_values(b, &file, "values.yaml", &template_keys)?),
        None => None,
    };
    let mut overlays = Vec::new();
    for (path, content) in &files {
        if path.starts_with("overlays/") && (path.ends_with(".yaml") || path.ends_with(".yml")) {
            overlays.push((
                path.clone(),
                parse_values(content, &file, path, &template_keys)?,
            ));
        }
    }
    merge_migration_files(&mut manifest, &files, &file)?;
    Ok(Bundle {
        manifest,
        kind: BundleKind::Zip,
        file_name: file,
        original: bytes.to_vec(),
        files,
        values_file,
        overlays,
    })
}

/// Archives made by zipping a folder hold `folder/bundle.yaml`: treat that folder as the root.
fn strip_single_top_dir(files: Files) -> Files {
    if files.contains_key("bundle.yaml") {
        return files;
    }
    let Some(top) = files
        .keys()
        .next()
        .and_then(|k| k.split_once('/'))
        .map(|(t, _)| format!("{t}/"))
    else {
        return files;
    };
    if !files.keys().all(|k| k.starts_with(&top))
        || !files.contains_key(&format!("{top}bundle.yaml"))
    {
        return files;
    }
    files
        .into_iter()
        .map(|(k, v)| (k[top.len()..].to_owned(), v))
        .collect()
}

/// A manifest or values file holds hundreds of nodes; serde-saphyr's default (250,000)
/// lets an alias bomb burn seconds of CPU per upload, so the budget is tighter.
pub const MAX_YAML_NODES: usize = 50_000;
/// Parser events, aliases and replayed alias events are bounded for the same reason.
pub const MAX_YAML_EVENTS: usize = 200_000;
pub const MAX_YAML_ALIASES: usize = 1_000;
pub const MAX_YAML_REPLAYED_EVENTS: usize = 50_000;

fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = MAX_YAML_NODES;
    budget.max_events = MAX_YAML_EVENTS;
    budget.max_aliases = MAX_YAML_ALIASES;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_YAML_REPLAYED_EVENTS;
    options.with_snippet = false;
    options
}

fn parse_yaml<T: DeserializeOwned>(
    bytes: &[u8],
    file: &str,
    entry: Option<&str>,
) -> Result<T, BundleError> {
    let text = std::str::from_utf8(bytes).map_err(|_| BundleError::NotUtf8 {
        file: file.to_owned(),
        entry: entry.map(str::to_owned),
    })?;
    serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        BundleError::Yaml {
            file: file.to_owned(),
            entry: entry.map(str::to_owned),
            line,
            column,
            message: yaml_message(&e.to_string()),
        }
    })
}

/// serde-saphyr appends the position to its message; ours is printed separately.
fn yaml_message(text: &str) -> String {
    let text = text.lines().next().unwrap_or(text);
    let text = match text.find(" at line ") {
        Some(i) => &text[..i],
        None => text,
    };
    let budget = text
        .strip_prefix("budget breached: ")
        .or_else(|| text.strip_prefix("alias replay limit exceeded: "));
    match budget {
        Some(what) => format!(
            "the YAML expands past the parser's budget ({what}); remove deep aliases or nesting"
        ),
        None => text.to_owned(),
    }
}

fn parse_manifest(bytes: &[u8], file: &str, entry: Option<&str>) -> Result<Manifest, BundleError> {
    #[derive(serde::Deserialize)]
    struct FormatOnly {
        format: Option<serde_json::Value>,
    }
    // Check the format tag first, so a future format gets a clear message instead of
    // a complaint about an unknown field.
    let text = std::str::from_utf8(bytes).map_err(|_| BundleError::NotUtf8 {
        file: file.to_owned(),
        entry: entry.map(str::to_owned),
    })?;
    if let Ok(FormatOnly {
        format: Some(found),
    }) = serde_saphyr::from_str_with_options::<FormatOnly>(text, yaml_options())
    {
        let found = found
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| found.to_string());
        if found != FORMAT_V1 {
            return Err(BundleError::UnsupportedFormat {
                file: file.to_owned(),
                entry: entry.map(str::to_owned),
                found,
                expected: FORMAT_V1,
            });
        }
    }
    parse_yaml(bytes, file, entry)
}

/// Parse a values file (a YAML map) and flatten nested maps to dotted keys, except below a
/// key the template names (a map-typed item keeps its map).
fn parse_values(
    bytes: &[u8],
    file: &str,
    entry: &str,
    template_keys: &[String],
) -> Result<ConfigValues, BundleError> {
    let map: serde_json::Map<String, ConfigValue> = parse_yaml(bytes, file, Some(entry))?;
    let mut out = ConfigValues::new();
    flatten(String::new(), map, template_keys, &mut out);
    Ok(out)
}

fn flatten(
    prefix: String,
    map: serde_json::Map<String, ConfigValue>,
    keys: &[String],
    out: &mut ConfigValues,
) {
    for (k, v) in map {
        let key = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            ConfigValue::Object(inner) if !keys.contains(&key) => flatten(key, inner, keys, out),
            other => {
                out.insert(key, other);
            }
        }
    }
}

/// `migrations/<database>/<engine>/V<NNN>__<name>.sql` files join that database's
/// migrations (the SQL for that engine); migrations end up ordered by version.
fn merge_migration_files(
    manifest: &mut Manifest,
    files: &Files,
    file: &str,
) -> Result<(), BundleError> {
    for (path, content) in files {
        let Some(rest) = path.strip_prefix("migrations/") else {
            continue;
        };
        let entry_error = |message: String| BundleError::Entry {
            file: file.to_owned(),
            entry: path.clone(),
            message,
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let [db_name, engine_name, leaf] = parts[..] else {
            return Err(entry_error(
                "a migration file belongs at migrations/<database>/<engine>/V<NNN>__<name>.sql"
                    .to_owned(),
            ));
        };
        let engine = Engine::parse(engine_name).ok_or_else(|| {
            entry_error(format!(
                "unknown engine {engine_name:?}; use sqlite, postgres or mysql"
            ))
        })?;
        let (version, name) = leaf
            .strip_prefix('V')
            .and_then(|l| l.strip_suffix(".sql"))
            .and_then(|l| l.split_once("__"))
            .and_then(|(v, n)| Some((v.parse::<u32>().ok()?, n)))
            .filter(|(_, n)| !n.is_empty())
            .ok_or_else(|| {
                entry_error("a migration file is named V<NNN>__<name>.sql".to_owned())
            })?;
        let sql = String::from_utf8(content.clone())
            .map_err(|_| entry_error("is not UTF-8 text".to_owned()))?;
        let db = manifest
            .databases
            .iter_mut()
            .find(|d| d.name == db_name)
            .ok_or_else(|| {
                entry_error(format!(
                    "no database {db_name:?} is declared in bundle.yaml"
                ))
            })?;
        let migration = match db.migrations.iter_mut().position(|m| m.version == version) {
            Some(i) => &mut db.migrations[i],
            None => {
                db.migrations.push(Migration {
                    version,
                    name: name.to_owned(),
                    sql: Default::default(),
                });
                db.migrations.last_mut().expect("just pushed")
            }
        };
        if migration.name != name {
            return Err(entry_error(format!(
                "migration {version} is named {:?} in bundle.yaml, {name:?} here",
                migration.name
            )));
        }
        let slot = migration.sql.slot(engine);
        if slot.is_some() {
            return Err(entry_error(format!(
                "migration {version} already has {} SQL; give it once",
                engine.name()
            )));
        }
        *slot = Some(sql);
        db.migrations.sort_by_key(|m| m.version);
    }
    Ok(())
}
