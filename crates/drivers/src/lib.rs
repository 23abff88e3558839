//! How changeover reaches a running platform.
//!
//! Two drivers live here, each behind a small API the upgrade engine calls:
//!
//! - [`scheduler`]: the [`SchedulerAdapter`] trait (toggles, running instances, terminate,
//!   re-run, statistics, failed-today-succeeded-yesterday) and [`ContractClient`], its
//!   implementation over the changeover scheduler contract (HTTP/JSON).
//! - [`process`]: the local process supervisor — start, stop, health-check, restart,
//!   stack dump and log tail of applications, `recreate` and `rolling` upgrades with a
//!   routing table a gateway follows, and re-adoption of running applications after
//!   changeover itself restarts.
//!
//! **Invariant:** no type here names one platform (DolphinScheduler, Airflow, the sample
//! platform); platform details stay inside an adapter implementation.

pub mod process;
pub mod scheduler;

pub use process::{
    AppSpec, AppStatus, HealthCheck, InstanceInfo, ProcessDriver, ProcessError, ProcessState,
    RolloutPhase, RolloutReport, RoutingTable, Strategy,
};
pub use scheduler::{ContractClient, SchedulerAdapter, SchedulerError};
