//! Verification of outcomes (design.md §5, seed 000 "Verify the upgrade result"): pure maths
//! over the scheduler adapter's statistics.

use std::collections::BTreeMap;

use super::time::{Date, Timestamp};
use serde::{Deserialize, Serialize};

/// The environment whose instances are counted.
pub const PRODUCTION: &str = "prod";

/// One row of the scheduler's statistics: instances of a business date in a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCount {
    pub business_date: Date,
    pub status: String,
    pub tenant: String,
    pub count: u64,
}

/// An instance that succeeded yesterday and failed today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedInstance {
    pub instance_id: String,
    pub node_id: String,
    pub task_name: String,
    pub node_type: String,
    pub schedule_type: String,
    pub updated_at: String,
    pub status: String,
}

/// The most recent production instance count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecentCount {
    /// No instance generated for today's business date yet.
    Pending,
    Count {
        business_date: Date,
        count: u64,
    },
}

/// The 7-day average from T-8 to T-2, days without instances excluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Average {
    /// No instance at all in T-8..T-2.
    #[serde(rename = "NA")]
    Na,
    Value {
        per_day: f64,
        days: u32,
    },
}

/// The rule of the automatic verdict (the bundle's `verification` section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictRule {
    /// The recent count may differ from the 7-day average by at most this percent.
    pub max_count_deviation_pct: u32,
    /// How many instances may fail today that succeeded yesterday.
    pub allow_failed_today_succeeded_yesterday: u32,
}

impl Default for VerdictRule {
    /// 20 %: a normal day's workload varies; more than a fifth points at lost schedules.
    /// 0 failures: any task the upgrade broke is a failure to look at.
    fn default() -> Self {
        Self {
            max_count_deviation_pct: 20,
            allow_failed_today_succeeded_yesterday: 0,
        }
    }
}

/// The automatic verdict with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub passed: bool,
    /// Why it failed, and checks that could not be applied.
    pub reasons: Vec<String>,
}

/// The operator's decision over the automatic verdict: who, when and why
/// ([`UpgradeRecord::overrule_verification`](super::UpgradeRecord::overrule_verification)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrule {
    /// The verdict the operator set (today always `true`: the upgrade is accepted).
    pub passed: bool,
    /// Who overruled, as the interface knows the operator; `None` when overruled by
    /// `changeover upgrade skip --accept-risk`, which names no one.
    #[serde(default)]
    pub by: Option<String>,
    /// Why, in the operator's words; `None` when overruled by `skip --accept-risk`.
    #[serde(default)]
    pub reason: Option<String>,
    pub at: Timestamp,
    /// The automatic verdict's reasons that were overruled.
    #[serde(default)]
    pub overruled: Vec<String>,
}

/// Everything the verify step shows, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub today: Date,
    pub recent: RecentCount,
    pub average: Average,
    /// Status distribution of the business date T-1 (all tenants).
    pub distribution_date: Date,
    pub distribution: BTreeMap<String, u64>,
    pub failed_today_succeeded_yesterday: Vec<FailedInstance>,
    pub verdict: Verdict,
    pub overrule: Option<Overrule>,
}

impl Report {
    /// Builds the report from the adapter's rows (production rows of T-8..T).
    pub fn new(
        today: Date,
        stats: &[StatusCount],
        failed: Vec<FailedInstance>,
        rule: VerdictRule,
    ) -> Self {
        let recent = recent_count(stats, today);
        let average = seven_day_average(stats, today);
        let verdict = verdict(&recent, &average, failed.len(), rule);
        let distribution_date = days_before(today, 1);
        Self {
            today,
            distribution: distribution(stats, distribution_date, None),
            distribution_date,
            recent,
            average,
            failed_today_succeeded_yesterday: failed,
            verdict,
            overrule: None,
        }
    }

    /// Whether the upgrade passed verification, the operator's overrule winning.
    pub fn passed(&self) -> bool {
        self.overrule
            .as_ref()
            .map_or(self.verdict.passed, |o| o.passed)
    }
}

/// `date` minus `n` days (saturating at the calendar's start).
pub fn days_before(date: Date, n: u32) -> Date {
    date.days_before(n)
}

fn total_on(stats: &[StatusCount], date: Date) -> u64 {
    stats
        .iter()
        .filter(|s| s.business_date == date)
        .map(|s| s.count)
        .sum()
}

/// The count of today's business date, or `Pending` when none was generated yet.
pub fn recent_count(stats: &[StatusCount], today: Date) -> RecentCount {
    match total_on(stats, today) {
        0 => RecentCount::Pending,
        count => RecentCount::Count {
            business_date: today,
            count,
        },
    }
}

/// The average daily count of T-8..=T-2, days without instances excluded; `NA` when none.
pub fn seven_day_average(stats: &[StatusCount], today: Date) -> Average {
    let totals: Vec<u64> = (2..=8)
        .map(|n| total_on(stats, days_before(today, n)))
        .filter(|&c| c > 0)
        .collect();
    if totals.is_empty() {
        return Average::Na;
    }
    let days = u32::try_from(totals.len()).unwrap_or(u32::MAX);
    let sum: u64 = totals.iter().sum();
    Average::Value {
        per_day: sum as f64 / f64::from(days),
        days,
    }
}

/// Instances per status on `date`, for one tenant or all.
pub fn distribution(
    stats: &[StatusCount],
    date: Date,
    tenant: Option<&str>,
) -> BTreeMap<String, u64> {
    let mut by_status = BTreeMap::new();
    for s in stats
        .iter()
        .filter(|s| s.business_date == date && tenant.is_none_or(|t| s.tenant == t))
    {
        *by_status.entry(s.status.clone()).or_insert(0) += s.count;
    }
    by_status
}

/// Instances per status for each of the 7 days T-7..=T-1, oldest first.
pub fn last_seven_days(
    stats: &[StatusCount],
    today: Date,
    tenant: Option<&str>,
) -> Vec<(Date, BTreeMap<String, u64>)> {
    (1..=7)
        .rev()
        .map(|n| {
            let date = days_before(today, n);
            (date, distribution(stats, date, tenant))
        })
        .collect()
}

/// The automatic verdict: no more failed-today-succeeded-yesterday instances than allowed,
/// and the recent count within the allowed deviation of the average (checked only when
/// both are known; otherwise said in the reasons).
pub fn verdict(
    recent: &RecentCount,
    average: &Average,
    failed: usize,
    rule: VerdictRule,
) -> Verdict {
    let mut passed = true;
    let mut reasons = Vec::new();
    let allowed = rule.allow_failed_today_succeeded_yesterday as usize;
    if failed > allowed {
        passed = false;
        reasons.push(format!(
            "{failed} instance(s) failed today that succeeded yesterday (allowed: {allowed})"
        ));
    }
    match (recent, average) {
        (RecentCount::Count { count, .. }, Average::Value { per_day, .. }) => {
            let deviation = (*count as f64 - per_day).abs() / per_day * 100.0;
            if deviation > f64::from(rule.max_count_deviation_pct) {
                passed = false;
                reasons.push(format!(
                    "today's instance count {count} deviates {deviation:.1}% from the 7-day average {per_day:.1} (allowed: {}%)",
                    rule.max_count_deviation_pct
                ));
            }
        }
        (RecentCount::Pending, _) => {
            reasons.push("today's instances are pending: count not compared".to_owned());
        }
        (_, Average::Na) => {
            reasons.push("no instance in T-8..T-2 (NA): count not compared".to_owned());
        }
    }
    Verdict { passed, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn row(date: &str, status: &str, tenant: &str, count: u64) -> StatusCount {
        StatusCount {
            business_date: day(date),
            status: status.into(),
            tenant: tenant.into(),
            count,
        }
    }

    const TODAY: &str = "2026-11-23";

    #[test]
    fn recent_count_is_pending_without_instances_today() {
        let stats = [row("2026-11-22", "succeeded", "t1", 10)];
        assert_eq!(recent_count(&stats, day(TODAY)), RecentCount::Pending);
    }

    #[test]
    fn recent_count_sums_statuses_and_tenants_of_today() {
        let stats = [
            row(TODAY, "succeeded", "t1", 10),
            row(TODAY, "failed", "t2", 2),
            row("2026-11-22", "succeeded", "t1", 99),
        ];
        assert_eq!(
            recent_count(&stats, day(TODAY)),
            RecentCount::Count {
                business_date: day(TODAY),
                count: 12
            }
        );
    }

    #[test]
    fn average_covers_t8_to_t2_and_excludes_empty_days() {
        let stats = [
            row("2026-11-15", "succeeded", "t1", 10),   // T-8: in
            row("2026-11-16", "succeeded", "t1", 20),   // T-7: in
            row("2026-11-21", "succeeded", "t1", 25),   // T-2: in
            row("2026-11-21", "failed", "t2", 5),       // T-2 second status
            row("2026-11-14", "succeeded", "t1", 1000), // T-9: out
            row("2026-11-22", "succeeded", "t1", 1000), // T-1: out
            row(TODAY, "succeeded", "t1", 1000),        // T: out
        ];
        // days with instances: 10, 20, 30 -> 20 per day over 3 days (4 empty days excluded)
        assert_eq!(
            seven_day_average(&stats, day(TODAY)),
            Average::Value {
                per_day: 20.0,
                days: 3
            }
        );
    }

    #[test]
    fn average_is_na_without_instances() {
        let stats = [row("2026-11-22", "succeeded", "t1", 5)];
        assert_eq!(seven_day_average(&stats, day(TODAY)), Average::Na);
        assert_eq!(seven_day_average(&[], day(TODAY)), Average::Na);
    }

    #[test]
    fn distribution_filters_date_and_tenant() {
        let stats = [
            row("2026-11-22", "succeeded", "t1", 3),
            row("2026-11-22", "failed", "t1", 1),
            row("2026-11-22", "succeeded", "t2", 4),
            row(TODAY, "succeeded", "t1", 9),
        ];
        let all = distribution(&stats, day("2026-11-22"), None);
        assert_eq!(all.get("succeeded"), Some(&7));
        assert_eq!(all.get("failed"), Some(&1));
        let t2 = distribution(&stats, day("2026-11-22"), Some("t2"));
        assert_eq!(t2.len(), 1);
        assert_eq!(t2.get("succeeded"), Some(&4));
        let week = last_seven_days(&stats, day(TODAY), None);
        assert_eq!(week.len(), 7);
        assert_eq!(week[0].0, day("2026-11-16"));
        assert_eq!(week[6].0, day("2026-11-22"));
        assert_eq!(week[6].1.get("succeeded"), Some(&7));
    }

    #[test]
    fn verdict_passes_within_the_rule() {
        let recent = RecentCount::Count {
            business_date: day(TODAY),
            count: 120,
        };
        let average = Average::Value {
            per_day: 100.0,
            days: 7,
        };
        let v = verdict(&recent, &average, 0, VerdictRule::default());
        assert!(v.passed, "{v:?}");
        assert!(v.reasons.is_empty());
    }

    #[test]
    fn verdict_fails_beyond_the_deviation() {
        let recent = RecentCount::Count {
            business_date: day(TODAY),
            count: 79,
        };
        let average = Average::Value {
            per_day: 100.0,
            days: 7,
        };
        let v = verdict(&recent, &average, 0, VerdictRule::default());
        assert!(!v.passed);
        assert_eq!(
            v.reasons,
            [
                "today's instance count 79 deviates 21.0% from the 7-day average 100.0 (allowed: 20%)"
            ]
        );
    }

    #[test]
    fn verdict_fails_on_failed_today_succeeded_yesterday() {
        let rule = VerdictRule {
            max_count_deviation_pct: 20,
            allow_failed_today_succeeded_yesterday: 1,
        };
        let v = verdict(&RecentCount::Pending, &Average::Na, 2, rule);
        assert!(!v.passed);
        assert_eq!(
            v.reasons[0],
            "2 instance(s) failed today that succeeded yesterday (allowed: 1)"
        );
        assert!(verdict(&RecentCount::Pending, &Average::Na, 1, rule).passed);
    }

    #[test]
    fn verdict_says_when_the_count_cannot_be_compared() {
        let v = verdict(
            &RecentCount::Pending,
            &Average::Na,
            0,
            VerdictRule::default(),
        );
        assert!(v.passed);
        assert_eq!(
            v.reasons,
            ["today's instances are pending: count not compared"]
        );
        let recent = RecentCount::Count {
            business_date: day(TODAY),
            count: 5,
        };
        let v = verdict(&recent, &Average::Na, 0, VerdictRule::default());
        assert_eq!(
            v.reasons,
            ["no instance in T-8..T-2 (NA): count not compared"]
        );
    }

    #[test]
    fn operator_overrules_the_verdict() {
        let failed = FailedInstance {
            instance_id: "i-1".into(),
            node_id: "n-1".into(),
            task_name: "load".into(),
            node_type: "SHELL".into(),
            schedule_type: "scheduled".into(),
            updated_at: "2026-11-23T10:00:00Z".into(),
            status: "failed".into(),
        };
        let mut report = Report::new(day(TODAY), &[], vec![failed], VerdictRule::default());
        assert!(!report.passed());
        assert_eq!(report.distribution_date, day("2026-11-22"));
        report.overrule = Some(Overrule {
            passed: true,
            by: Some("alice".into()),
            reason: Some("load failed on a source outage, not the upgrade".into()),
            at: Timestamp::from_unix_millis(0),
            overruled: report.verdict.reasons.clone(),
        });
        assert!(report.passed());
    }
}
