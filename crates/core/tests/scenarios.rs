//! Every folder under `tests/bundles/` is a bad bundle: `input.yaml` and the exact error
//! expected in `expected_error.txt` (read errors, or the validation errors one per line).

use std::path::Path;

use changeover_core::bundle::{self, ValidationContext};

fn outcome(bytes: &[u8]) -> String {
    match bundle::read(bytes, "input.yaml") {
        Err(e) => e.to_string(),
        Ok(bundle) => {
            let report = bundle.validate(&ValidationContext::default());
            report
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

#[test]
fn every_scenario_folder_fails_with_its_expected_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bundles");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/bundles exists")
        .map(|e| e.expect("readable entry").path())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 20,
        "expected the scenario folders, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let input = std::fs::read(case.join("input.yaml")).expect("input.yaml");
        let got = outcome(&input);
        let expected_path = case.join("expected_error.txt");
        if std::env::var_os("CHANGEOVER_BLESS").is_some() {
            std::fs::write(&expected_path, format!("{got}\n")).expect("write expected");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).expect("expected_error.txt");
        assert!(
            !expected.trim().is_empty(),
            "{}: expected error is empty",
            case.display()
        );
        if got != expected.trim_end() {
            failures.push(format!(
                "{}:\n  expected: {}\n  got:      {got}",
                case.display(),
                expected.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
