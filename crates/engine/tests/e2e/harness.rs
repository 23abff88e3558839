//! A running sample platform at 1.0.0 with long-running workflows, a store, and a console.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use changeover_drivers::scheduler::{InstanceStatus, StatisticsQuery};
use changeover_drivers::{ContractClient, ProcessDriver, SchedulerAdapter};
use changeover_engine::adapter::store::{StoreLease, StoreRecords};
use changeover_engine::catalog::BundleVersions;
use changeover_engine::console::{Console, Versions};
use changeover_engine::settings::PlatformSettings;
use changeover_store::{Location, Store};

use crate::adapters::db::TestDb;

/// Builds the sample platform's binaries once; returns their directory.
pub fn sample_bin_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "sample-platform",
                    "--bins",
                    "--manifest-path",
                ])
                .arg(root.join("Cargo.toml"))
                .status()
                .expect("run cargo");
            assert!(status.success(), "building the sample platform failed");
            let exe = std::env::current_exe().unwrap();
            exe.parent().and_then(Path::parent).unwrap().to_owned()
        })
        .clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Platform {
    /// Held until the test ends: the database and the files are removed on drop.
    pub db: TestDb,
    _dir: tempfile::TempDir,
    pub settings: PlatformSettings,
    pub driver: Arc<ProcessDriver>,
    pub client: ContractClient,
    pub console: Console,
    /// The ports the applications listen on, by application name.
    pub ports: std::collections::BTreeMap<String, u16>,
}

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = self.driver.kill_all();
    }
}

/// The sample bundles 1.0.0, 1.0.1 and 1.1.0 of `tests/fixtures/sample`; `target` (a
/// folder of `tests/fixtures`) replaces 1.1.0 when given.
pub fn bundles(target: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    ["1.0.0", "1.0.1", "1.1.0"]
        .iter()
        .map(|v| {
            let name = format!("{v}.yaml");
            let dir = match target {
                Some(t) if *v == "1.1.0" => fixtures.join(t),
                _ => fixtures.join("sample"),
            };
            (
                name.clone(),
                std::fs::read(dir.join(&name)).expect("sample bundle"),
            )
        })
        .collect()
}

impl Platform {
    /// Starts the sample platform 1.0.0 on `db` with `workflows` workflows whose tasks
    /// sleep `task_secs`, and waits until an instance runs.
    pub async fn start(db: TestDb, workflows: usize, task_secs: u32) -> Self {
        Self::start_with(db, workflows, task_secs, bundles(None)).await
    }

    /// [`Platform::start`] with the given bundles.
    pub async fn start_with(
        db: TestDb,
        workflows: usize,
        task_secs: u32,
        files: Vec<(String, Vec<u8>)>,
    ) -> Self {
        let bin_dir = sample_bin_dir();
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).unwrap();
        let metadb_url = if db.postgres.is_some() || db.mariadb.is_some() {
            db.url.clone()
        } else {
            format!("{}?mode=rwc", db.url)
        };
        let ports: std::collections::BTreeMap<String, u16> = [
            ("scheduler".to_owned(), free_port()),
            ("dataservice".to_owned(), free_port()),
        ]
        .into();
        let settings = PlatformSettings {
            bin_dir: bin_dir.clone(),
            data_dir: data_dir.clone(),
            contract_url: format!("http://127.0.0.1:{}", ports["scheduler"]),
            metadb_url: Some(metadb_url.clone()),
        };
        for i in 0..workflows {
            let out = Command::new(bin_dir.join("sample-scheduler"))
                .args([
                    "--db",
                    &metadb_url,
                    "workflow",
                    "add",
                    &format!("wf{i}"),
                    "--cron",
                    "*/2 * * * * *",
                ])
                .args(["--tenant", if i % 2 == 0 { "t1" } else { "t2" }])
                .args(["--task", &format!("sleep {task_secs}")])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "workflow add: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let store = Store::open(&Location::Sqlite(dir.path().join("store.db")))
            .await
            .unwrap();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let mut versions = BundleVersions::with_bundles("sample", settings.clone(), &refs).unwrap();
        versions.ports = ports.clone();
        let from = versions.resolve("1.0.0").await.unwrap();
        let driver = Arc::new(ProcessDriver::open(settings.process_state_dir()).unwrap());
        for app in &from.applications {
            driver
                .start(app)
                .await
                .unwrap_or_else(|e| panic!("start {}: {e}", app.name));
        }
        let client = ContractClient::new(&settings.contract_url).unwrap();
        let console = Console {
            store: Arc::new(StoreRecords(store.clone())),
            lease: Arc::new(StoreLease {
                store: store.clone(),
            }),
            versions: Arc::new(versions),
            settings: settings.clone(),
            holder: format!("test-{}", std::process::id()),
            progress: false,
            json: false,
        };
        let p = Platform {
            db,
            _dir: dir,
            settings,
            driver,
            client,
            console,
            ports,
        };
        if workflows > 0 {
            p.wait_running(1).await;
        }
        p
    }

    /// The directory of the platform's files and the store (`store.db`).
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub async fn wait_running(&self, at_least: usize) {
        for _ in 0..120 {
            if self
                .client
                .running_instances()
                .await
                .map(|r| r.len())
                .unwrap_or(0)
                >= at_least
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("no instance ran within 30 s");
    }

    /// Instances of today by status (prod).
    pub async fn count(&self, status: InstanceStatus) -> u64 {
        let today = chrono::Utc::now().date_naive();
        self.client
            .statistics(&StatisticsQuery {
                from: today.pred_opt().unwrap(),
                to: today,
                tenant: None,
                environment: None,
            })
            .await
            .unwrap()
            .iter()
            .filter(|r| r.status == status)
            .map(|r| r.count)
            .sum()
    }
}
