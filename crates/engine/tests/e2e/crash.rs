//! changeover killed with SIGKILL at named crash points while it upgrades the real sample
//! platform (its two processes, metadata on SQLite), restarted with `changeover upgrade
//! next`: each record reaches the same end state as an uninterrupted run, and the
//! platform's own history shows no double effect — no instance terminated or re-run twice
//! (its `task_instance` table), no application started twice at the target version (the
//! process driver's start logs), no data-update task run twice (the tasks' own run log).
//!
//! One test per crash point (nextest runs them in parallel, each with its own platform).

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use changeover_drivers::SchedulerAdapter;
use changeover_drivers::scheduler::Toggles;
use changeover_engine::crash::CRASH_AT;
use changeover_engine::upgrade::{Mode, Status, StepKind, UpgradeRecord};

use super::harness::{Platform, bundles};
use crate::adapters::db::TestDb;

/// Builds the driver example once per test process (same profile and target dir).
fn driver_exe() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = std::process::Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "--example",
                    "platform_driver",
                    "--manifest-path",
                ])
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
                .status()
                .expect("run cargo");
            assert!(
                status.success(),
                "building the platform driver example failed"
            );
            let exe = std::env::current_exe().unwrap();
            let debug = exe.parent().and_then(Path::parent).unwrap();
            debug.join("examples").join("platform_driver")
        })
        .clone()
}

/// Writes the driver's configuration for `p` (bundles of `tests/fixtures/counted`).
pub fn driver_config(p: &Platform) -> PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let config = serde_json::json!({
        "store": p.dir().join("store.db"),
        "settings": p.settings,
        "ports": p.ports,
        "bundles": [
            fixtures.join("sample/1.0.0.yaml"),
            fixtures.join("sample/1.0.1.yaml"),
            fixtures.join("counted/1.1.0.yaml"),
        ],
    });
    let path = p.dir().join("driver.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    path
}

/// Runs one driver command to its end (or its crash point).
pub async fn drive(config: &Path, args: &[&str], crash_at: Option<&str>) -> ExitStatus {
    driver(config, args, crash_at)
        .status()
        .await
        .expect("run the platform driver")
}

/// The driver command; its output goes to `driver.log` next to `config` (so processes it
/// leaves behind hold no pipe of the test).
pub fn driver(config: &Path, args: &[&str], crash_at: Option<&str>) -> tokio::process::Command {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.with_file_name("driver.log"))
        .expect("the driver's log file");
    let mut cmd = tokio::process::Command::new(driver_exe());
    cmd.arg(config)
        .args(args)
        .env_remove(CRASH_AT)
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone().expect("the driver's log file"))
        .stderr(log);
    if let Some(point) = crash_at {
        cmd.env(CRASH_AT, point);
    }
    cmd
}

/// A fresh sample platform 1.0.0 for `mode`, with the counted bundles.
pub async fn platform(mode: Mode) -> Platform {
    // full downtime: instances long enough to be running when they are force-terminated
    let task_secs = if mode == Mode::Full { 30 } else { 3 };
    Platform::start_with(TestDb::sqlite(), 2, task_secs, bundles(Some("counted"))).await
}

fn target(mode: Mode) -> &'static str {
    if mode == Mode::Zero { "1.0.1" } else { "1.1.0" }
}

fn word(mode: Mode) -> &'static str {
    match mode {
        Mode::Full => "full",
        Mode::Partial => "partial",
        Mode::Zero => "zero",
    }
}

/// Everything of the end state that an interrupted run must share with an uninterrupted
/// one (instance ids differ between platforms; they are checked by [`instances`]).
#[derive(Debug, PartialEq)]
struct EndState {
    status: Status,
    steps: Vec<(StepKind, String)>,
    in_maintenance: bool,
    dispatch_paused: bool,
    toggles: Vec<(String, bool, bool)>,
    version: String,
    /// Processes started per (application, version) since the platform started at 1.0.0.
    starts: BTreeMap<String, usize>,
    /// Runs per data-update task.
    task_runs: BTreeMap<String, usize>,
}

fn toggles(t: &[Toggles]) -> Vec<(String, bool, bool)> {
    let mut v: Vec<_> = t
        .iter()
        .map(|t| (format!("{:?}", t.environment), t.scheduling, t.execution))
        .collect();
    v.sort();
    v
}

/// `logs/<app>-<version>-<n>.log` is written once per started process.
fn starts(p: &Platform) -> BTreeMap<String, usize> {
    let mut starts = BTreeMap::new();
    let logs = p.settings.process_state_dir().join("logs");
    for entry in std::fs::read_dir(logs).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some((app_version, _n)) = name.trim_end_matches(".log").rsplit_once('-') {
            *starts.entry(app_version.to_owned()).or_default() += 1;
        }
    }
    starts
}

fn task_runs(p: &Platform) -> BTreeMap<String, usize> {
    let mut runs = BTreeMap::new();
    let log = p.settings.data_dir.join("data-update-runs.log");
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        *runs.entry(line.to_owned()).or_default() += 1;
    }
    runs
}

async fn end_state(p: &Platform, r: &UpgradeRecord) -> EndState {
    EndState {
        status: r.status,
        steps: r
            .steps
            .iter()
            .map(|s| (s.kind, s.phase.label().to_owned()))
            .collect(),
        in_maintenance: r.in_maintenance(),
        dispatch_paused: r.dispatch_paused(),
        toggles: toggles(&p.client.toggles().await.unwrap()),
        version: p.client.health().await.unwrap().version,
        starts: starts(p),
        task_runs: task_runs(p),
    }
}

/// The end state of an uninterrupted run of `mode` that started with `before` toggles.
fn expected(mode: Mode, before: &[Toggles]) -> EndState {
    let to = target(mode);
    let kinds: &[StepKind] = match mode {
        Mode::Full => &[
            StepKind::EnterMaintenance,
            StepKind::ForceTerminateTasks,
            StepKind::Stop,
            StepKind::Backup,
            StepKind::UpgradeApplications,
            StepKind::RerunTasks,
            StepKind::DataUpdate,
            StepKind::Verify,
        ],
        Mode::Partial => &[
            StepKind::EnterMaintenance,
            StepKind::Backup,
            StepKind::PreUpgrade,
            StepKind::UpgradeApplications,
            StepKind::DataUpdate,
            StepKind::Verify,
        ],
        Mode::Zero => &[StepKind::UpgradeApplications, StepKind::Verify],
    };
    let starts = ["scheduler", "dataservice"]
        .iter()
        .flat_map(|app| [(format!("{app}-1.0.0"), 1), (format!("{app}-{to}"), 1)])
        .collect();
    let task_runs = if mode == Mode::Zero {
        BTreeMap::new()
    } else {
        [
            ("backfill_owner".to_owned(), 1),
            ("refresh_stats".to_owned(), 1),
        ]
        .into()
    };
    EndState {
        status: Status::Succeeded,
        steps: kinds.iter().map(|k| (*k, "done".to_owned())).collect(),
        in_maintenance: false,
        dispatch_paused: false,
        toggles: toggles(before),
        version: to.to_owned(),
        starts,
        task_runs,
    }
}

/// (id, status, rerun_of) of every instance in the platform's metadata database.
fn instance_rows(p: &Platform) -> Vec<(String, String, Option<String>)> {
    let db = p.db.dir.path().join("meta.db");
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg("SELECT id, status, COALESCE(rerun_of, '') FROM task_instance ORDER BY id")
        .output()
        .expect("run sqlite3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let rerun_of = (!f[2].is_empty()).then(|| f[2].to_owned());
            (f[0].to_owned(), f[1].to_owned(), rerun_of)
        })
        .collect()
}

/// The platform's instance history against the record: the instances killed are exactly
/// the ones the record force-terminated, each re-run exactly once (the new instance the
/// record names), and nothing else re-run.
fn instances(p: &Platform, r: &UpgradeRecord, mode: Mode, context: &str) {
    let rows = instance_rows(p);
    let mut killed: Vec<String> = rows
        .iter()
        .filter(|(_, s, _)| s == "killed")
        .map(|(id, _, _)| id.clone())
        .collect();
    let mut terminated = r.terminated_instances();
    killed.sort();
    terminated.sort();
    assert_eq!(
        killed, terminated,
        "{context}: killed instances vs the record"
    );
    if mode == Mode::Full {
        assert!(
            !killed.is_empty(),
            "{context}: instances were force-terminated"
        );
    } else {
        assert!(killed.is_empty(), "{context}: no instance interrupted");
    }
    let reruns: Vec<&(String, String, Option<String>)> =
        rows.iter().filter(|(_, _, of)| of.is_some()).collect();
    assert_eq!(
        reruns.len(),
        killed.len(),
        "{context}: one re-run per killed instance"
    );
    let rerun_step = r.step(StepKind::RerunTasks);
    for id in &killed {
        let new: Vec<&String> = reruns
            .iter()
            .filter(|(_, _, of)| of.as_deref() == Some(id.as_str()))
            .map(|(new, _, _)| new)
            .collect();
        assert_eq!(
            new.len(),
            1,
            "{context}: instance {id} re-run {} times",
            new.len()
        );
        let recorded = rerun_step
            .and_then(|s| s.item(id))
            .and_then(|i| i.fact("new_id"));
        assert_eq!(
            recorded,
            Some(new[0].as_str()),
            "{context}: the re-run the record names"
        );
    }
}

async fn latest(p: &Platform) -> UpgradeRecord {
    p.console.store.list().await.unwrap().remove(0)
}

/// Crashes the driver at `point` in `mode`, restarts it, and checks the end.
async fn crash_and_resume(mode: Mode, point: &str) {
    let context = format!("{mode} {point}");
    let p = platform(mode).await;
    let before = p.client.toggles().await.unwrap();
    let config = driver_config(&p);
    let first = drive(&config, &["start", word(mode), target(mode)], Some(point)).await;
    assert_eq!(
        first.signal(),
        Some(9),
        "{context}: the crash point was not reached ({first})"
    );
    let killed_at = latest(&p).await;
    assert!(
        killed_at.status.is_active(),
        "{context}: killed mid-upgrade"
    );
    let second = drive(&config, &["next"], None).await;
    assert!(second.success(), "{context}: the restart failed ({second})");
    let r = latest(&p).await;
    assert_eq!(r.id, killed_at.id, "{context}: the same record resumed");
    assert_eq!(
        end_state(&p, &r).await,
        expected(mode, &before),
        "{context}: the end differs from an uninterrupted run\n{}",
        changeover_engine::view::status(&r)
    );
    instances(&p, &r, mode, &context);
}

async fn uninterrupted(mode: Mode) {
    let p = platform(mode).await;
    let before = p.client.toggles().await.unwrap();
    let config = driver_config(&p);
    let run = drive(&config, &["start", word(mode), target(mode)], None).await;
    assert!(run.success(), "{mode}: {run}");
    let r = latest(&p).await;
    assert_eq!(end_state(&p, &r).await, expected(mode, &before), "{mode}");
    instances(&p, &r, mode, &format!("{mode} uninterrupted"));
}

#[tokio::test]
async fn uninterrupted_full_downtime() {
    uninterrupted(Mode::Full).await;
}

#[tokio::test]
async fn uninterrupted_partial_downtime() {
    uninterrupted(Mode::Partial).await;
}

#[tokio::test]
async fn uninterrupted_zero_downtime() {
    uninterrupted(Mode::Zero).await;
}

/// One test per (mode, crash point): boundaries (`begin`, `end`) and the middles of steps
/// (`intent`: intent saved, effect not done; `effect`: effect done, outcome not saved).
macro_rules! crash_points {
    ($($name:ident: $mode:expr, $point:literal;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                crash_and_resume($mode, $point).await;
            }
        )*
        /// Every crash point of this file, for the count below.
        const POINTS: &[(Mode, &str)] = &[$(($mode, $point)),*];
    };
}

crash_points! {
    full_enter_maintenance_begin: Mode::Full, "enter-maintenance:begin";
    full_enter_maintenance_end: Mode::Full, "enter-maintenance:end";
    full_force_terminate_intent: Mode::Full, "force-terminate-tasks:intent";
    full_force_terminate_effect: Mode::Full, "force-terminate-tasks:effect";
    full_stop_intent: Mode::Full, "stop:intent";
    full_stop_effect: Mode::Full, "stop:effect";
    full_backup_effect: Mode::Full, "backup:effect";
    full_upgrade_second_intent: Mode::Full, "upgrade-applications:intent@2";
    full_upgrade_second_effect: Mode::Full, "upgrade-applications:effect@2";
    full_rerun_intent: Mode::Full, "rerun-tasks:intent";
    full_rerun_effect: Mode::Full, "rerun-tasks:effect";
    full_data_update_effect: Mode::Full, "data-update:effect";
    full_verify_end: Mode::Full, "verify:end";
    partial_backup_intent: Mode::Partial, "backup:intent";
    partial_pre_upgrade_second_effect: Mode::Partial, "pre-upgrade:effect@2";
    partial_upgrade_intent: Mode::Partial, "upgrade-applications:intent";
    partial_upgrade_second_effect: Mode::Partial, "upgrade-applications:effect@2";
    partial_upgrade_end: Mode::Partial, "upgrade-applications:end";
    partial_data_update_intent: Mode::Partial, "data-update:intent";
    partial_data_update_second_effect: Mode::Partial, "data-update:effect@2";
    zero_upgrade_intent: Mode::Zero, "upgrade-applications:intent";
    zero_upgrade_effect: Mode::Zero, "upgrade-applications:effect";
    zero_upgrade_second_effect: Mode::Zero, "upgrade-applications:effect@2";
    zero_verify_begin: Mode::Zero, "verify:begin";
}

#[test]
fn at_least_twenty_crash_points_across_the_modes() {
    assert!(POINTS.len() >= 20, "{} crash points", POINTS.len());
    for mode in [Mode::Full, Mode::Partial, Mode::Zero] {
        assert!(
            POINTS.iter().any(|(m, _)| *m == mode),
            "{mode}: no crash point"
        );
    }
    for middle in [":intent", ":effect"] {
        assert!(
            POINTS.iter().any(|(_, p)| p.contains(middle)),
            "no crash point in the middle of a step ({middle})"
        );
    }
}
