//! The Airflow adapter as the engine's scheduler: connected lazily, connected again when
//! another major version answers (the upgrade replaces the server under it: 2.x `/api/v1`
//! before, 3.x `/api/v2` after) and after a failed call (it is stopped for a while in the
//! downtime modes).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use changeover_airflow::{AirflowAdapter, AirflowConfig};
use changeover_drivers::SchedulerAdapter;
use changeover_drivers::scheduler::{
    Environment, FailedInstance, Instance, RerunOutcome, SchedulerError, StatisticsQuery,
    StatisticsRow, TerminateOutcome, ToggleChange, Toggles,
};
use chrono::NaiveDate;
use tokio::sync::Mutex;

type Call<T> = Pin<Box<dyn Future<Output = Result<T, SchedulerError>> + Send>>;

/// An [`AirflowAdapter`] that (re)connects on demand.
pub struct LazyAirflow {
    config: AirflowConfig,
    current: Mutex<Option<Arc<AirflowAdapter>>>,
}

impl LazyAirflow {
    pub fn new(config: AirflowConfig) -> LazyAirflow {
        LazyAirflow {
            config,
            current: Mutex::new(None),
        }
    }

    /// The adapter, connected again when another major version now answers (2.x and 3.x
    /// have different APIs: a 2.x client would get 404s from 3.x, not errors).
    async fn adapter(&self) -> Result<Arc<AirflowAdapter>, SchedulerError> {
        let mut current = self.current.lock().await;
        if let Some(a) = current.as_ref() {
            match changeover_airflow::running_major(&self.config.base_url).await {
                Ok(major) if major == a.major() => return Ok(a.clone()),
                Ok(major) => {
                    tracing::info!(
                        from = a.major(),
                        to = major,
                        "Airflow major version changed; connecting again"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let a = Arc::new(AirflowAdapter::connect(self.config.clone()).await?);
        *current = Some(a.clone());
        Ok(a)
    }

    /// Runs `call` on the adapter; on failure connects again (the server may have been
    /// replaced by another version) and tries once more.
    async fn with<T>(
        &self,
        call: impl Fn(Arc<AirflowAdapter>) -> Call<T>,
    ) -> Result<T, SchedulerError> {
        let first = call(self.adapter().await?).await;
        match first {
            Ok(v) => Ok(v),
            Err(e) => {
                tracing::debug!(error = %e, "Airflow call failed; connecting again");
                *self.current.lock().await = None;
                match self.adapter().await {
                    Ok(a) => call(a).await,
                    Err(_) => Err(e),
                }
            }
        }
    }
}

#[async_trait]
impl SchedulerAdapter for LazyAirflow {
    fn describe(&self) -> String {
        format!("airflow {}", self.config.base_url)
    }

    async fn toggles(&self) -> Result<Vec<Toggles>, SchedulerError> {
        self.with(|a| Box::pin(async move { a.toggles().await }))
            .await
    }

    async fn set_toggles(
        &self,
        environment: Environment,
        change: ToggleChange,
    ) -> Result<Toggles, SchedulerError> {
        self.with(move |a| Box::pin(async move { a.set_toggles(environment, change).await }))
            .await
    }

    async fn running_instances(&self) -> Result<Vec<Instance>, SchedulerError> {
        self.with(|a| Box::pin(async move { a.running_instances().await }))
            .await
    }

    async fn terminate(&self, ids: &[String]) -> Result<TerminateOutcome, SchedulerError> {
        let ids = ids.to_vec();
        self.with(move |a| {
            let ids = ids.clone();
            Box::pin(async move { a.terminate(&ids).await })
        })
        .await
    }

    async fn rerun(
        &self,
        request_id: &str,
        ids: &[String],
    ) -> Result<RerunOutcome, SchedulerError> {
        let (request_id, ids) = (request_id.to_owned(), ids.to_vec());
        self.with(move |a| {
            let (request_id, ids) = (request_id.clone(), ids.clone());
            Box::pin(async move { a.rerun(&request_id, &ids).await })
        })
        .await
    }

    async fn statistics(
        &self,
        query: &StatisticsQuery,
    ) -> Result<Vec<StatisticsRow>, SchedulerError> {
        let query = query.clone();
        self.with(move |a| {
            let query = query.clone();
            Box::pin(async move { a.statistics(&query).await })
        })
        .await
    }

    async fn failed_today_succeeded_yesterday(
        &self,
        today: NaiveDate,
    ) -> Result<Vec<FailedInstance>, SchedulerError> {
        self.with(move |a| Box::pin(async move { a.failed_today_succeeded_yesterday(today).await }))
            .await
    }
}

/// The version the Airflow at `config` runs now.
pub async fn current_version(config: AirflowConfig) -> Result<String, SchedulerError> {
    Ok(AirflowAdapter::connect(config).await?.version().to_owned())
}
