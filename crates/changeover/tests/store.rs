//! Where the store is: --store, CHANGEOVER_STORE, the config file, the default; bad
//! locations give a clear error.

use std::process::Command;

use crate::common::changeover_in;

#[test]
fn the_default_store_is_created_under_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = changeover_in(dir.path(), &["platform", "set-current", "1.0.0"]);
    run.ok();
    assert!(dir.path().join(".changeover/changeover.db").is_file());
}

#[test]
fn flag_beats_environment_beats_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("changeover.yaml"),
        "store: from-config.db\nplatform: sample\n",
    )
    .unwrap();
    changeover_in(dir.path(), &["platform", "set-current", "1.0.0"]).ok();
    assert!(dir.path().join("from-config.db").is_file());

    let out = Command::new(env!("CARGO_BIN_EXE_changeover"))
        .args(["platform", "set-current", "1.0.0"])
        .current_dir(dir.path())
        .env("CHANGEOVER_STORE", "from-env.db")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("from-env.db").is_file());

    changeover_in(
        dir.path(),
        &[
            "--store",
            "from-flag.db",
            "platform",
            "set-current",
            "1.0.0",
        ],
    )
    .ok();
    assert!(dir.path().join("from-flag.db").is_file());
    assert!(
        !dir.path().join(".changeover").exists(),
        "the default must not be used"
    );
}

#[test]
fn bad_store_locations_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = changeover_in(
        dir.path(),
        &["--store", "mysql://root@127.0.0.1/x", "version", "list"],
    )
    .fails(2)
    .to_owned();
    assert!(err.contains("not supported"), "{err}");

    let err = changeover_in(
        dir.path(),
        &[
            "--store",
            "postgres://u:hunter2@127.0.0.1:1/db",
            "version",
            "list",
        ],
    )
    .fails(1)
    .to_owned();
    assert!(
        err.contains("cannot open the store") && err.contains("--store"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2"),
        "the password must not be printed: {err}"
    );

    std::fs::write(
        dir.path().join("notes.txt"),
        "not a database, just text that is long enough to matter",
    )
    .unwrap();
    let err = changeover_in(dir.path(), &["--store", "notes.txt", "version", "list"])
        .fails(1)
        .to_owned();
    assert!(err.contains("notes.txt"), "{err}");
}

#[test]
fn a_bad_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.yaml"), "store: x.db\nsotre: y\n").unwrap();
    let err = changeover_in(dir.path(), &["--config", "c.yaml", "version", "list"])
        .fails(2)
        .to_owned();
    assert!(err.contains("c.yaml") && err.contains("sotre"), "{err}");
    let err = changeover_in(dir.path(), &["--config", "missing.yaml", "version", "list"])
        .fails(2)
        .to_owned();
    assert!(err.contains("missing.yaml"), "{err}");
}

#[test]
fn demo_runs_on_embedded_bundles_and_is_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = changeover_in(dir.path(), &["demo"]).ok().to_owned();
        assert!(out.contains("1.0.0") && out.contains("1.1.0"), "{out}");
        assert!(
            out.contains("refused") && out.contains("downgrade"),
            "{out}"
        );
    }
    let json = changeover_in(dir.path(), &["demo", "--json"]).json();
    assert_eq!(json["uploads"].as_array().unwrap().len(), 3);
    assert_eq!(json["matrix"].as_array().unwrap().len(), 6);
    assert!(dir.path().join(".changeover/demo.db").is_file());
}
