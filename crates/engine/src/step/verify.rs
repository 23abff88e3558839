//! Verify: the scheduler's statistics judged by the bundle's rule (design.md §5).

use crate::driver::Engine;
use crate::error::EngineError;
use crate::upgrade::verify::{Report, days_before};
use crate::upgrade::{StepOutcome, UpgradeRecord};

pub(super) async fn run(e: &Engine, r: &mut UpgradeRecord) -> Result<StepOutcome, EngineError> {
    let report = match report(e).await {
        Ok(report) => report,
        Err(err) => {
            return Ok(StepOutcome::Failed(format!(
                "reading the scheduler's statistics failed: {err}; retry with `changeover upgrade retry`"
            )));
        }
    };
    let passed = report.passed();
    let reasons = report.verdict.reasons.join("; ");
    r.verification = Some(report);
    if passed {
        Ok(StepOutcome::Done)
    } else {
        Ok(StepOutcome::NeedsOperator(format!(
            "verification failed: {reasons}; overrule with `changeover upgrade skip --accept-risk`, or force-terminate and roll back"
        )))
    }
}

/// The verification report of today, as the scheduler reports it now.
pub(crate) async fn report(e: &Engine) -> Result<Report, crate::port::PortError> {
    let today = e.now().date();
    let stats = e
        .platform
        .scheduler
        .statistics(days_before(today, 8), today)
        .await?;
    let failed = e
        .platform
        .scheduler
        .failed_today_succeeded_yesterday(today)
        .await?;
    Ok(Report::new(today, &stats, failed, e.target.rule))
}
