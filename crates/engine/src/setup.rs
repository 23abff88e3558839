//! Assembles an [`Engine`] for one upgrade from the resolved current and target versions
//! and the platform's runtime settings: the contract client, the process driver, the
//! metadb adapter, the hooks.

use std::sync::Arc;
use std::time::Duration;

use changeover_drivers::{ContractClient, ProcessDriver, Strategy};
use changeover_metadb::DataUpdateTask;

use crate::adapter::drivers::{Processes, SchedulerPort};
use crate::adapter::hooks::{BundleHooks, HookSpec};
use crate::adapter::metadb::{DatabaseSpec, Metadb};
use crate::driver::{Engine, Platform};
use crate::port::Records;
use crate::settings::PlatformSettings;
use crate::target::{AppSpec, Target, TaskSpec};
use crate::upgrade::verify::VerdictRule;

/// Longest wait between two runs of a waiting step on a real platform.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// One version of the platform, resolved from its bundle (placeholders expanded).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub version: String,
    pub applications: Vec<changeover_drivers::AppSpec>,
    pub databases: Vec<DatabaseSpec>,
    pub data_updates: Vec<DataUpdateTask>,
    pub before_hooks: Vec<HookSpec>,
    pub after_hooks: Vec<HookSpec>,
    pub rule: VerdictRule,
    /// Which adapter drives the scheduler of this version.
    pub scheduler: SchedulerSpec,
}

/// The scheduler adapter a version declares (`scheduler:` in its bundle).
#[derive(Debug, Clone, Default)]
pub enum SchedulerSpec {
    /// The changeover contract at the settings' `contract_url`.
    #[default]
    Contract,
    /// Apache Airflow's REST API.
    Airflow {
        url: String,
        username: String,
        password: changeover_airflow::Password,
    },
}

impl SchedulerSpec {
    /// The scheduler adapter for `settings`.
    pub fn adapter(
        &self,
        settings: &PlatformSettings,
    ) -> Result<Arc<dyn changeover_drivers::SchedulerAdapter>, String> {
        Ok(match self {
            SchedulerSpec::Contract => {
                Arc::new(ContractClient::new(&settings.contract_url).map_err(|e| e.to_string())?)
            }
            SchedulerSpec::Airflow {
                url,
                username,
                password,
            } => Arc::new(crate::adapter::airflow::LazyAirflow::new(
                self.airflow_config(settings, url, username, password),
            )),
        })
    }

    fn airflow_config(
        &self,
        settings: &PlatformSettings,
        url: &str,
        username: &str,
        password: &changeover_airflow::Password,
    ) -> changeover_airflow::AirflowConfig {
        changeover_airflow::AirflowConfig {
            base_url: url.to_owned(),
            username: username.to_owned(),
            password: password.clone(),
            state_file: settings.data_dir.join("airflow-adapter.json"),
        }
    }

    /// The version the platform's scheduler reports now.
    pub async fn current_version(&self, settings: &PlatformSettings) -> Result<String, String> {
        match self {
            SchedulerSpec::Contract => {
                let client =
                    ContractClient::new(&settings.contract_url).map_err(|e| e.to_string())?;
                Ok(client.health().await.map_err(|e| e.to_string())?.version)
            }
            SchedulerSpec::Airflow {
                url,
                username,
                password,
            } => crate::adapter::airflow::current_version(
                self.airflow_config(settings, url, username, password),
            )
            .await
            .map_err(|e| e.to_string()),
        }
    }
}

impl Resolved {
    /// What the engine's steps need to know of this version.
    pub fn target(&self) -> Target {
        Target {
            applications: self
                .applications
                .iter()
                .map(|a| AppSpec {
                    name: a.name.clone(),
                    always_on: a.always_on,
                    rolling: a.strategy == Strategy::Rolling,
                })
                .collect(),
            previous_applications: Vec::new(),
            databases: self.databases.iter().map(|d| d.name.clone()).collect(),
            data_updates: self
                .data_updates
                .iter()
                .map(|t| TaskSpec {
                    name: t.name.clone(),
                    blocking: t.blocking,
                    skippable: t.skippable,
                    manual_start: t.manual_start,
                })
                .collect(),
            before_hooks: self.before_hooks.iter().map(|h| h.name.clone()).collect(),
            after_hooks: self.after_hooks.iter().map(|h| h.name.clone()).collect(),
            rule: self.rule,
        }
    }
}

/// The engine that upgrades the platform from `from` to `to`.
pub fn engine(
    settings: &PlatformSettings,
    from: &Resolved,
    to: &Resolved,
    records: Arc<dyn Records>,
) -> Result<Engine, String> {
    settings.validate()?;
    let scheduler = to.scheduler.adapter(settings)?;
    let driver = ProcessDriver::open(settings.process_state_dir()).map_err(|e| e.to_string())?;
    let applications = Processes {
        driver: Arc::new(driver),
        from: from.applications.clone(),
        to: to.applications.clone(),
    };
    let databases = Metadb::new(
        &settings.data_dir,
        to.databases.clone(),
        to.data_updates.clone(),
    )
    .map_err(|e| e.to_string())?;
    let hooks = BundleHooks::new(
        to.before_hooks
            .iter()
            .chain(&to.after_hooks)
            .cloned()
            .collect(),
    );
    Ok(Engine {
        platform: Platform {
            scheduler: Arc::new(SchedulerPort(scheduler)),
            applications: Arc::new(applications),
            databases: Arc::new(databases),
            hooks: Arc::new(hooks),
        },
        target: Target {
            previous_applications: from.target().applications,
            ..to.target()
        },
        records,
        requests: std::sync::Arc::new(crate::port::NoRequests),
        max_wait: MAX_WAIT,
        background: Default::default(),
    })
}
