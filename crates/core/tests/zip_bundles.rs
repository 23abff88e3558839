//! ZIP bundles: layout, values and overlays, and every unsafe archive, built here with the
//! zip crate's writer.

use std::io::{Cursor, Write};

use changeover_core::bundle::{
    self, BundleError, BundleKind, Engine, MAX_ENTRIES, ValidationContext,
};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use crate::sample_bytes;

fn options() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

/// A ZIP with `entries` (name, content), each deflated.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in entries {
        writer.start_file(*name, options()).expect("start entry");
        writer.write_all(content).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

fn manifest() -> Vec<u8> {
    // The 1.1.0 sample without its inline values: a ZIP's values live in values.yaml.
    let text = String::from_utf8(sample_bytes("1.1.0.yaml")).unwrap();
    let start = text.find("config:\n").unwrap();
    let end = text.find("applications:\n").unwrap();
    format!("{}{}", &text[..start], &text[end..]).into_bytes()
}

const VALUES: &[u8] = b"metadb:\n  url: sqlite://prod.db\nscheduler:\n  port: 18080\n";

fn read_err(bytes: &[u8]) -> String {
    bundle::read(bytes, "bundle.zip").unwrap_err().to_string()
}

#[test]
fn a_zip_bundle_reads_values_overlays_template_and_migration_files() {
    let m = manifest();
    let bytes = zip_of(&[
        ("bundle.yaml", &m),
        ("values.yaml", VALUES),
        (
            "overlays/prod.yaml",
            b"log.level: debug\nscheduler.port: 19080\n",
        ),
        (
            "template/application.properties",
            b"port=${scheduler.port}\n",
        ),
        (
            "migrations/metadata/sqlite/V003__add_index.sql",
            b"CREATE INDEX owner_idx ON task_instance(owner)",
        ),
    ]);
    let bundle = bundle::read(&bytes, "sample-1.1.0.zip").unwrap();
    assert_eq!(bundle.kind(), BundleKind::Zip);
    assert_eq!(bundle.original_bytes(), &bytes[..]);
    let config = bundle.effective_config();
    assert_eq!(config["metadb.url"], "sqlite://prod.db");
    assert_eq!(
        config["scheduler.port"], 19080,
        "overlays override values.yaml"
    );
    assert_eq!(config["log.level"], "debug");
    assert_eq!(config["dataservice.port"], 18081, "template default");
    let db = &bundle.manifest().databases[0];
    assert_eq!(db.migrations.len(), 2);
    assert_eq!(db.migrations[1].version, 3);
    assert_eq!(
        db.migrations[1].sql.for_engine(Engine::Sqlite),
        Some("CREATE INDEX owner_idx ON task_instance(owner)")
    );
    let report = bundle.validate(&ValidationContext::default());
    assert!(report.is_ok(), "{report:?}");

    // The template MD5 covers template/ files: a changed file warns, never blocks.
    let other = zip_of(&[
        ("bundle.yaml", &m),
        ("values.yaml", VALUES),
        (
            "template/application.properties",
            b"port=${scheduler.port}\nextra=1\n",
        ),
    ]);
    let other = bundle::read(&other, "other.zip").unwrap();
    assert_ne!(other.template_md5(), bundle.template_md5());
    let report = other.validate(&ValidationContext {
        registered_template_md5: Some(bundle.template_md5()),
        running_values: None,
    });
    assert!(report.is_ok());
    assert!(report.warnings[0].message.starts_with(
        "the configuration template in the file is incompatible with the selected version 1.1.0 (template MD5 "
    ));
}

#[test]
fn a_zip_of_a_folder_is_read_from_inside_the_folder() {
    let m = manifest();
    let bytes = zip_of(&[
        ("sample-1.1.0/bundle.yaml", &m),
        ("sample-1.1.0/values.yaml", VALUES),
    ]);
    let bundle = bundle::read(&bytes, "sample.zip").unwrap();
    assert!(bundle.values_file().is_some());
}

#[test]
fn missing_items_and_incompatible_overlays_block() {
    let m = manifest();
    let bytes = zip_of(&[
        ("bundle.yaml", &m),
        ("values.yaml", b"scheduler.port: 18080\n"),
        (
            "overlays/prod.yaml",
            b"scheduler.port: high\nno.such.key: 1\n",
        ),
    ]);
    let report = bundle::read(&bytes, "b.zip")
        .unwrap()
        .validate(&ValidationContext::default());
    assert_eq!(report.missing_items, vec!["metadb.url".to_owned()]);
    let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        vec![
            "missing configuration items: metadb.url; add a value for each".to_owned(),
            "the configuration information in the file is incompatible with the selected version 1.1.0 and the upgrade cannot continue (overlays/prod.yaml: no.such.key is not in the template; overlays/prod.yaml: scheduler.port must be an integer); confirm with the platform's operations team".to_owned(),
        ]
    );
}

#[test]
fn malformed_entries_name_the_entry() {
    let bytes = zip_of(&[("bundle.yaml", &manifest()), ("values.yaml", b"a: [1\n")]);
    let err = read_err(&bytes);
    assert!(
        err.starts_with(r#"bundle "bundle.zip" entry "values.yaml": line "#),
        "{err}"
    );
    let bytes = zip_of(&[("values.yaml", VALUES)]);
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip" has no bundle.yaml at the root of the archive"#
    );
    let bytes = zip_of(&[
        ("bundle.yaml", &manifest()),
        ("migrations/metadata/oracle/V004__x.sql", b"x"),
    ]);
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip": entry "migrations/metadata/oracle/V004__x.sql": unknown engine "oracle"; use sqlite, postgres or mysql"#
    );
    let bytes = zip_of(&[
        ("bundle.yaml", &manifest()),
        ("migrations/nodb/sqlite/V004__x.sql", b"x"),
    ]);
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip": entry "migrations/nodb/sqlite/V004__x.sql": no database "nodb" is declared in bundle.yaml"#
    );
    let mut truncated = zip_of(&[("bundle.yaml", &manifest())]);
    truncated.truncate(truncated.len() / 2);
    assert!(
        read_err(&truncated).starts_with(r#"bundle "bundle.zip" is not a readable ZIP archive: "#)
    );
}

#[test]
fn entry_escaping_the_root_is_refused() {
    for name in ["../evil", "a/../../evil", "/abs", "..\\evil", "C:/evil"] {
        let bytes = zip_of(&[("bundle.yaml", &manifest()), (name, b"x")]);
        let err = bundle::read(&bytes, "bundle.zip").unwrap_err();
        assert!(
            matches!(err, BundleError::UnsafeEntry { ref entry, .. } if entry == name),
            "{name}: {err}"
        );
    }
    let bytes = zip_of(&[("bundle.yaml", &manifest()), ("../evil", b"x")]);
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip": entry "../evil" escapes the bundle root; rebuild the archive without it"#
    );
}

#[test]
fn symlink_entry_is_refused() {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("bundle.yaml", options()).unwrap();
    writer.write_all(&manifest()).unwrap();
    writer
        .add_symlink("values.yaml", "/etc/passwd", options())
        .unwrap();
    let bytes = writer.finish().unwrap().into_inner();
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip": entry "values.yaml" is a symbolic link; rebuild the archive without it"#
    );
}

#[test]
fn duplicate_names_are_refused_also_after_normalisation() {
    for other in ["./values.yaml", "values.yaml/", ".//values.yaml"] {
        let bytes = zip_of(&[
            ("bundle.yaml", &manifest()),
            ("values.yaml", VALUES),
            (other, VALUES),
        ]);
        assert_eq!(
            read_err(&bytes),
            format!(
                r#"bundle "bundle.zip": entries "values.yaml" and "{other}" are the same path; keep one"#
            )
        );
    }
    let bytes = zip_of(&[
        ("bundle.yaml", &manifest()),
        ("a//b.sql", b"1"),
        ("a/b.sql", b"2"),
    ]);
    assert!(read_err(&bytes).contains(r#"entries "a//b.sql" and "a/b.sql" are the same path"#));

    // Exactly the same name twice: the writer refuses that, so rename an entry in place.
    let bytes = zip_of(&[
        ("bundle.yaml", &manifest()),
        ("values.yaml", VALUES),
        ("values.yamx", VALUES),
    ]);
    let patched = replace_all(&bytes, b"values.yamx", b"values.yaml");
    let err = read_err(&patched);
    assert!(err.contains("same"), "{err}");
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = haystack.to_vec();
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
        }
        i += 1;
    }
    out
}

#[test]
fn too_many_entries_are_refused() {
    let names: Vec<String> = (0..=MAX_ENTRIES)
        .map(|i| format!("data-updates/{i}.txt"))
        .collect();
    let mut entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let m = manifest();
    entries.push(("bundle.yaml", &m));
    assert_eq!(
        read_err(&zip_of(&entries)),
        format!(
            r#"bundle "bundle.zip" has more than {MAX_ENTRIES} entries; a bundle is a manifest, a template, overlays and SQL files"#
        )
    );
}

#[test]
fn zip_bomb_by_ratio_is_refused() {
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let bytes = zip_of(&[("bundle.yaml", &manifest()), ("template/bomb.bin", &zeros)]);
    assert!(bytes.len() < 1024 * 1024, "deflate shrinks zeros");
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip": entry "template/bomb.bin" expands more than 200 times its compressed size; this looks like a zip bomb"#
    );
}

#[test]
fn zip_bomb_by_total_size_is_refused() {
    // Each 1 MiB entry compresses about 50 times (under the ratio bound), but 20 of them
    // unpack past the 16 MiB total: the archive is refused at the entry that crosses it.
    let mut chunk = vec![0u8; 1024 * 1024];
    for (i, byte) in chunk.iter_mut().enumerate().step_by(97) {
        *byte = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    let m = manifest();
    let names: Vec<String> = (0..20)
        .map(|i| format!("data-updates/part{i:02}.bin"))
        .collect();
    let mut entries: Vec<(&str, &[u8])> = vec![("bundle.yaml", &m)];
    entries.extend(names.iter().map(|n| (n.as_str(), &chunk[..])));
    let bytes = zip_of(&entries);
    assert!(bytes.len() < bundle::MAX_BUNDLE_BYTES);
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip": entry "data-updates/part15.bin" unpacks past the limit of 16777216 bytes in total for the archive"#
    );
}

#[test]
fn migration_files_must_agree_with_the_manifest() {
    let m = manifest();
    let bytes = zip_of(&[
        ("bundle.yaml", &m),
        (
            "migrations/metadata/sqlite/V002__other_name.sql",
            b"SELECT 1",
        ),
    ]);
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip": entry "migrations/metadata/sqlite/V002__other_name.sql": migration 2 is named "add_owner_column" in bundle.yaml, "other_name" here"#
    );
    let bytes = zip_of(&[
        ("bundle.yaml", &m),
        (
            "migrations/metadata/sqlite/V002__add_owner_column.sql",
            b"SELECT 1",
        ),
    ]);
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip": entry "migrations/metadata/sqlite/V002__add_owner_column.sql": migration 2 already has sqlite SQL; give it once"#
    );
    let bytes = zip_of(&[
        ("bundle.yaml", &m),
        ("migrations/metadata/sqlite/add.sql", b"SELECT 1"),
    ]);
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip": entry "migrations/metadata/sqlite/add.sql": a migration file is named V<NNN>__<name>.sql"#
    );
}

#[test]
fn running_values_are_compared_with_values_yaml() {
    let m = manifest();
    let bytes = zip_of(&[("bundle.yaml", &m), ("values.yaml", VALUES)]);
    let bundle = bundle::read(&bytes, "b.zip").unwrap();
    let mut running = bundle.values_file().unwrap().clone();
    let report = bundle.validate(&ValidationContext {
        registered_template_md5: Some(bundle.template_md5()),
        running_values: Some(running.clone()),
    });
    assert!(report.is_ok() && report.warnings.is_empty(), "{report:?}");
    running.insert("metadb.url".into(), "sqlite://other.db".into());
    let report = bundle.validate(&ValidationContext {
        registered_template_md5: None,
        running_values: Some(running),
    });
    assert_eq!(
        report.warnings[0].message,
        "the configuration in the file differs from the configuration running now (metadb.url); continuing the upgrade will use the new configuration file"
    );
}

#[test]
fn entry_level_format_and_encoding_errors_name_the_entry() {
    let m = String::from_utf8(manifest())
        .unwrap()
        .replace("changeover/v1", "changeover/v9");
    let bytes = zip_of(&[("bundle.yaml", m.as_bytes())]);
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip" entry "bundle.yaml": unsupported format "changeover/v9"; this changeover reads "changeover/v1""#
    );
    let bytes = zip_of(&[
        ("bundle.yaml", &manifest()),
        ("overlays/prod.yaml", b"a: \xff\n"),
    ]);
    assert_eq!(
        read_err(&bytes),
        r#"bundle "bundle.zip" entry "overlays/prod.yaml": not valid UTF-8 text; save it as UTF-8"#
    );
    let huge = vec![b'#'; bundle::MAX_BUNDLE_BYTES + 1];
    assert_eq!(
        bundle::read(&huge, "huge.yaml").unwrap_err().to_string(),
        format!(
            r#"bundle "huge.yaml" is {} bytes; at most {} are accepted"#,
            bundle::MAX_BUNDLE_BYTES + 1,
            bundle::MAX_BUNDLE_BYTES
        )
    );
}
