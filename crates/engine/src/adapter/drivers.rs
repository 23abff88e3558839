//! [`Scheduler`] over a `changeover-drivers` [`SchedulerAdapter`], [`Applications`] over its
//! [`ProcessDriver`].

use std::sync::Arc;

use async_trait::async_trait;
use changeover_drivers::scheduler::{Environment, StatisticsQuery, ToggleChange};
use changeover_drivers::{AppSpec, ProcessDriver, ProcessState, SchedulerAdapter, Strategy};
use chrono::NaiveDate;

use crate::upgrade::{Date, Timestamp};

use crate::port::{Applications, Instance, PortError, Rerun, Scheduler, Terminated};
use crate::upgrade::ToggleState;
use crate::upgrade::verify::{FailedInstance, StatusCount};

/// The scheduler through its adapter.
pub struct SchedulerPort(pub Arc<dyn SchedulerAdapter>);

fn environment(name: &str) -> Result<Environment, PortError> {
    match name {
        "dev" => Ok(Environment::Dev),
        "prod" => Ok(Environment::Prod),
        other => Err(format!("unknown environment `{other}`: expected dev or prod").into()),
    }
}

fn naive(d: Date) -> Result<NaiveDate, PortError> {
    let (y, m, day) = d.ymd();
    NaiveDate::from_ymd_opt(y, m, day).ok_or_else(|| format!("date {d} out of range").into())
}

fn date(d: NaiveDate) -> Date {
    use chrono::Datelike;
    Date::from_ymd(d.year(), d.month(), d.day()).expect("a valid chrono date is a valid date")
}

fn label<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[async_trait]
impl Scheduler for SchedulerPort {
    async fn toggles(&self) -> Result<Vec<ToggleState>, PortError> {
        Ok(self
            .0
            .toggles()
            .await?
            .into_iter()
            .map(|t| ToggleState {
                environment: t.environment.as_str().to_owned(),
                scheduling: t.scheduling,
                execution: t.execution,
            })
            .collect())
    }

    async fn set_toggles(
        &self,
        env: &str,
        scheduling: Option<bool>,
        execution: Option<bool>,
    ) -> Result<(), PortError> {
        self.0
            .set_toggles(
                environment(env)?,
                ToggleChange {
                    scheduling,
                    execution,
                },
            )
            .await?;
        Ok(())
    }

    async fn running(&self) -> Result<Vec<Instance>, PortError> {
        Ok(self
            .0
            .running_instances()
            .await?
            .into_iter()
            .map(|i| Instance {
                id: i.id,
                workflow: i.workflow,
                task: i.task,
            })
            .collect())
    }

    async fn terminate(&self, ids: &[String]) -> Result<Terminated, PortError> {
        let t = self.0.terminate(ids).await?;
        Ok(Terminated {
            terminated: t.terminated,
            already_finished: t.already_finished,
            not_found: t.not_found,
        })
    }

    async fn rerun(&self, request_id: &str, ids: &[String]) -> Result<Rerun, PortError> {
        let r = self.0.rerun(request_id, ids).await?;
        Ok(Rerun {
            rerun: r.rerun.into_iter().map(|r| (r.id, r.new_id)).collect(),
            skipped: r.skipped.into_iter().map(|s| (s.id, s.reason)).collect(),
        })
    }

    async fn statistics(&self, from: Date, to: Date) -> Result<Vec<StatusCount>, PortError> {
        let rows = self
            .0
            .statistics(&StatisticsQuery {
                from: naive(from)?,
                to: naive(to)?,
                tenant: None,
                environment: Some(Environment::Prod),
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| StatusCount {
                business_date: date(r.business_date),
                status: label(&r.status),
                tenant: r.tenant,
                count: r.count,
            })
            .collect())
    }

    async fn failed_today_succeeded_yesterday(
        &self,
        today: Date,
    ) -> Result<Vec<FailedInstance>, PortError> {
        Ok(self
            .0
            .failed_today_succeeded_yesterday(naive(today)?)
            .await?
            .into_iter()
            .map(|f| FailedInstance {
                instance_id: f.instance_id,
                node_id: f.node_id,
                task_name: f.task_name,
                node_type: f.node_type,
                schedule_type: label(&f.schedule_type),
                updated_at: f
                    .updated_at
                    .map(|t| Timestamp::from_unix_millis(t.timestamp_millis()).to_string())
                    .unwrap_or_default(),
                status: label(&f.status),
            })
            .collect())
    }
}

/// The applications run by the process driver, with the resolved specs of the current
/// (`from`) and target (`to`) versions.
pub struct Processes {
    pub driver: Arc<ProcessDriver>,
    pub from: Vec<AppSpec>,
    pub to: Vec<AppSpec>,
}

impl Processes {
    fn spec(&self, app: &str, version: &str) -> Result<AppSpec, PortError> {
        self.from
            .iter()
            .chain(&self.to)
            .find(|s| s.name == app && s.version == version)
            .cloned()
            .ok_or_else(|| {
                format!("no application `{app}` at version {version} in the bundles").into()
            })
    }
}

#[async_trait]
impl Applications for Processes {
    async fn prepare(&self, app: &str, version: &str) -> Result<(), PortError> {
        let spec = self.spec(app, version)?;
        spec.validate()?;
        let program = spec.command.first().ok_or("empty command")?;
        if program.contains('/') && !std::path::Path::new(program).is_file() {
            return Err(format!("the program of `{app}` {version} is missing: {program}").into());
        }
        Ok(())
    }

    async fn running_version(&self, app: &str) -> Result<Option<String>, PortError> {
        let status = self.driver.status(app).await?;
        Ok(match (status.state, status.instance, status.rollout) {
            (ProcessState::Healthy, Some(instance), None) => Some(instance.version),
            _ => None,
        })
    }

    async fn stop(&self, app: &str) -> Result<(), PortError> {
        self.driver.stop(app).await?;
        Ok(())
    }

    async fn start(&self, app: &str, version: &str, rolling: bool) -> Result<(), PortError> {
        let mut spec = self.spec(app, version)?;
        spec.strategy = if rolling {
            Strategy::Rolling
        } else {
            Strategy::Recreate
        };
        let report = self.driver.upgrade(&spec).await?;
        if !report.completed {
            return Err(format!(
                "the rollout of `{app}` to {version} stopped at {:?}",
                report.phase
            )
            .into());
        }
        Ok(())
    }
}
