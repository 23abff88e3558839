//! Durations read from a record's milestones and step times: what the benchmark and the
//! status view report.

use serde::{Deserialize, Serialize};

use super::record::UpgradeRecord;
use super::step::StepKind;
use super::time::Timestamp;

/// How long an upgrade and its parts took, in milliseconds; `None` where a milestone is
/// missing (not reached, or not part of the mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durations {
    /// From start to completion (or force-completion, termination, rollback).
    pub total_ms: Option<i64>,
    /// From entering maintenance mode to exiting it.
    pub maintenance_ms: Option<i64>,
    /// From pausing dispatch to resuming it.
    pub dispatch_paused_ms: Option<i64>,
    /// Each step's wall time, from its first start to its last finish.
    pub steps: Vec<(StepKind, Option<i64>)>,
}

fn between(from: Option<Timestamp>, to: Option<Timestamp>) -> Option<i64> {
    Some(to?.millis_since(from?))
}

impl Durations {
    pub fn of(record: &UpgradeRecord) -> Self {
        let m = &record.milestones;
        let end = m
            .completed_at
            .or(m.force_completed_at)
            .or(m.terminated_at)
            .or(m.rolled_back_at);
        Self {
            total_ms: between(m.started_at, end),
            maintenance_ms: between(m.entered_maintenance_at, m.maintenance_exited_at),
            dispatch_paused_ms: between(m.dispatch_paused_at, m.dispatch_resumed_at),
            steps: record
                .steps
                .iter()
                .map(|s| (s.kind, between(s.started_at, s.finished_at)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upgrade::{
        Action, Announcement, Mode, NewUpgrade, PlanShape, StepOutcome, UpgradeRecord,
    };

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_700_000_000_000 + s * 1000)
    }

    #[test]
    fn durations_from_milestones_and_steps() {
        let mut r = UpgradeRecord::configure(
            NewUpgrade {
                id: "u".into(),
                platform: "p".into(),
                from_version: "1.0.0".into(),
                to_version: "1.0.1".into(),
                mode: Mode::Zero,
                shape: PlanShape::default(),
                announcement: Announcement::new(None, None, None).unwrap(),
                risk_accepted: false,
                auto_advance: true,
                configuration: Default::default(),
            },
            at(0),
        );
        r.apply(Action::Start, at(1)).unwrap();
        r.begin_step(at(2));
        r.finish_step(&StepOutcome::Done, at(7));
        let d = Durations::of(&r);
        assert_eq!(d.total_ms, None, "not ended yet");
        assert_eq!(d.maintenance_ms, None, "zero downtime has no maintenance");
        assert_eq!(d.steps[0], (StepKind::UpgradeApplications, Some(5000)));
        assert_eq!(d.steps[1], (StepKind::Verify, None));
        r.milestones.completed_at = Some(at(11));
        r.milestones.dispatch_paused_at = Some(at(3));
        r.milestones.dispatch_resumed_at = Some(at(4));
        let d = Durations::of(&r);
        assert_eq!(d.total_ms, Some(10_000));
        assert_eq!(d.dispatch_paused_ms, Some(1000));
    }
}
