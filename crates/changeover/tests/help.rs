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
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert!(
            lines.len() > 3
                && !lines[0].trim().is_empty()
                && lines[1].is_empty()
                && !lines[2].trim().is_empty(),
            "{args:?} must start with a one-line purpose, a blank line and a description:\n{}",
            run.stdout
        );
    }
}

/// The subcommands listed under `Commands:` in a help text.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A command line is indented by two spaces; wrapped descriptions by more.
        .filter(|l| !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Command groups of this area: their whole tree must show examples. Other areas' groups
/// are walked too and their gaps listed on stderr (the rule is the same for them).
const OWN_GROUPS: &[&str] = &["version", "platform", "demo"];

/// Walks the whole command tree from `changeover --help`: every command of every area.
#[test]
fn every_command_in_the_tree_has_examples() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue: Vec<Vec<String>> = vec![vec![]];
    let (mut seen, mut own_missing, mut other_missing) = (0, Vec::new(), Vec::new());
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = changeover_in(dir.path(), &args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        if !run.stdout.contains("Examples:") {
            let own = path
                .first()
                .is_none_or(|g| OWN_GROUPS.contains(&g.as_str()));
            if own {
                &mut own_missing
            } else {
                &mut other_missing
            }
            .push(path.join(" "));
        }
        for sub in subcommands(&run.stdout) {
            let mut next = path.clone();
            next.push(sub);
            queue.push(next);
        }
        seen += 1;
    }
    assert!(seen >= COMMANDS.len(), "walked only {seen} commands");
    assert!(
        own_missing.is_empty(),
        "commands without Examples: {own_missing:?}"
    );
    assert!(
        other_missing.is_empty(),
        "commands without Examples: {other_missing:?}"
    );
}

#[test]
fn an_unknown_command_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = changeover_in(dir.path(), &["versoin", "list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("versoin"), "{}", run.stderr);
}
