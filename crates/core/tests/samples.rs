use changeover_core::bundle::{self, BundleKind, Engine, Strategy, ValidationContext};
use changeover_core::compat::{self, Mode};

use crate::sample_bytes;

#[test]
fn every_sample_bundle_reads_and_validates_clean() {
    for name in ["1.0.0.yaml", "1.0.1.yaml", "1.1.0.yaml"] {
        let bytes = sample_bytes(name);
        let bundle = bundle::read(&bytes, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(bundle.kind(), BundleKind::Yaml);
        assert_eq!(bundle.platform(), "sample");
        assert_eq!(format!("{}.yaml", bundle.version()), name);
        assert_eq!(
            bundle.original_bytes(),
            &bytes[..],
            "original bytes kept unchanged"
        );
        let report = bundle.validate(&ValidationContext::default());
        assert!(report.is_ok(), "{name}: {report:?}");
        assert!(report.warnings.is_empty(), "{name}: {report:?}");
        let apps = &bundle.manifest().applications;
        assert_eq!(apps[0].name, "scheduler");
        assert_eq!(apps[0].strategy, Strategy::Recreate);
        assert_eq!(apps[1].name, "dataservice");
        assert_eq!(apps[1].strategy, Strategy::Rolling);
        assert!(apps[1].always_on);
    }
}

#[test]
fn sample_1_1_0_adds_a_column_and_two_data_updates() {
    let bundle = bundle::read(&sample_bytes("1.1.0.yaml"), "1.1.0.yaml").unwrap();
    let db = &bundle.manifest().databases[0];
    assert_eq!(db.engine, Engine::Sqlite);
    assert_eq!(
        db.migrations[0].sql.for_engine(Engine::Mysql),
        Some("ALTER TABLE task_instance ADD COLUMN owner VARCHAR(64)")
    );
    assert_eq!(db.migrations[0].checksum(Engine::Sqlite).unwrap().len(), 64);
    let updates = &bundle.manifest().data_updates;
    assert!(updates[0].blocking && !updates[1].blocking);
    let secret = bundle.redacted_config();
    assert_eq!(secret["metadb.url"], "********");
    assert_eq!(secret["scheduler.port"], 18080);
}

#[test]
fn sample_modes_follow_the_bundles() {
    let b101 = bundle::read(&sample_bytes("1.0.1.yaml"), "1.0.1.yaml").unwrap();
    let b110 = bundle::read(&sample_bytes("1.1.0.yaml"), "1.1.0.yaml").unwrap();
    let v100 = "1.0.0".parse().unwrap();
    let patch = compat::check(&v100, b101.version(), &b101.manifest().compatibility);
    assert_eq!(
        patch.allowed_modes(),
        vec![Mode::Full, Mode::Partial, Mode::Zero]
    );
    assert_eq!(patch.default_mode(), Some(Mode::Zero));
    let minor = compat::check(&v100, b110.version(), &b110.manifest().compatibility);
    assert_eq!(minor.allowed_modes(), vec![Mode::Full, Mode::Partial]);
    let selection = minor.select(Mode::Zero).unwrap();
    assert_eq!(selection.mode, Mode::Full);
    assert_eq!(
        selection.note.as_deref(),
        Some(
            "zero-downtime needs the same first three segments (1.0.0 vs 1.1.0): full downtime is selected instead"
        )
    );
}

#[test]
fn template_md5_is_stable_and_changes_with_the_template() {
    let a = bundle::read(&sample_bytes("1.1.0.yaml"), "a.yaml").unwrap();
    let b = bundle::read(&sample_bytes("1.1.0.yaml"), "b.yaml").unwrap();
    assert_eq!(a.template_md5(), b.template_md5());
    let changed = String::from_utf8(sample_bytes("1.1.0.yaml"))
        .unwrap()
        .replace("default: info", "default: warn");
    let c = bundle::read(changed.as_bytes(), "c.yaml").unwrap();
    assert_ne!(a.template_md5(), c.template_md5());
    let report = c.validate(&ValidationContext {
        registered_template_md5: Some(a.template_md5()),
        running_values: None,
    });
    assert!(report.is_ok());
    assert_eq!(report.warnings.len(), 1);
    assert!(report.warnings[0].message.starts_with(
        "the configuration template in the file is incompatible with the selected version 1.1.0"
    ));
}

#[test]
fn running_values_that_differ_are_a_warning_listing_the_keys() {
    let bundle = bundle::read(&sample_bytes("1.1.0.yaml"), "1.1.0.yaml").unwrap();
    let mut running = bundle.manifest().config.clone();
    running.insert("scheduler.port".into(), 19000.into());
    running.insert("old.key".into(), "x".into());
    let report = bundle.validate(&ValidationContext {
        registered_template_md5: None,
        running_values: Some(running),
    });
    assert!(report.is_ok());
    assert_eq!(
        report.warnings[0].message,
        "the configuration in the file differs from the configuration running now (old.key, scheduler.port); continuing the upgrade will use the new configuration file"
    );
}

#[test]
fn debug_output_never_shows_configuration_values() {
    let bundle = bundle::read(&sample_bytes("1.1.0.yaml"), "1.1.0.yaml").unwrap();
    for text in [format!("{bundle:?}"), format!("{:?}", bundle.manifest())] {
        assert!(!text.contains("sample-metadata.db"), "{text}");
    }
    assert!(format!("{:?}", bundle.manifest()).contains("metadb.url"));
}

#[test]
fn the_airflow_bundles_read_and_validate_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bundles/airflow");
    for (name, apps) in [("2.10.2.yaml", 2), ("2.11.2.yaml", 2), ("3.3.2.yaml", 3)] {
        let bytes = std::fs::read(root.join(name)).unwrap();
        let bundle = bundle::read(&bytes, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(bundle.platform(), "airflow");
        let report = bundle.validate(&ValidationContext::default());
        assert!(report.is_ok(), "{name}: {report:?}");
        let m = bundle.manifest();
        assert_eq!(m.scheduler.adapter, bundle::SchedulerKind::Airflow);
        assert_eq!(m.applications.len(), apps, "{name}");
        let schema = m.databases[0].schema.as_ref().expect("a schema command");
        assert_eq!(schema.run[1..], ["db", "migrate"], "{name}");
        // Secrets never in a command line: passwords only reach Airflow by environment.
        for app in &m.applications {
            assert!(
                !app.command
                    .iter()
                    .any(|a| a.contains("password") || a.contains("sql_alchemy")),
                "{name}: {app:?}"
            );
        }
    }
    // 2.10.2 -> 2.11.2 may be partial downtime; 2.11.2 -> 3.3.2 only full downtime.
    let read = |name: &str| bundle::read(&std::fs::read(root.join(name)).unwrap(), name).unwrap();
    let minor = compat::check(
        &"2.10.2".parse().unwrap(),
        &read("2.11.2.yaml").manifest().version,
        &read("2.11.2.yaml").manifest().compatibility,
    );
    let major = compat::check(
        &"2.11.2".parse().unwrap(),
        &read("3.3.2.yaml").manifest().version,
        &read("3.3.2.yaml").manifest().compatibility,
    );
    assert!(minor.allowed_modes().contains(&Mode::Partial), "{minor:?}");
    assert!(!minor.allowed_modes().contains(&Mode::Zero), "{minor:?}");
    assert!(major.allowed_modes().contains(&Mode::Full), "{major:?}");
    assert!(!major.allowed_modes().contains(&Mode::Partial), "{major:?}");
}

/// The sample 1.1.0 bundle with its database on `engine` and `dump` set.
fn with_dump(engine: &str, dump: &str) -> bundle::Bundle {
    let text = String::from_utf8(sample_bytes("1.1.0.yaml")).expect("UTF-8");
    let text = text.replacen(
        "    engine: sqlite\n",
        &format!("    engine: {engine}\n    dump: {dump}\n"),
        1,
    );
    bundle::read(text.as_bytes(), "1.1.0.yaml").expect("reads")
}

#[test]
fn a_database_dump_setting_is_read_and_validated_per_engine() {
    let pg = with_dump("postgres", "{ format: directory, jobs: 32 }");
    let report = pg.validate(&ValidationContext::default());
    assert!(report.is_ok(), "{report:?}");
    let dump = pg.manifest().databases[0].dump.clone().expect("dump");
    assert_eq!(dump.format, Some(bundle::DumpFormat::Directory));
    assert_eq!(dump.jobs, Some(bundle::MAX_DUMP_JOBS));
    assert_eq!(dump.triggers, None);

    let custom = with_dump("postgres", "{ format: custom }");
    assert!(custom.validate(&ValidationContext::default()).is_ok());
    let my = with_dump("mysql", "{ triggers: false }");
    assert!(my.validate(&ValidationContext::default()).is_ok());
    assert_eq!(
        my.manifest().databases[0]
            .dump
            .as_ref()
            .and_then(|d| d.triggers),
        Some(false)
    );

    // One past the limit, and PostgreSQL's options on SQLite: each names its field.
    let errors = |b: bundle::Bundle| -> Vec<String> {
        b.validate(&ValidationContext::default())
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(
        errors(with_dump("postgres", "{ jobs: 33 }")),
        ["databases[0].dump.jobs: 33 jobs is more than 32; each job is a connection to the server"]
    );
    assert_eq!(
        errors(with_dump("sqlite", "{ format: custom }")),
        [
            "databases[0].dump.format: `format` is a PostgreSQL option but database \"metadata\" is sqlite"
        ]
    );
    // No `dump`: nothing set, the engine's defaults apply.
    let plain = bundle::read(&sample_bytes("1.1.0.yaml"), "1.1.0.yaml").expect("reads");
    assert_eq!(plain.manifest().databases[0].dump, None);
}
