//! changeover killed with SIGKILL at named crash points (`CHANGEOVER_CRASH_AT`), in the
//! middle of steps and at their boundaries, in every mode: restarted, each record reaches
//! the same end as an uninterrupted run, and no instance is terminated or re-run twice, no
//! application restarted after its upgrade, no data-update run twice.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use changeover_engine::crash::CRASH_AT;
use changeover_engine::upgrade::{Mode, Status};

use super::file_world::{FileWorld, World};
use super::modes::new_record;

/// (mode, crash point): boundaries (`begin`, `end`) and middles (`intent`, `effect`).
const POINTS: &[(Mode, &str)] = &[
    (Mode::Full, "enter-maintenance:begin"),
    (Mode::Full, "enter-maintenance:end"),
    (Mode::Full, "before-hooks:intent"),
    (Mode::Full, "before-hooks:effect"),
    (Mode::Full, "force-terminate-tasks:intent"),
    (Mode::Full, "force-terminate-tasks:effect"),
    (Mode::Full, "force-terminate-tasks:end"),
    (Mode::Full, "stop:intent"),
    (Mode::Full, "stop:effect"),
    (Mode::Full, "backup:effect"),
    (Mode::Full, "upgrade-applications:intent@2"),
    (Mode::Full, "upgrade-applications:effect@2"),
    (Mode::Full, "upgrade-applications:effect@3"),
    (Mode::Full, "rerun-tasks:intent"),
    (Mode::Full, "rerun-tasks:effect"),
    (Mode::Full, "rerun-tasks:end"),
    (Mode::Full, "data-update:intent"),
    (Mode::Full, "data-update:effect"),
    (Mode::Full, "data-update:effect@2"),
    (Mode::Full, "after-hooks:effect"),
    (Mode::Full, "verify:begin"),
    (Mode::Full, "verify:end"),
    (Mode::Partial, "enter-maintenance:end"),
    (Mode::Partial, "backup:intent"),
    (Mode::Partial, "pre-upgrade:effect@2"),
    (Mode::Partial, "upgrade-applications:intent"),
    (Mode::Partial, "upgrade-applications:effect@2"),
    (Mode::Partial, "upgrade-applications:end"),
    (Mode::Partial, "data-update:effect"),
    (Mode::Zero, "before-hooks:end"),
    (Mode::Zero, "upgrade-applications:intent"),
    (Mode::Zero, "upgrade-applications:effect"),
    (Mode::Zero, "upgrade-applications:effect@2"),
    (Mode::Zero, "verify:end"),
];

/// Builds the crash driver example (same profile and target dir as this test).
fn driver() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "--example",
                    "crash_driver",
                    "--manifest-path",
                ])
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
                .status()
                .expect("run cargo");
            assert!(status.success(), "building the crash driver example failed");
            let exe = std::env::current_exe().unwrap();
            let debug = exe.parent().and_then(Path::parent).unwrap();
            debug.join("examples").join("crash_driver")
        })
        .clone()
}

fn run(world: &FileWorld, crash_at: Option<&str>) -> std::process::ExitStatus {
    let mut cmd = Command::new(driver());
    cmd.arg(&world.world)
        .arg(&world.record)
        .env_remove(CRASH_AT)
        .env("RUST_LOG", "off");
    if let Some(point) = crash_at {
        cmd.env(CRASH_AT, point);
    }
    cmd.stdout(std::process::Stdio::null());
    cmd.status().expect("run the crash driver")
}

fn fresh(dir: &Path, mode: Mode) -> FileWorld {
    let world = FileWorld::new(dir.join("world.json"), dir.join("record.json"));
    world.write(&World::sample(&["i1", "i2"]));
    let record = new_record(mode, true);
    std::fs::write(&world.record, serde_json::to_vec(&record).unwrap()).unwrap();
    world
}

/// What must be equal to an uninterrupted run (hooks may run again: they are idempotent;
/// backups are found again by the metadb adapter).
#[derive(Debug, PartialEq)]
struct Effects {
    killed: Vec<String>,
    reruns: Vec<String>,
    starts: Vec<(String, String)>,
    task_runs: Vec<String>,
    platform: String,
}

fn effects(w: &World) -> Effects {
    let sorted = |v: &Vec<String>| {
        let mut v = v.clone();
        v.sort();
        v
    };
    let mut starts = w.starts.clone();
    starts.sort();
    Effects {
        killed: sorted(&w.killed),
        reruns: sorted(&w.rerun_started),
        starts,
        task_runs: sorted(&w.task_runs),
        platform: format!("{:?} {:?}", w.toggles, w.versions),
    }
}

#[test]
fn sigkill_at_every_named_point_resumes_to_the_same_end() {
    let mut expected = std::collections::BTreeMap::new();
    for mode in [Mode::Full, Mode::Partial, Mode::Zero] {
        let dir = tempfile::tempdir().unwrap();
        let world = fresh(dir.path(), mode);
        assert!(run(&world, None).success());
        assert_eq!(world.load_record().status, Status::Succeeded);
        expected.insert(mode, effects(&world.read()));
    }
    let full = &expected[&Mode::Full];
    assert_eq!(full.killed, ["i1", "i2"]);
    assert_eq!(full.reruns, ["i1", "i2"]);
    assert!(expected[&Mode::Partial].killed.is_empty() && expected[&Mode::Zero].killed.is_empty());

    assert!(POINTS.len() >= 20);
    for &(mode, point) in POINTS {
        let dir = tempfile::tempdir().unwrap();
        let world = fresh(dir.path(), mode);
        let first = run(&world, Some(point));
        assert_eq!(
            first.signal(),
            Some(9),
            "{mode} {point}: the crash point was not reached ({first})"
        );
        let second = run(&world, None);
        assert!(
            second.success(),
            "{mode} {point}: the restart failed ({second})"
        );
        let record = world.load_record();
        assert_eq!(record.status, Status::Succeeded, "{mode} {point}");
        assert!(
            !record.in_maintenance() && !record.dispatch_paused(),
            "{mode} {point}"
        );
        assert_eq!(
            effects(&world.read()),
            expected[&mode],
            "{mode} {point}: effects differ from an uninterrupted run"
        );
    }
}
