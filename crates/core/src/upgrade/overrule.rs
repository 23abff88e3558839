//! The operator overrules the verification verdict (design.md §5: "an automatic verdict
//! the operator can overrule"), and who did it, when and why is kept with the report.

use super::action::ActionError;
use super::record::{LogLevel, UpgradeRecord};
use super::step::{StepKind, StepPhase};
use super::time::Timestamp;
use super::verify::Overrule;

/// The longest reason kept: a sentence or a short paragraph, not a document.
pub const MAX_REASON_CHARS: usize = 2000;

/// The longest operator name kept.
pub const MAX_NAME_CHARS: usize = 200;

impl UpgradeRecord {
    /// The operator accepts a failed verification: the verify step is settled (skipped,
    /// risk accepted) and the report keeps who overruled it, when and why.
    ///
    /// Refused unless the current step is `verify` waiting for the operator after a failed
    /// verdict, and unless `by` and `reason` are given (trimmed, not empty, bounded).
    pub fn overrule_verification(
        &mut self,
        by: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), ActionError> {
        let (by, reason) = (by.trim(), reason.trim());
        if by.is_empty() || by.chars().count() > MAX_NAME_CHARS {
            return Err(ActionError::OverruleInput {
                what: "the operator's name",
                why: format!("give a name of 1 to {MAX_NAME_CHARS} characters"),
            });
        }
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(ActionError::OverruleInput {
                what: "the reason",
                why: format!(
                    "say in 1 to {MAX_REASON_CHARS} characters why the upgrade may be accepted"
                ),
            });
        }
        self.check_overrulable()?;
        self.settle_overruled(Some(by.to_owned()), Some(reason.to_owned()), now);
        Ok(())
    }

    /// Whether the current step is a failed verification the operator may overrule.
    fn check_overrulable(&self) -> Result<(), ActionError> {
        if self.status.is_final() {
            return Err(ActionError::Ended {
                id: self.id.clone(),
                status: self.status,
            });
        }
        let step = match self.current() {
            Some(step) if step.kind == StepKind::Verify && self.exit.is_none() => step,
            Some(step) => {
                return Err(ActionError::NotVerifying {
                    at: step.kind.as_str().to_owned(),
                });
            }
            None => {
                return Err(ActionError::NotVerifying {
                    at: "the end (every step is done)".to_owned(),
                });
            }
        };
        let failed = self.verification.as_ref().is_some_and(|r| !r.passed());
        if !matches!(step.phase, StepPhase::NeedsOperator { .. }) || !failed {
            return Err(ActionError::NothingToOverrule {
                phase: step.phase.label(),
            });
        }
        Ok(())
    }

    /// Marks the verify step settled with the overrule recorded in the report (also the
    /// path of `skip --accept-risk` on the verify step, which names no one and no reason).
    pub(super) fn settle_overruled(
        &mut self,
        by: Option<String>,
        reason: Option<String>,
        now: Timestamp,
    ) {
        if let Some(report) = self.verification.as_mut() {
            report.overrule = Some(Overrule {
                passed: true,
                by: by.clone(),
                reason: reason.clone(),
                at: now,
                overruled: report.verdict.reasons.clone(),
            });
        }
        if let Some(step) = self.current_mut()
            && step.kind == StepKind::Verify
        {
            step.phase = StepPhase::Skipped {
                risk_accepted: true,
            };
            step.finished_at = Some(now);
        }
        let message = match (&by, &reason) {
            (Some(by), Some(reason)) => {
                format!("verification verdict overruled by {by}: {reason}")
            }
            _ => "verification verdict overruled (skip --accept-risk, no reason given)".to_owned(),
        };
        self.note(LogLevel::Warn, Some(StepKind::Verify), message, now);
    }
}
