//! `version check`: every compatibility rule's verdict and reason, from bundles with the
//! rules under test.

use crate::common::{Env, edit, on_both_stores, sample, sample_path};

/// A copy of the 1.1.0 sample as `version` with `compatibility` replaced.
fn bundle(version: &str, compatibility: &str) -> String {
    let text = edit(
        &sample("1.1.0.yaml"),
        "version: 1.1.0\n",
        &format!("version: {version}\n"),
    );
    let start = text.find("compatibility:\n").unwrap();
    let end = text.find("template:\n").unwrap();
    format!(
        "{}compatibility:\n{compatibility}{}",
        &text[..start],
        &text[end..]
    )
}

fn upload(env: &Env, name: &str, text: &str) {
    let path = env.write(name, text.as_bytes());
    env.run(&["version", "upload", &path]).ok();
}

fn verdicts(env: &Env, args: &[&str]) -> Vec<(String, bool, String)> {
    let mut all = vec!["version", "check", "--json"];
    all.extend_from_slice(args);
    let json = env.run(&all).json();
    json["modes"]
        .as_array()
        .expect("modes")
        .iter()
        .map(|m| {
            (
                m["mode"].as_str().unwrap().to_owned(),
                m["allowed"].as_bool().unwrap(),
                m["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn every_rule_gives_its_reason(env: &Env) {
    for name in ["1.0.0.yaml", "1.0.1.yaml", "1.1.0.yaml"] {
        env.run(&[
            "version",
            "upload",
            &sample_path(name).display().to_string(),
        ])
        .ok();
    }
    // Patch within the rules: every mode allowed.
    let v = verdicts(env, &["--from", "1.0.0", "--to", "1.0.1"]);
    assert!(v.iter().all(|(_, allowed, _)| *allowed), "{v:?}");

    // Differing segments: zero downtime refused with its reason, the others allowed.
    let v = verdicts(env, &["--from", "1.0.0", "--to", "1.1.0"]);
    assert_eq!(v.iter().filter(|m| m.1).count(), 2, "{v:?}");
    let zero = v.iter().find(|m| m.0 == "zero").unwrap();
    assert!(
        !zero.1 && zero.2.contains("same first three segments"),
        "{v:?}"
    );

    // Downgrade: every mode refused.
    let v = verdicts(env, &["--from", "1.1.0", "--to", "1.0.0"]);
    assert!(v.iter().all(|m| !m.1 && m.2.contains("downgrade")), "{v:?}");

    // Outside the declared range.
    upload(
        env,
        "2.0.0.yaml",
        &bundle("2.0.0", "  upgrade_from: { min: 1.1.0, max: 1.1.0 }\n"),
    );
    let v = verdicts(env, &["--from", "1.0.0", "--to", "2.0.0"]);
    assert!(
        v.iter().all(|m| !m.1 && m.2.contains("upgrades only from")),
        "{v:?}"
    );

    // Below the partial-downtime minimum.
    upload(
        env,
        "3.0.0.yaml",
        &bundle("3.0.0", "  partial_downtime_min: 1.1.0\n"),
    );
    let v = verdicts(env, &["--from", "1.0.1", "--to", "3.0.0"]);
    let partial = v.iter().find(|m| m.0 == "partial").unwrap();
    assert!(!partial.1 && partial.2.contains("at least 1.1.0"), "{v:?}");
    assert!(v.iter().find(|m| m.0 == "full").unwrap().1, "{v:?}");

    // Edition change.
    upload(
        env,
        "3.0.1-EE.yaml",
        &bundle("3.0.1-EE", "  zero_downtime_same_segments: 3\n"),
    );
    let v = verdicts(env, &["--from", "3.0.0", "--to", "3.0.1-EE"]);
    assert!(v.iter().all(|m| !m.1 && m.2.contains("edition")), "{v:?}");

    // The human table.
    let out = env
        .run(&["version", "check", "--from", "1.0.0", "--to", "1.1.0"])
        .ok()
        .to_owned();
    assert!(
        out.contains("zero-downtime") && out.contains("refused") && out.contains("allowed"),
        "{out}"
    );
}

fn from_defaults_to_the_current_version(env: &Env) {
    env.run(&[
        "version",
        "upload",
        &sample_path("1.1.0.yaml").display().to_string(),
    ])
    .ok();
    let err = env
        .run(&["version", "check", "--to", "1.1.0"])
        .fails(2)
        .to_owned();
    assert!(err.contains("no current version"), "{err}");
    env.run(&["platform", "set-current", "1.0.1"]).ok();
    let json = env
        .run(&["version", "check", "--to", "1.1.0", "--json"])
        .json();
    assert_eq!(json["from"], "1.0.1");
    // Bad inputs name what is wrong.
    assert!(
        env.run(&["version", "check", "--to", "1.x"])
            .fails(2)
            .contains("--to")
    );
    assert!(
        env.run(&["version", "check", "--to", "7.0.0"])
            .fails(2)
            .contains("not in the catalog")
    );
}

on_both_stores!(
    every_rule_gives_its_reason,
    from_defaults_to_the_current_version
);
