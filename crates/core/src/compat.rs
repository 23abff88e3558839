//! Which upgrade modes a version change allows (design.md §2).
//!
//! [`check`] judges every [`Mode`] for a (current, target) pair under the target bundle's
//! [`CompatibilityRules`]; [`CompatibilityReport::select`] turns the mode an operator asked
//! for into the mode that will run, or a refusal with its reason.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::version::{Version, VersionRange};

/// Zero-downtime needs this many equal leading segments unless the bundle says otherwise
/// (the seeds: 5.1.2.02 -> 5.1.2.04 is allowed, 5.1.2 -> 5.2.0 is not).
pub const DEFAULT_ZERO_DOWNTIME_SAME_SEGMENTS: u8 = 3;

/// How an upgrade keeps the platform running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Everything but `always_on` applications stops; maintenance mode is on.
    Full,
    /// Running tasks continue; scheduling pauses while applications are upgraded.
    Partial,
    /// Rolling upgrade of every application; no maintenance mode.
    Zero,
}

impl Mode {
    /// Every mode, in the order they are shown.
    pub const ALL: [Mode; 3] = [Mode::Full, Mode::Partial, Mode::Zero];

    /// The command-line name: `full-downtime`, `partial-downtime`, `zero-downtime`.
    pub fn cli_name(self) -> &'static str {
        match self {
            Mode::Full => "full-downtime",
            Mode::Partial => "partial-downtime",
            Mode::Zero => "zero-downtime",
        }
    }

    /// The words used in sentences: `full downtime`, `partial downtime`, `zero downtime`.
    pub fn words(self) -> &'static str {
        match self {
            Mode::Full => "full downtime",
            Mode::Partial => "partial downtime",
            Mode::Zero => "zero downtime",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cli_name())
    }
}

/// A mode name that is none of the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown upgrade mode {0:?}; use full-downtime, partial-downtime or zero-downtime (or full, partial, zero)"
)]
pub struct UnknownMode(pub String);

impl FromStr for Mode {
    type Err = UnknownMode;

    /// Accepts `full-downtime|partial-downtime|zero-downtime` and `full|partial|zero`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full-downtime" | "full" => Ok(Mode::Full),
            "partial-downtime" | "partial" => Ok(Mode::Partial),
            "zero-downtime" | "zero" => Ok(Mode::Zero),
            other => Err(UnknownMode(other.to_owned())),
        }
    }
}

/// The compatibility section of a bundle; every field is optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompatibilityRules {
    /// Zero-downtime only when this many leading segments are equal (1 to 4; default 3).
    #[serde(default = "default_same_segments")]
    pub zero_downtime_same_segments: u8,
    /// Below this current version partial downtime is not offered.
    #[serde(default)]
    pub partial_downtime_min: Option<Version>,
    /// The inclusive range of current versions this version upgrades from.
    #[serde(default)]
    pub upgrade_from: Option<VersionRange>,
}

fn default_same_segments() -> u8 {
    DEFAULT_ZERO_DOWNTIME_SAME_SEGMENTS
}

impl Default for CompatibilityRules {
    fn default() -> Self {
        CompatibilityRules {
            zero_downtime_same_segments: DEFAULT_ZERO_DOWNTIME_SAME_SEGMENTS,
            partial_downtime_min: None,
            upgrade_from: None,
        }
    }
}

/// Why a mode is refused. `Display` is the sentence shown to the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// Target is not newer than current: refused for every mode.
    Downgrade { current: Version, target: Version },
    /// The edition suffix changes (4.2.8-EE -> 4.2.9-CE): refused for every mode.
    EditionChange { current: Version, target: Version },
    /// Current lies outside the bundle's `upgrade_from`: refused for every mode.
    OutsideRange {
        current: Version,
        target: Version,
        range: VersionRange,
    },
    /// Partial downtime below `partial_downtime_min`.
    BelowPartialMinimum { current: Version, minimum: Version },
    /// Zero downtime across differing leading segments.
    SegmentsDiffer {
        count: u8,
        current: String,
        target: String,
    },
}

impl Refusal {
    /// Whether full downtime is the natural fallback (only a zero-downtime refusal over
    /// differing segments falls back; the others refuse the upgrade as asked).
    pub fn falls_back_to_full(&self) -> bool {
        matches!(self, Refusal::SegmentsDiffer { .. })
    }
}

fn leading(count: u8) -> String {
    match count {
        1 => "the same first segment".to_owned(),
        2 => "the same first two segments".to_owned(),
        3 => "the same first three segments".to_owned(),
        4 => "the same four segments".to_owned(),
        n => format!("the same first {n} segments"),
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Downgrade { current, target } => write!(
                f,
                "downgrade from {current} to {target} is refused; use `changeover upgrade rollback` to return to an earlier version"
            ),
            Refusal::EditionChange { current, target } => write!(
                f,
                "changing edition from {current} to {target} is refused; choose a target of the same edition"
            ),
            Refusal::OutsideRange {
                current,
                target,
                range,
            } => write!(
                f,
                "{target} upgrades only from {range}; {current} is outside"
            ),
            Refusal::BelowPartialMinimum { current, minimum } => write!(
                f,
                "partial downtime needs a current version of at least {minimum}; {current} is older: choose full downtime"
            ),
            Refusal::SegmentsDiffer {
                count,
                current,
                target,
            } => write!(
                f,
                "zero-downtime needs {} ({current} vs {target})",
                leading(*count)
            ),
        }
    }
}

/// The judgement of one mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeVerdict {
    pub mode: Mode,
    /// `None` when the mode is allowed.
    pub refusal: Option<Refusal>,
}

impl ModeVerdict {
    pub fn allowed(&self) -> bool {
        self.refusal.is_none()
    }
}

/// Every mode judged for one (current, target) pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompatibilityReport {
    pub current: Version,
    pub target: Version,
    /// One verdict per mode, in [`Mode::ALL`] order.
    pub verdicts: Vec<ModeVerdict>,
}

/// The mode that will run after [`CompatibilityReport::select`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub requested: Mode,
    pub mode: Mode,
    /// Set when `mode` differs from `requested`: the sentence telling the operator why,
    /// e.g. "zero-downtime needs the same first three segments (5.1.2 vs 5.2.0): full
    /// downtime is selected instead".
    pub note: Option<String>,
}

/// The requested mode cannot run, and no fallback applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{mode} is refused: {refusal}")]
pub struct SelectionError {
    pub mode: Mode,
    pub refusal: Box<Refusal>,
}

/// Judge every mode for upgrading from `current` to `target` under `rules` (the target
/// bundle's). A downgrade, a same version, an edition change or a current version outside
/// `upgrade_from` refuses every mode.
pub fn check(
    current: &Version,
    target: &Version,
    rules: &CompatibilityRules,
) -> CompatibilityReport {
    let global = if target <= current {
        Some(Refusal::Downgrade {
            current: current.clone(),
            target: target.clone(),
        })
    } else if current.suffix() != target.suffix() {
        Some(Refusal::EditionChange {
            current: current.clone(),
            target: target.clone(),
        })
    } else {
        rules
            .upgrade_from
            .as_ref()
            .filter(|range| !range.contains(current))
            .map(|range| Refusal::OutsideRange {
                current: current.clone(),
                target: target.clone(),
                range: range.clone(),
            })
    };
    let verdicts = Mode::ALL
        .iter()
        .map(|&mode| {
            let refusal = global.clone().or_else(|| match mode {
                Mode::Full => None,
                Mode::Partial => rules
                    .partial_downtime_min
                    .as_ref()
                    .filter(|min| current < *min)
                    .map(|min| Refusal::BelowPartialMinimum {
                        current: current.clone(),
                        minimum: min.clone(),
                    }),
                Mode::Zero => {
                    let count = rules.zero_downtime_same_segments;
                    let n = usize::from(count);
                    (!current.same_prefix(target, n)).then(|| Refusal::SegmentsDiffer {
                        count,
                        current: current.prefix(n),
                        target: target.prefix(n),
                    })
                }
            });
            ModeVerdict { mode, refusal }
        })
        .collect();
    CompatibilityReport {
        current: current.clone(),
        target: target.clone(),
        verdicts,
    }
}

impl CompatibilityReport {
    /// The verdict of `mode`.
    pub fn verdict(&self, mode: Mode) -> &ModeVerdict {
        self.verdicts
            .iter()
            .find(|v| v.mode == mode)
            .unwrap_or(&self.verdicts[0])
    }

    /// The modes that may run.
    pub fn allowed_modes(&self) -> Vec<Mode> {
        self.verdicts
            .iter()
            .filter(|v| v.allowed())
            .map(|v| v.mode)
            .collect()
    }

    /// The mode offered first: zero downtime when allowed, else full downtime, else none
    /// (the seeds: "if zero-downtime is not supported, a downtime upgrade is selected").
    pub fn default_mode(&self) -> Option<Mode> {
        [Mode::Zero, Mode::Full]
            .into_iter()
            .find(|&m| self.verdict(m).allowed())
    }

    /// The mode that will run when `requested` is asked for. A zero-downtime request
    /// refused only because the leading segments differ falls back to full downtime, with
    /// a note saying why; every other refusal is returned as the error.
    pub fn select(&self, requested: Mode) -> Result<Selection, SelectionError> {
        let Some(refusal) = &self.verdict(requested).refusal else {
            return Ok(Selection {
                requested,
                mode: requested,
                note: None,
            });
        };
        if refusal.falls_back_to_full() && self.verdict(Mode::Full).allowed() {
            return Ok(Selection {
                requested,
                mode: Mode::Full,
                note: Some(format!("{refusal}: full downtime is selected instead")),
            });
        }
        Err(SelectionError {
            mode: requested,
            refusal: Box::new(refusal.clone()),
        })
    }
}
