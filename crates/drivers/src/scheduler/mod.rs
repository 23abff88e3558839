//! The scheduler adapter: what changeover needs from any workflow scheduler.
//!
//! # Guarantees (of every implementation)
//! - `terminate` is idempotent: terminating a finished instance reports it in
//!   `already_finished`, never fails the whole call.
//! - `rerun` with the same `request_id` returns the same answer and starts nothing new, so
//!   a step that crashed after sending it may send it again.
//!
//! # Assumptions
//! - Instance ids are stable strings chosen by the platform.

mod contract;
mod error;
mod model;

pub use contract::{ContractClient, PlatformHealth};
pub use error::SchedulerError;
pub use model::{
    Environment, FailedInstance, Instance, InstanceStatus, Rerun, RerunOutcome, RerunSkipped,
    ScheduleType, StatisticsQuery, StatisticsRow, TerminateOutcome, ToggleChange, Toggles,
};

use async_trait::async_trait;
use chrono::NaiveDate;

/// One workflow scheduler, as the upgrade engine sees it.
///
/// Dyn-compatible: the engine keeps an `Arc<dyn SchedulerAdapter>`.
#[async_trait]
pub trait SchedulerAdapter: Send + Sync {
    /// A short name for logs and messages, e.g. `contract http://127.0.0.1:8080`.
    fn describe(&self) -> String;

    /// The scheduling and execution toggles of every environment.
    async fn toggles(&self) -> Result<Vec<Toggles>, SchedulerError>;

    /// Changes the toggles of one environment; fields left `None` keep their value.
    async fn set_toggles(
        &self,
        environment: Environment,
        change: ToggleChange,
    ) -> Result<Toggles, SchedulerError>;

    /// Instances currently running (dispatched and not finished).
    async fn running_instances(&self) -> Result<Vec<Instance>, SchedulerError>;

    /// Force-terminates instances; idempotent.
    async fn terminate(&self, ids: &[String]) -> Result<TerminateOutcome, SchedulerError>;

    /// Re-runs instances once per `request_id`; idempotent for the same request id.
    async fn rerun(&self, request_id: &str, ids: &[String])
    -> Result<RerunOutcome, SchedulerError>;

    /// Instance counts by business date, status and tenant.
    async fn statistics(
        &self,
        query: &StatisticsQuery,
    ) -> Result<Vec<StatisticsRow>, SchedulerError>;

    /// Instances that failed on `today` whose task succeeded the day before.
    async fn failed_today_succeeded_yesterday(
        &self,
        today: NaiveDate,
    ) -> Result<Vec<FailedInstance>, SchedulerError>;
}
