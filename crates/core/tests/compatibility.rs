use changeover_core::compat::{self, CompatibilityRules, Mode};
use changeover_core::version::{Version, VersionRange};

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn reason(report: &compat::CompatibilityReport, mode: Mode) -> Option<String> {
    report
        .verdict(mode)
        .refusal
        .as_ref()
        .map(ToString::to_string)
}

#[test]
fn zero_downtime_within_the_same_first_three_segments() {
    let report = compat::check(
        &v("V5.1.2.02"),
        &v("V5.1.2.04"),
        &CompatibilityRules::default(),
    );
    assert_eq!(report.allowed_modes(), Mode::ALL.to_vec());
    assert_eq!(report.default_mode(), Some(Mode::Zero));
    let selection = report.select(Mode::Zero).unwrap();
    assert_eq!((selection.mode, selection.note), (Mode::Zero, None));
}

#[test]
fn zero_downtime_across_segments_falls_back_to_full() {
    let report = compat::check(&v("5.1.2"), &v("5.2.0"), &CompatibilityRules::default());
    assert_eq!(
        reason(&report, Mode::Zero).unwrap(),
        "zero-downtime needs the same first three segments (5.1.2 vs 5.2.0)"
    );
    assert_eq!(report.default_mode(), Some(Mode::Full));
    let selection = report.select(Mode::Zero).unwrap();
    assert_eq!(selection.mode, Mode::Full);
    assert_eq!(
        selection.note.unwrap(),
        "zero-downtime needs the same first three segments (5.1.2 vs 5.2.0): full downtime is selected instead"
    );
    assert_eq!(report.select(Mode::Partial).unwrap().mode, Mode::Partial);
}

#[test]
fn configurable_segment_count() {
    let rules = CompatibilityRules {
        zero_downtime_same_segments: 2,
        ..CompatibilityRules::default()
    };
    let report = compat::check(&v("1.0.0"), &v("1.0.1"), &rules);
    assert!(report.verdict(Mode::Zero).allowed());
    let report = compat::check(&v("1.0.0"), &v("1.1.0"), &rules);
    assert_eq!(
        reason(&report, Mode::Zero).unwrap(),
        "zero-downtime needs the same first two segments (1.0 vs 1.1)"
    );
}

#[test]
fn partial_downtime_below_the_minimum_is_refused() {
    let rules = CompatibilityRules {
        partial_downtime_min: Some(v("5.1.1")),
        ..CompatibilityRules::default()
    };
    let report = compat::check(&v("5.1.0"), &v("5.2.0"), &rules);
    let expected = "partial downtime needs a current version of at least 5.1.1; 5.1.0 is older: choose full downtime";
    assert_eq!(reason(&report, Mode::Partial).unwrap(), expected);
    assert_eq!(report.allowed_modes(), vec![Mode::Full]);
    let err = report.select(Mode::Partial).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("partial-downtime is refused: {expected}")
    );
    assert!(
        compat::check(&v("5.1.1"), &v("5.2.0"), &rules)
            .verdict(Mode::Partial)
            .allowed()
    );
}

#[test]
fn outside_upgrade_from_is_refused_for_every_mode() {
    let rules = CompatibilityRules {
        upgrade_from: Some(VersionRange {
            min: v("4.2.0-CE"),
            max: v("4.2.8-CE"),
        }),
        ..CompatibilityRules::default()
    };
    let report = compat::check(&v("4.1.0-CE"), &v("4.2.9-CE"), &rules);
    for mode in Mode::ALL {
        assert_eq!(
            reason(&report, mode).unwrap(),
            "4.2.9-CE upgrades only from 4.2.0-CE to 4.2.8-CE; 4.1.0-CE is outside"
        );
    }
    assert_eq!(report.default_mode(), None);
    assert!(
        report.select(Mode::Zero).is_err(),
        "no fallback outside the range"
    );
    let inside = compat::check(&v("4.2.8-CE"), &v("4.2.9-CE"), &rules);
    assert_eq!(inside.allowed_modes(), vec![Mode::Full, Mode::Partial]);
}

#[test]
fn downgrade_and_same_version_are_refused() {
    for (from, to) in [
        ("5.2.0", "5.1.9"),
        ("5.1.2", "5.1.2"),
        ("V5.1.2.04", "5.1.2.04"),
    ] {
        let report = compat::check(&v(from), &v(to), &CompatibilityRules::default());
        let expected = format!(
            "downgrade from {} to {} is refused; use `changeover upgrade rollback` to return to an earlier version",
            v(from),
            v(to)
        );
        for mode in Mode::ALL {
            assert_eq!(reason(&report, mode).unwrap(), expected);
        }
        assert_eq!(
            report.select(Mode::Full).unwrap_err().refusal.to_string(),
            expected
        );
    }
}

#[test]
fn edition_change_is_refused() {
    let report = compat::check(
        &v("4.2.8-EE"),
        &v("4.2.9-CE"),
        &CompatibilityRules::default(),
    );
    assert_eq!(
        reason(&report, Mode::Full).unwrap(),
        "changing edition from 4.2.8-EE to 4.2.9-CE is refused; choose a target of the same edition"
    );
}

#[test]
fn mode_names() {
    for (text, mode) in [
        ("full-downtime", Mode::Full),
        ("full", Mode::Full),
        ("partial-downtime", Mode::Partial),
        ("partial", Mode::Partial),
        ("zero-downtime", Mode::Zero),
        ("zero", Mode::Zero),
    ] {
        assert_eq!(text.parse::<Mode>().unwrap(), mode);
    }
    assert_eq!(Mode::Partial.to_string(), "partial-downtime");
    assert_eq!(serde_json::to_string(&Mode::Zero).unwrap(), r#""zero""#);
    assert_eq!(
        "rolling".parse::<Mode>().unwrap_err().to_string(),
        r#"unknown upgrade mode "rolling"; use full-downtime, partial-downtime or zero-downtime (or full, partial, zero)"#
    );
}
