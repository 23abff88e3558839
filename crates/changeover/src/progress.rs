//! `changeover upgrade status` on a terminal: one progress bar per step (indicatif). Piped
//! or redirected output, and `--json`, keep the plain status text.

use std::io::IsTerminal as _;

use changeover_engine::upgrade::UpgradeRecord;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether `upgrade status` draws bars: text mode on a terminal only.
pub fn bars_wanted(json: bool) -> bool {
    !json && std::io::stdout().is_terminal()
}

/// One bar: the step, its percentage, its phase.
#[derive(Debug, PartialEq, Eq)]
pub struct Bar {
    pub step: String,
    pub percent: u64,
    pub phase: String,
}

/// The bars of every step (the exit steps of a termination or rollback included).
pub fn bars(record: &UpgradeRecord) -> Vec<Bar> {
    record
        .steps
        .iter()
        .chain(record.exit.iter().flat_map(|e| &e.steps))
        .map(|s| Bar {
            step: s.kind.to_string(),
            percent: u64::from(s.percent()),
            phase: s.phase.label().to_owned(),
        })
        .collect()
}

/// Draws the record's header and its steps' bars on stdout.
pub fn draw(record: &UpgradeRecord) {
    println!(
        "upgrade {}: {} {} -> {} in {} mode, {}",
        record.id,
        record.platform,
        record.from_version,
        record.to_version,
        record.mode.words(),
        record.status.label()
    );
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
    let style = ProgressStyle::with_template("  {prefix:<24} [{bar:30}] {pos:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    for bar in bars(record) {
        let pb = multi.add(ProgressBar::new(100));
        pb.set_style(style.clone());
        pb.set_prefix(bar.step);
        pb.set_position(bar.percent);
        pb.abandon_with_message(bar.phase);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use changeover_core::Mode;
    use changeover_engine::upgrade::{Action, Announcement, NewUpgrade, PlanShape, Timestamp};

    #[test]
    fn one_bar_per_step_with_its_percentage_and_phase() {
        let now = Timestamp::from_unix_millis(1_800_000_000_000);
        let mut r = UpgradeRecord::configure(
            NewUpgrade {
                id: "upg-1".into(),
                platform: "sample".into(),
                from_version: "1.0.0".into(),
                to_version: "1.1.0".into(),
                mode: Mode::Partial,
                shape: PlanShape {
                    before_hooks: false,
                    after_hooks: false,
                },
                announcement: Announcement::new(None, None, None).unwrap(),
                risk_accepted: true,
                auto_advance: false,
                configuration: Default::default(),
            },
            now,
        );
        r.apply(Action::Start, now).unwrap();
        r.begin_step(now);
        let bars = bars(&r);
        assert_eq!(bars.len(), r.steps.len());
        assert_eq!(bars[0].phase, "running");
        assert_eq!(bars[0].percent, 0);
        assert!(bars[1..].iter().all(|b| b.phase == "pending"), "{bars:?}");
        assert_eq!(bars[0].step, r.steps[0].kind.to_string());
    }
}
