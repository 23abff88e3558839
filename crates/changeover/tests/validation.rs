//! Every validation message of an upload, with bundles written here; blocked uploads store
//! nothing and exit 2.

use crate::common::{
    Env, edit, manifest_without_config, on_both_stores, sample, sample_path, zip_of,
};

const METADB_LINE: &str =
    "  metadb.url: \"sqlite://sample-metadata.db?mode=rwc\"   # override per installation\n";
const VALUES: &str = "metadb:\n  url: \"sqlite://sample-metadata.db?mode=rwc\"\nscheduler:\n  port: 18080\ndataservice:\n  port: 18081\nlog:\n  level: info\n";

fn missing_item_is_listed_and_blocks(env: &Env) {
    let text = edit(&sample("1.0.1.yaml"), METADB_LINE, "");
    let path = env.write("missing.yaml", text.as_bytes());
    let run = env.run(&["version", "upload", &path]);
    assert!(
        run.fails(2).contains("nothing was stored"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("missing configuration items:\n  - metadb.url"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("blocking errors:"), "{}", run.stdout);
    let json = env.run(&["version", "upload", &path, "--json"]);
    assert_eq!(json.code, 2);
    let json = json.json();
    assert_eq!(json["outcome"], "blocked");
    assert_eq!(
        json["report"]["missing_items"],
        serde_json::json!(["metadb.url"])
    );
    assert!(
        env.versions().is_empty(),
        "a blocked bundle must not be stored"
    );
}

fn incompatible_overlay_blocks(env: &Env) {
    let manifest = manifest_without_config("1.0.1.yaml");
    let bytes = zip_of(&[
        ("bundle.yaml", manifest.as_bytes()),
        ("values.yaml", VALUES.as_bytes()),
        (
            "overlays/prod.yaml",
            b"unknown.key: 1\nscheduler.port: not-a-port\n",
        ),
    ]);
    let path = env.write("overlay.zip", &bytes);
    let run = env.run(&["version", "upload", &path]);
    run.fails(2);
    assert!(
        run.stdout
            .contains("overlays/prod.yaml: unknown.key is not in the template"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("overlays/prod.yaml: scheduler.port must be"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("cannot continue"), "{}", run.stdout);
    assert!(env.versions().is_empty());
}

fn differing_values_and_template_warn(env: &Env) {
    env.run(&[
        "version",
        "upload",
        &sample_path("1.0.1.yaml").display().to_string(),
    ])
    .ok();
    env.run(&["platform", "set-current", "1.0.1"]).ok();
    let manifest = manifest_without_config("1.0.1.yaml");
    let values = edit(VALUES, "port: 18080", "port: 18090");
    let bytes = zip_of(&[
        ("bundle.yaml", manifest.as_bytes()),
        ("values.yaml", values.as_bytes()),
        (
            "template/application.properties",
            b"port=${scheduler.port}\n",
        ),
    ]);
    let path = env.write("values.zip", &bytes);
    let out = env.run(&["version", "upload", &path]).ok().to_owned();
    assert!(out.contains("warnings:"), "{out}");
    assert!(
        out.contains("differs from the configuration running now (scheduler.port)"),
        "{out}"
    );
    assert!(
        out.contains(
            "configuration template in the file is incompatible with the selected version 1.0.1"
        ),
        "{out}"
    );
    assert!(
        out.contains("overwrote sample 1.0.1"),
        "warnings must not block:\n{out}"
    );
}

fn bad_version_string_is_named(env: &Env) {
    let text = edit(&sample("1.0.1.yaml"), "version: 1.0.1", "version: 1.0.x");
    let path = env.write("badversion.yaml", text.as_bytes());
    let err = env.run(&["version", "upload", &path]).fails(2).to_owned();
    assert!(err.contains("1.0.x"), "{err}");
    assert!(env.versions().is_empty());
}

fn malformed_yaml_has_line_and_column(env: &Env) {
    let text = edit(
        &sample("1.0.1.yaml"),
        "platform: sample",
        "platform: [sample",
    );
    let path = env.write("malformed.yaml", text.as_bytes());
    let err = env.run(&["version", "upload", &path]).fails(2).to_owned();
    assert!(err.contains("malformed.yaml"), "{err}");
    assert!(err.contains("line ") && err.contains("column "), "{err}");
    assert!(env.versions().is_empty());
}

fn unsafe_zip_is_refused(env: &Env) {
    let manifest = manifest_without_config("1.0.1.yaml");
    let bytes = zip_of(&[
        ("bundle.yaml", manifest.as_bytes()),
        ("values.yaml", VALUES.as_bytes()),
        ("../escape.sh", b"rm -rf /\n"),
    ]);
    let path = env.write("unsafe.zip", &bytes);
    let err = env.run(&["version", "upload", &path]).fails(2).to_owned();
    assert!(err.contains("../escape.sh"), "{err}");
    assert!(env.versions().is_empty());
}

fn wrong_file_or_platform_is_bad_input(env: &Env) {
    let err = env
        .run(&["version", "upload", "no-such-file.yaml"])
        .fails(2)
        .to_owned();
    assert!(err.contains("no-such-file.yaml"), "{err}");
    let path = sample_path("1.0.0.yaml").display().to_string();
    let err = env
        .run(&["version", "upload", &path, "--platform", "other"])
        .fails(2)
        .to_owned();
    assert!(
        err.contains("\"sample\"") && err.contains("\"other\""),
        "{err}"
    );
    let empty = env.write("empty.yaml", b"");
    assert!(
        env.run(&["version", "upload", &empty])
            .fails(2)
            .contains("empty")
    );
    assert!(env.versions().is_empty());
}

on_both_stores!(
    missing_item_is_listed_and_blocks,
    incompatible_overlay_blocks,
    differing_values_and_template_warn,
    bad_version_string_is_named,
    malformed_yaml_has_line_and_column,
    unsafe_zip_is_refused,
    wrong_file_or_platform_is_bad_input
);
