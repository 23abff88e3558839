//! One application's life with real processes: crash, never healthy, stop escalation,
//! re-adoption, stack dump, log tail, restart.

use std::time::Duration;

use changeover_drivers::process::{Probe, ProcessError, ProcessState, StopOutcome};

use crate::support::{Harness, process_gone, shell_app};

#[tokio::test]
async fn a_crashed_process_is_reported_with_its_exit_code() {
    let harness = Harness::new();
    let spec = shell_app("crasher", "1.0.0", "echo boom; exit 3", Probe::Tcp);
    let err = harness.driver().start(&spec).await.unwrap_err();
    match &err {
        ProcessError::Exited { exit, log_tail, .. } => {
            assert_eq!(exit.code, Some(3), "{err}");
            assert!(
                log_tail.contains("boom"),
                "log tail lacks the output: {err}"
            );
        }
        other => panic!("expected Exited, got {other}"),
    }
    assert!(err.to_string().contains("exited with code 3"), "{err}");
    let status = harness.driver().status("crasher").await.unwrap();
    assert_eq!(status.state, ProcessState::Exited { code: 3 });
    // The exit code was recorded: a new driver object still knows it.
    let mut harness = harness;
    harness.reopen();
    let status = harness.driver().status("crasher").await.unwrap();
    assert_eq!(status.state, ProcessState::Exited { code: 3 });
}

#[tokio::test]
async fn a_process_that_never_becomes_healthy_fails_with_its_log_tail() {
    let harness = Harness::new();
    let mut spec = shell_app(
        "sleeper",
        "1.0.0",
        "echo still-starting; sleep 30",
        Probe::Tcp,
    );
    spec.health.retries = 3;
    let err = harness.driver().start(&spec).await.unwrap_err();
    match &err {
        ProcessError::NeverHealthy {
            attempts, log_tail, ..
        } => {
            assert_eq!(*attempts, 3);
            assert!(log_tail.contains("still-starting"), "{err}");
        }
        other => panic!("expected NeverHealthy, got {other}"),
    }
    let status = harness.driver().status("sleeper").await.unwrap();
    assert!(
        matches!(status.state, ProcessState::Unhealthy { .. }),
        "{status:?}"
    );
    // It was left running for diagnosis; stopping it is graceful (sh and sleep obey TERM).
    let pid = status.instance.unwrap().pid;
    let report = harness.driver().stop("sleeper").await.unwrap();
    assert_eq!(report.instances.len(), 1);
    assert_eq!(report.instances[0].1, StopOutcome::Graceful);
    assert!(process_gone(pid));
    let status = harness.driver().status("sleeper").await.unwrap();
    assert_eq!(status.state, ProcessState::Stopped);
}

#[tokio::test]
async fn stop_kills_a_process_group_that_ignores_sigterm() {
    let harness = Harness::new();
    let mut spec = shell_app(
        "stubborn",
        "1.0.0",
        "trap '' TERM; echo ready; sleep 60",
        Probe::Alive,
    );
    spec.stop_grace_ms = 300;
    let info = harness.driver().start(&spec).await.unwrap();
    assert_eq!(
        harness.driver().status("stubborn").await.unwrap().state,
        ProcessState::Healthy
    );
    let report = harness.driver().stop("stubborn").await.unwrap();
    assert_eq!(
        report.instances,
        vec![(info.instance_id.clone(), StopOutcome::Killed)]
    );
    assert!(process_gone(info.pid), "main process survived SIGKILL");
    // Stopping again is harmless.
    let again = harness.driver().stop("stubborn").await.unwrap();
    assert_eq!(again.instances[0].1, StopOutcome::AlreadyEnded);
}

#[tokio::test]
async fn a_new_driver_readopts_running_instances_instead_of_starting_twice() {
    let mut harness = Harness::new();
    let spec = shell_app("adoptee", "1.0.0", "echo up; exec sleep 60", Probe::Alive);
    let first = harness.driver().start(&spec).await.unwrap();
    // Its own process group: signals to changeover's group (a terminal's ^C) miss it.
    let group = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(first.pid))).unwrap();
    assert_eq!(group.as_raw(), first.pid);

    harness.reopen();
    let status = harness.driver().status("adoptee").await.unwrap();
    assert_eq!(status.state, ProcessState::Healthy);
    assert_eq!(status.instance.as_ref().unwrap().pid, first.pid);

    let second = harness.driver().start(&spec).await.unwrap();
    assert_eq!(second.pid, first.pid, "started a second process");
    assert_eq!(second.instance_id, first.instance_id);
    let lines = harness.driver().log_tail("adoptee", 10).await.unwrap();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("changeover: starting"))
            .count(),
        1,
        "{lines:?}"
    );

    // A different version is refused while this one runs.
    let other = shell_app("adoptee", "2.0.0", "exec sleep 60", Probe::Alive);
    let err = harness.driver().start(&other).await.unwrap_err();
    assert!(matches!(err, ProcessError::AlreadyRunning { .. }), "{err}");

    // The adopted process is not our child any more, yet stop still ends it.
    let report = harness.driver().stop("adoptee").await.unwrap();
    assert_eq!(report.instances[0].1, StopOutcome::Graceful);
    assert!(process_gone(first.pid));
}

#[tokio::test]
async fn an_instance_that_ended_while_away_is_started_again() {
    let mut harness = Harness::new();
    let spec = shell_app("phoenix", "1.0.0", "exec sleep 60", Probe::Alive);
    let first = harness.driver().start(&spec).await.unwrap();
    harness.reopen();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first.pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    for _ in 0..50 {
        if process_gone(first.pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = harness.driver().status("phoenix").await.unwrap();
    assert!(
        matches!(
            status.state,
            ProcessState::Vanished | ProcessState::Killed { signal: 9 }
        ),
        "{status:?}"
    );
    let second = harness.driver().start(&spec).await.unwrap();
    assert_ne!(second.pid, first.pid);
    assert_ne!(
        second.instance_id, first.instance_id,
        "instance ids are never reused"
    );
}

#[tokio::test]
async fn stack_dump_returns_what_the_process_wrote_after_the_signal() {
    let harness = Harness::new();
    let spec = shell_app(
        "dumper",
        "1.0.0",
        "trap 'echo dump-here' QUIT; echo ready; while true; do sleep 0.1; done",
        Probe::Alive,
    );
    harness.driver().start(&spec).await.unwrap();
    let dump = harness
        .driver()
        .stack_dump("dumper", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(dump.contains("dump-here"), "{dump:?}");
    assert!(
        !dump.contains("ready"),
        "the dump holds only what came after the signal"
    );
    let tail = harness.driver().log_tail("dumper", 5).await.unwrap();
    assert!(tail.iter().any(|l| l == "ready"), "{tail:?}");
    assert!(tail.iter().any(|l| l == "dump-here"), "{tail:?}");
    // The process survived its dump.
    assert_eq!(
        harness.driver().status("dumper").await.unwrap().state,
        ProcessState::Healthy
    );
}

#[tokio::test]
async fn a_process_that_prints_nothing_on_the_signal_fails_the_dump() {
    let harness = Harness::new();
    let spec = shell_app(
        "silent",
        "1.0.0",
        "trap '' QUIT; while true; do sleep 0.1; done",
        Probe::Alive,
    );
    harness.driver().start(&spec).await.unwrap();
    let err = harness
        .driver()
        .stack_dump("silent", Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(matches!(err, ProcessError::StackDumpEmpty { .. }), "{err}");
}

#[tokio::test]
async fn restart_replaces_the_process_on_the_same_port() {
    let harness = Harness::new();
    let spec = shell_app("restarted", "1.0.0", "exec sleep 60", Probe::Alive);
    let first = harness.driver().start(&spec).await.unwrap();
    let second = harness.driver().restart(&spec).await.unwrap();
    assert_ne!(first.pid, second.pid);
    assert_eq!(first.port, second.port);
    assert!(process_gone(first.pid));
    let routes = harness.driver().routes().unwrap();
    assert_eq!(routes.upstream("restarted"), Some(second.address.as_str()));
}

#[tokio::test]
async fn unknown_applications_and_bad_specs_are_named() {
    let harness = Harness::new();
    let err = harness.driver().log_tail("ghost", 5).await.unwrap_err();
    assert!(matches!(err, ProcessError::UnknownApp { .. }), "{err}");
    assert!(err.to_string().contains("ghost"), "{err}");
    assert!(
        harness
            .driver()
            .stop("ghost")
            .await
            .unwrap()
            .instances
            .is_empty()
    );
    let status = harness.driver().status("ghost").await.unwrap();
    assert_eq!(status.state, ProcessState::NotStarted);
    assert!(
        harness.driver().apps().unwrap().is_empty(),
        "asking created no state"
    );
    let mut spec = shell_app("bad", "1.0.0", "true", Probe::Alive);
    spec.command = vec!["/nonexistent/program".into()];
    let err = harness.driver().start(&spec).await.unwrap_err();
    assert!(matches!(err, ProcessError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/program"), "{err}");
}

/// A scheduler whose local executor runs tasks as child processes drains them on SIGTERM:
/// with `stop_main_first` only the main process gets SIGTERM and the running child
/// finishes its work; with the default, SIGTERM to the group interrupts it.
#[tokio::test]
async fn stop_main_first_lets_child_processes_finish() {
    for (main_first, expect_done) in [(true, true), (false, false)] {
        let harness = Harness::new();
        let done = harness.state_dir().join(format!("done-{main_first}"));
        // The child writes `done` after 1 s; the main process waits for it on SIGTERM.
        let script = format!(
            "(sleep 1; echo finished > '{}') & child=$!; trap 'wait $child; exit 0' TERM; echo ready; while true; do sleep 0.05; done",
            done.display()
        );
        let mut spec = shell_app("drainer", "1.0.0", &script, Probe::Alive);
        spec.stop_main_first = main_first;
        spec.stop_grace_ms = 10_000;
        harness.driver().start(&spec).await.unwrap();
        let report = harness.driver().stop("drainer").await.unwrap();
        assert_eq!(
            report.instances[0].1,
            StopOutcome::Graceful,
            "main_first={main_first}"
        );
        // Whatever was left of the group is gone either way.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            done.exists(),
            expect_done,
            "main_first={main_first}: the child's work {}",
            if expect_done {
                "was interrupted"
            } else {
                "was not interrupted by SIGTERM to the group"
            }
        );
    }
}
