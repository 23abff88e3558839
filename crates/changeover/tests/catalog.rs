//! Upload, list, show, overwrite, download and the JSON output, on both engines.

use crate::common::{Env, on_both_stores, sample, sample_path};

fn upload_samples(env: &Env) {
    for name in ["1.0.0.yaml", "1.0.1.yaml", "1.1.0.yaml"] {
        let path = sample_path(name).display().to_string();
        let out = env.run(&["version", "upload", &path]).ok().to_owned();
        assert!(out.contains("imported sample"), "{out}");
    }
}

fn upload_list_show(env: &Env) {
    upload_samples(env);
    assert_eq!(env.versions(), ["1.0.0", "1.0.1", "1.1.0"]);
    env.run(&["platform", "set-current", "1.0.1"]).ok();

    let table = env.run(&["version", "list"]).ok().to_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("VERSION") && lines[0].contains("MD5"),
        "{table}"
    );
    let current: Vec<&&str> = lines.iter().filter(|l| l.starts_with('*')).collect();
    assert_eq!(current.len(), 1, "{table}");
    assert!(current[0].contains("1.0.1"), "{table}");

    let list = env.run(&["version", "list", "--json"]).json();
    assert_eq!(list[1]["current"], true);
    assert_eq!(list[0]["format"], "yaml");
    assert_eq!(list[0]["md5"].as_str().unwrap().len(), 32);

    let show = env.run(&["version", "show", "1.1.0"]).ok().to_owned();
    for expected in [
        "scheduler",
        "dataservice",
        "metadata",
        "backfill",
        "partial downtime from",
    ] {
        assert!(show.contains(expected), "show lacks {expected:?}:\n{show}");
    }
    let show = env.run(&["version", "show", "1.1.0", "--json"]).json();
    assert_eq!(show["entry"]["version"], "1.1.0");
    assert!(
        show["databases"][0]["migrations"]
            .as_array()
            .is_some_and(|m| !m.is_empty()),
        "{show}"
    );
    assert!(
        !show.to_string().contains("metadb.url\":"),
        "config values must not be shown: {show}"
    );

    let missing = env.run(&["version", "show", "9.9.9"]);
    assert!(missing.fails(2).contains("not in the catalog"));
}

fn overwrite_and_download_unchanged(env: &Env) {
    upload_samples(env);
    // The same version again, with different bytes (a comment): an overwrite.
    let changed = format!("# re-issued\n{}", sample("1.0.1.yaml"));
    let path = env.write("1.0.1-reissued.yaml", changed.as_bytes());
    let out = env.run(&["version", "upload", &path]).ok().to_owned();
    assert!(out.contains("overwrote sample 1.0.1"), "{out}");
    let json = env.run(&["version", "upload", &path, "--json"]).json();
    assert_eq!(json["outcome"], "overwritten");
    assert_eq!(env.versions(), ["1.0.0", "1.0.1", "1.1.0"]);

    let target = env.dir().join("downloaded.yaml");
    let target_text = target.display().to_string();
    env.run(&["version", "download", "1.0.1", "-o", &target_text])
        .ok();
    assert_eq!(
        std::fs::read(&target).unwrap(),
        changed.as_bytes(),
        "download must be byte-identical"
    );

    let refused = env.run(&["version", "download", "1.0.0", "-o", &target_text]);
    assert!(refused.fails(2).contains("already exists"));
    assert_eq!(
        std::fs::read(&target).unwrap(),
        changed.as_bytes(),
        "a refused download must not touch the file"
    );
    let forced = env
        .run(&[
            "version",
            "download",
            "1.0.0",
            "-o",
            &target_text,
            "--force",
            "--json",
        ])
        .json();
    assert_eq!(forced["version"], "1.0.0");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(sample_path("1.0.0.yaml")).unwrap()
    );
}

fn zip_bundle_round_trip(env: &Env) {
    let manifest = crate::common::manifest_without_config("1.1.0.yaml");
    let bytes = crate::common::zip_of(&[
        ("bundle.yaml", manifest.as_bytes()),
        ("values.yaml", b"metadb:\n  url: sqlite://prod.db\n"),
        (
            "template/application.properties",
            b"port=${scheduler.port}\n",
        ),
    ]);
    let path = env.write("sample-1.1.0.zip", &bytes);
    let json = env.run(&["version", "upload", &path, "--json"]).json();
    assert_eq!(json["outcome"], "imported", "{json}");
    assert_eq!(json["format"], "zip");
    let target = env.dir().join("back.zip");
    env.run(&[
        "version",
        "download",
        "1.1.0",
        "-o",
        &target.display().to_string(),
    ])
    .ok();
    assert_eq!(std::fs::read(&target).unwrap(), bytes);
}

fn platform_list_and_set_current(env: &Env) {
    let empty = env.run(&["platform", "list", "--json"]).json();
    assert_eq!(empty, serde_json::json!([]));
    let bad = env.run(&["platform", "set-current", "1.0.x"]);
    assert!(bad.fails(2).contains("1.0.x"));
    // Not in the catalog: recorded, with a note.
    let out = env
        .run(&["platform", "set-current", "V2.0"])
        .ok()
        .to_owned();
    assert!(
        out.contains("sample now runs 2.0 (not in the catalog)"),
        "{out}"
    );
    let list = env.run(&["platform", "list", "--json"]).json();
    assert_eq!(list[0]["current_version"], "2.0");
}

on_both_stores!(
    upload_list_show,
    overwrite_and_download_unchanged,
    zip_bundle_round_trip,
    platform_list_and_set_current
);
