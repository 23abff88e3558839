//! A crash at every save of every mode: resumed from the last saved record, the upgrade
//! ends as an uninterrupted run does and no side effect happens twice.

use changeover_engine::Stop;
use changeover_engine::upgrade::*;

use super::memory::Memory;
use super::modes::new_record;

async fn uninterrupted(mode: Mode) -> u32 {
    let mem = Memory::new(&["i1", "i2"]);
    let mut r = new_record(mode, true);
    assert_eq!(
        mem.engine().drive(&mut r).await.unwrap(),
        Stop::Ended(Status::Succeeded)
    );
    mem.world().saves
}

#[tokio::test]
async fn every_save_of_every_mode_resumes_without_double_effects() {
    for mode in [Mode::Full, Mode::Partial, Mode::Zero] {
        let total = uninterrupted(mode).await;
        assert!(total > 10, "{mode}: {total} saves");
        for die_at in 1..=total {
            let mem = Memory::new(&["i1", "i2"]);
            mem.world().die_at_save = Some(die_at);
            let mut r = new_record(mode, true);
            let first = mem.engine().drive(&mut r).await;
            assert!(
                first.is_err(),
                "{mode}: save {die_at} of {total} did not crash"
            );
            // restart: the last saved record (or the new one if nothing was saved)
            let mut resumed = mem
                .world()
                .last
                .clone()
                .unwrap_or_else(|| new_record(mode, true));
            mem.world().die_at_save = None;
            let end = mem.engine().drive(&mut resumed).await.unwrap();
            assert_eq!(
                end,
                Stop::Ended(Status::Succeeded),
                "{mode} crash at save {die_at}: {:#?}",
                resumed.log
            );
            let w = mem.world();
            let ctx = format!("{mode} crash at save {die_at}");
            if mode == Mode::Full {
                let mut killed = w.killed.clone();
                killed.sort();
                assert_eq!(killed, ["i1", "i2"], "{ctx}: each instance terminated once");
                let mut reruns = w.rerun_started.clone();
                reruns.sort();
                assert_eq!(
                    reruns,
                    ["i1", "i2"],
                    "{ctx}: each instance re-run exactly once"
                );
                // stop is idempotent (stopping a stopped application does nothing)
                let mut stops = w.stops.clone();
                stops.dedup();
                assert_eq!(stops, ["scheduler"], "{ctx}");
            } else {
                assert!(w.killed.is_empty(), "{ctx}: no instance interrupted");
            }
            for app in ["scheduler", "dataservice"] {
                let starts = w.starts.iter().filter(|(a, _, _)| a == app).count();
                assert_eq!(starts, 1, "{ctx}: {app} started once");
            }
            if mode != Mode::Zero {
                assert!(
                    w.task_runs.values().all(|&n| n == 1),
                    "{ctx}: {:?}",
                    w.task_runs
                );
                assert_eq!(w.task_runs.len(), 2, "{ctx}: {:?}", w.task_runs);
            }
            let prod = w.toggles.iter().find(|t| t.environment == "prod").unwrap();
            assert!(
                prod.scheduling && prod.execution,
                "{ctx}: dispatch restored"
            );
            assert!(
                !resumed.in_maintenance() && !resumed.dispatch_paused(),
                "{ctx}"
            );
        }
    }
}

/// A full-downtime record terminated (with re-run) after one instance was force-terminated.
async fn terminating(mem: &Memory) -> UpgradeRecord {
    let engine = mem.engine();
    let mut r = new_record(Mode::Full, false);
    engine.drive(&mut r).await.unwrap();
    r.apply(Action::Next, changeover_engine::now()).unwrap();
    engine.drive(&mut r).await.unwrap();
    r.apply(Action::Next, changeover_engine::now()).unwrap();
    engine.drive(&mut r).await.unwrap();
    changeover_engine::operator::terminate_instances(
        &engine,
        &mut r,
        changeover_engine::operator::Selection::Ids(vec!["i1".into()]),
    )
    .await
    .unwrap();
    r.apply(Action::Terminate { rerun: true }, changeover_engine::now())
        .unwrap();
    engine.save(&r).await.unwrap();
    r
}

#[tokio::test]
async fn terminate_resumes_from_every_save() {
    let mem = Memory::new(&["i1", "i2"]);
    let mut r = terminating(&mem).await;
    let before = mem.world().saves;
    assert_eq!(
        mem.engine().drive(&mut r).await.unwrap(),
        Stop::Ended(Status::Terminated)
    );
    let total = mem.world().saves - before;
    assert!(total >= 4, "{total}");
    for die_at in 1..=total {
        let mem = Memory::new(&["i1", "i2"]);
        let mut r = terminating(&mem).await;
        let base = mem.world().saves;
        mem.world().die_at_save = Some(base + die_at);
        assert!(mem.engine().drive(&mut r).await.is_err());
        let mut resumed = mem.world().last.clone().unwrap();
        mem.world().die_at_save = None;
        assert_eq!(
            mem.engine().drive(&mut resumed).await.unwrap(),
            Stop::Ended(Status::Terminated),
            "crash at exit save {die_at}"
        );
        let w = mem.world();
        assert_eq!(w.killed, ["i1"], "crash at exit save {die_at}");
        assert_eq!(
            w.rerun_started,
            ["i1"],
            "crash at exit save {die_at}: re-run once"
        );
        assert!(w.hooks.contains(&"undo:ha-off".to_owned()));
        assert!(
            w.starts.is_empty() && w.stops.is_empty(),
            "nothing stopped before downtime"
        );
        let prod = w.toggles.iter().find(|t| t.environment == "prod").unwrap();
        assert!(
            prod.scheduling,
            "crash at exit save {die_at}: dispatch restored"
        );
        assert!(!resumed.in_maintenance());
        assert!(resumed.milestones.terminated_at.is_some());
    }
}

#[tokio::test]
async fn rollback_resumes_from_every_save() {
    async fn succeeded(mem: &Memory) -> UpgradeRecord {
        let mut r = new_record(Mode::Full, true);
        mem.engine().drive(&mut r).await.unwrap();
        r.apply(Action::Rollback, changeover_engine::now()).unwrap();
        mem.engine().save(&r).await.unwrap();
        r
    }
    let mem = Memory::new(&["i1"]);
    let mut r = succeeded(&mem).await;
    let before = mem.world().saves;
    assert_eq!(
        mem.engine().drive(&mut r).await.unwrap(),
        Stop::Ended(Status::RolledBack)
    );
    let total = mem.world().saves - before;
    for die_at in 1..=total {
        let mem = Memory::new(&["i1"]);
        let mut r = succeeded(&mem).await;
        let base = mem.world().saves;
        mem.world().die_at_save = Some(base + die_at);
        assert!(mem.engine().drive(&mut r).await.is_err());
        let mut resumed = mem.world().last.clone().unwrap();
        mem.world().die_at_save = None;
        assert_eq!(
            mem.engine().drive(&mut resumed).await.unwrap(),
            Stop::Ended(Status::RolledBack),
            "crash at rollback save {die_at}"
        );
        let w = mem.world();
        for app in ["scheduler", "dataservice"] {
            assert_eq!(
                w.versions.get(app).cloned().flatten().as_deref(),
                Some("1.0.0"),
                "crash at rollback save {die_at}: {app} runs the previous version"
            );
            let previous = w
                .starts
                .iter()
                .filter(|(a, v, _)| a == app && v == "1.0.0")
                .count();
            assert_eq!(
                previous, 1,
                "crash at rollback save {die_at}: {app} started once"
            );
        }
        // hooks run at least once (a crash between a hook and its saved outcome runs it
        // again): the Hooks port requires idempotent hooks, like HA off/on
        assert!(w.hooks.iter().any(|h| h == "undo:ha-off"));
        assert!(resumed.milestones.rolled_back_at.is_some());
    }
}
