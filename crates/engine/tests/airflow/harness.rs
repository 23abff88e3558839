//! An Airflow deployment managed by changeover in a scratch directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use changeover_airflow::testkit::{self, Spec};
use changeover_airflow::{AirflowAdapter, AirflowConfig, Password};
use changeover_drivers::scheduler::Instance;
use changeover_drivers::{ProcessDriver, SchedulerAdapter};
use changeover_engine::adapter::store::{StoreLease, StoreRecords};
use changeover_engine::catalog::BundleVersions;
use changeover_engine::console::{Console, ModeArg, UpgradeCommand};
use changeover_engine::settings::PlatformSettings;
use changeover_engine::upgrade::UpgradeRecord;
use changeover_store::{Location, Store};

/// The port the bundles give the webserver / api-server.
pub const API_PORT: u16 = 28580;

/// One deployment at a time in this process (the bundles' ports are fixed); nextest also
/// runs these tests one at a time (`.config/nextest.toml`).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Deployment {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    pub dir: tempfile::TempDir,
    pub database: String,
    pub console: Console,
    pub driver: ProcessDriver,
    pub spec: Spec,
}

fn bundle_bytes(version: &str, database: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bundles/airflow")
        .join(format!("{version}.yaml"));
    let text = std::fs::read_to_string(&path)?;
    // This installation's database instead of the example's `airflow`.
    let text = text.replace("5432/airflow\"", &format!("5432/{database}\""));
    Ok((format!("{version}.yaml"), text.into_bytes()))
}

impl Deployment {
    /// Airflow `version` installed on a fresh database (migrated, admin user, test DAGs
    /// whose slow task sleeps `sleep_secs`) and started from its bundle by the process
    /// driver; returns once its API answers.
    pub async fn install(name: &str, version: &str, sleep_secs: u32) -> anyhow::Result<Self> {
        let turn = ONE_AT_A_TIME.lock().await;
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().join("platform");
        std::fs::create_dir_all(&data_dir)?;
        let database = format!("airflow_e2e_{name}_{}", std::process::id());
        testkit::create_database(&database)
            .await
            .map_err(anyhow::Error::msg)?;
        let mut spec = Spec::new(version, &data_dir, &database, API_PORT);
        spec.task_sleep_secs = sleep_secs;
        testkit::init(&spec).map_err(anyhow::Error::msg)?;
        // The 3.x simple auth manager's passwords file is part of the installation.
        std::fs::write(
            data_dir.join("home/passwords.json"),
            serde_json::json!({ &spec.username: &spec.password }).to_string(),
        )?;
        let settings = PlatformSettings {
            bin_dir: PathBuf::from("/usr/bin"),
            data_dir: data_dir.clone(),
            contract_url: changeover_engine::settings::DEFAULT_CONTRACT_URL.to_owned(),
            metadb_url: Some(format!("postgres://postgres@127.0.0.1:5432/{database}")),
        };
        let bundles = ["2.10.2", "2.11.2", "3.3.2"]
            .iter()
            .map(|v| bundle_bytes(v, &database))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let refs: Vec<(&str, &[u8])> = bundles
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let versions = BundleVersions::with_bundles("airflow", settings.clone(), &refs)
            .map_err(anyhow::Error::msg)?;
        let from = changeover_engine::console::Versions::resolve(&versions, version)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let driver = ProcessDriver::open(settings.process_state_dir())?;
        for app in &from.applications {
            driver
                .start(app)
                .await
                .map_err(|e| anyhow::anyhow!("starting {} {version}: {e}", app.name))?;
        }
        let store = Store::open(&Location::Sqlite(dir.path().join("store.db"))).await?;
        let console = Console {
            store: Arc::new(StoreRecords(store.clone())),
            lease: Arc::new(StoreLease {
                store: store.clone(),
            }),
            versions: Arc::new(versions),
            settings: settings.clone(),
            holder: format!("airflow-e2e-{name}"),
            progress: false,
            json: false,
        };
        Ok(Deployment {
            _turn: turn,
            dir,
            database,
            console,
            driver,
            spec,
        })
    }

    /// A fresh adapter on the deployment (its own state file: never the engine's).
    pub async fn adapter(&self) -> anyhow::Result<AirflowAdapter> {
        Ok(AirflowAdapter::connect(AirflowConfig {
            base_url: format!("http://127.0.0.1:{API_PORT}"),
            username: self.spec.username.clone(),
            password: Password::new(self.spec.password.clone()),
            state_file: self.dir.path().join("test-adapter.json"),
        })
        .await?)
    }

    /// Waits until a run of `changeover_long` is running its `slow` task.
    pub async fn running_long_run(&self, timeout: Duration) -> anyhow::Result<Instance> {
        let adapter = self.adapter().await?;
        let deadline = Instant::now() + timeout;
        loop {
            let list = adapter.running_instances().await?;
            if let Some(i) = list
                .iter()
                .find(|i| i.workflow == "changeover_long" && i.task == "slow")
            {
                return Ok(i.clone());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "no changeover_long run reached its slow task: {list:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Runs an upgrade to `to` in `mode` with every operator decision taken, and returns
    /// its record.
    pub async fn upgrade(&self, to: &str, mode: ModeArg) -> anyhow::Result<UpgradeRecord> {
        self.console
            .execute(UpgradeCommand::Start {
                to: to.into(),
                mode,
                estimated_completion: None,
                contact_email: Some("ops@example.com".into()),
                contact_phone: None,
                save_only: false,
                accept_risk: true,
                yes: true,
            })
            .await
            .map_err(|e| anyhow::anyhow!("upgrade to {to}: {e}"))?;
        self.latest().await
    }

    pub async fn latest(&self) -> anyhow::Result<UpgradeRecord> {
        let mut list = self
            .console
            .store
            .list()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(!list.is_empty(), "no upgrade record");
        Ok(list.remove(0))
    }

    /// The schema head in `alembic_version`.
    pub async fn alembic(&self) -> anyhow::Result<String> {
        testkit::alembic_version(&self.database)
            .await
            .map_err(anyhow::Error::msg)
    }

    pub async fn paused(&self) -> anyhow::Result<Vec<(String, bool)>> {
        testkit::paused_dags(&self.database)
            .await
            .map_err(anyhow::Error::msg)
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = self.driver.kill_all();
        let database = self.database.clone();
        // Best effort, on a runtime of its own: Drop may run outside one.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(testkit::drop_database(&database));
            }
        })
        .join();
    }
}
