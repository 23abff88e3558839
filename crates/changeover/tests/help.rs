//! Every command explains itself with a purpose, a description and examples.

use crate::common::changeover_in;

const COMMANDS: &[&[&str]] = &[
    &[],
    &["version"],
    &["version", "upload"],
    &["version", "list"],
    &["version", "show"],
    &["version", "download"],
    &["version", "check"],
    &["platform"],
    &["platform", "list"],
    &["platform", "set-current"],
    &["demo"],
];

#[test]
fn every_command_has_help_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    for command in COMMANDS {
        let mut args = command.to_vec();
        args.push("--help");
        let run = changeover_in(dir.path(), &args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            run.stdout.contains("Examples:"),
            "{args:?} has no Examples:\n{}",
            run.stdout
        );
        assert!(
            run.stdout
                .lines()
                .next()
                .is_some_and(|l| !l.trim().is_empty()),
            "{args:?} has no purpose line"
        );
    }
}

#[test]
fn an_unknown_command_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = changeover_in(dir.path(), &["versoin", "list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("versoin"), "{}", run.stderr);
}
