//! The steps of each mode in the seeds' order, and the exit plans of terminate and rollback.

use super::step::StepKind;
use crate::compat::Mode;

/// What of the bundle shapes the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanShape {
    /// The bundle declares `hooks.before`.
    pub before_hooks: bool,
    /// The bundle declares `hooks.after`.
    pub after_hooks: bool,
}

/// The steps of `mode` in order (seeds 000, 002; design.md §4).
///
/// - full: enter maintenance (dispatch paused), [before hooks], force-terminate tasks, stop,
///   backup, upgrade applications, re-run tasks, data update (dispatch resumed when the
///   blocking tasks are done), [after hooks], verify;
/// - partial: enter maintenance (console only), [before hooks], backup (never blocks),
///   pre-upgrade, upgrade applications (dispatch paused only here), data update,
///   [after hooks], verify;
/// - zero: [before hooks], upgrade applications (rolling), [after hooks], verify.
pub fn steps_for(mode: Mode, shape: PlanShape) -> Vec<StepKind> {
    use StepKind::*;
    let middle: &[StepKind] = match mode {
        Mode::Full => &[
            ForceTerminateTasks,
            Stop,
            Backup,
            UpgradeApplications,
            RerunTasks,
            DataUpdate,
        ],
        Mode::Partial => &[Backup, PreUpgrade, UpgradeApplications, DataUpdate],
        Mode::Zero => &[UpgradeApplications],
    };
    let mut steps = Vec::with_capacity(middle.len() + 4);
    if uses_maintenance(mode) {
        steps.push(EnterMaintenance);
    }
    if shape.before_hooks {
        steps.push(BeforeHooks);
    }
    steps.extend_from_slice(middle);
    if shape.after_hooks {
        steps.push(AfterHooks);
    }
    steps.push(Verify);
    steps
}

/// Whether `mode` puts the console in maintenance mode (every mode but zero downtime).
pub fn uses_maintenance(mode: Mode) -> bool {
    mode != Mode::Zero
}

/// The exit steps of terminate: undo the before-hooks that ran, restore dispatch and exit
/// maintenance, and optionally re-run the force-terminated instances.
pub fn terminate_steps(undo_hooks: bool, restore_dispatch: bool, rerun: bool) -> Vec<StepKind> {
    let mut steps = Vec::new();
    if undo_hooks {
        steps.push(StepKind::UndoBeforeHooks);
    }
    if restore_dispatch {
        steps.push(StepKind::ResumeDispatch);
    }
    if rerun {
        steps.push(StepKind::RerunTasks);
    }
    steps
}

/// The exit steps of rollback (seed 003, design.md §4 "Roll back"): stop the target,
/// restore every metadata database from this upgrade's backups, start the previous version
/// and health-check it, undo the before-hooks that ran.
pub fn rollback_steps(undo_hooks: bool) -> Vec<StepKind> {
    let mut steps = vec![
        StepKind::StopTarget,
        StepKind::RestoreBackups,
        StepKind::StartPrevious,
    ];
    if undo_hooks {
        steps.push(StepKind::UndoBeforeHooks);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use StepKind::*;

    const HOOKS: PlanShape = PlanShape {
        before_hooks: true,
        after_hooks: true,
    };

    #[test]
    fn full_downtime_follows_seed_000() {
        assert_eq!(
            steps_for(Mode::Full, PlanShape::default()),
            [
                EnterMaintenance,
                ForceTerminateTasks,
                Stop,
                Backup,
                UpgradeApplications,
                RerunTasks,
                DataUpdate,
                Verify
            ]
        );
    }

    #[test]
    fn partial_downtime_follows_seed_000() {
        assert_eq!(
            steps_for(Mode::Partial, PlanShape::default()),
            [
                EnterMaintenance,
                Backup,
                PreUpgrade,
                UpgradeApplications,
                DataUpdate,
                Verify
            ]
        );
    }

    #[test]
    fn zero_downtime_follows_seed_002_without_maintenance() {
        assert_eq!(
            steps_for(Mode::Zero, PlanShape::default()),
            [UpgradeApplications, Verify]
        );
    }

    #[test]
    fn hooks_wrap_the_upgrade_in_every_mode() {
        for mode in [Mode::Full, Mode::Partial, Mode::Zero] {
            let steps = steps_for(mode, HOOKS);
            let before = steps.iter().position(|s| *s == BeforeHooks).unwrap();
            let after = steps.iter().position(|s| *s == AfterHooks).unwrap();
            let upgrade = steps
                .iter()
                .position(|s| *s == UpgradeApplications)
                .unwrap();
            assert!(before < upgrade && upgrade < after, "{mode}: {steps:?}");
            assert_eq!(steps.last(), Some(&Verify));
            if uses_maintenance(mode) {
                assert_eq!(steps[0], EnterMaintenance);
                assert_eq!(before, 1, "hooks run right after entering maintenance");
            } else {
                assert_eq!(before, 0);
            }
        }
    }

    #[test]
    fn exit_plans() {
        assert_eq!(
            terminate_steps(true, true, true),
            [UndoBeforeHooks, ResumeDispatch, RerunTasks]
        );
        assert_eq!(terminate_steps(false, true, false), [ResumeDispatch]);
        assert!(terminate_steps(false, false, false).is_empty());
        assert_eq!(
            rollback_steps(true),
            [StopTarget, RestoreBackups, StartPrevious, UndoBeforeHooks]
        );
        assert_eq!(rollback_steps(false).len(), 3);
    }
}
