//! A running sample platform at 1.0.0 (SQLite metadata, long-running workflows) and a
//! `changeover serve` API acting on it, with an admin, an operator and a viewer.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use changeover_drivers::{ContractClient, ProcessDriver, SchedulerAdapter};
use changeover_engine::adapter::store::{StoreLease, StoreRecords};
use changeover_engine::catalog::BundleVersions;
use changeover_engine::console::{Console, Versions};
use changeover_engine::settings::PlatformSettings;
use changeover_engine::upgrade::UpgradeRecord;
use changeover_server::api::Api;
use changeover_server::auth::Role;
use changeover_store::test_utils::TestLocation;
use changeover_store::{Engine, Store};

/// The directory of the sample platform's binaries (built once per test run).
fn bin_dir() -> PathBuf {
    crate::rolling::dataservice_bin()
        .parent()
        .expect("a bin dir")
        .to_owned()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The bundles of `bundles/sample/` by version.
pub fn bundle(version: &str) -> anyhow::Result<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bundles/sample")
        .join(format!("{version}.yaml"));
    Ok(std::fs::read(path)?)
}

pub struct Served {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    /// Bearer tokens by user name: `ada` (admin), `otto` (operator), `vera` (viewer).
    pub tokens: HashMap<&'static str, String>,
    pub versions: Arc<BundleVersions>,
    pub client: ContractClient,
    pub driver: Arc<ProcessDriver>,
    _location: TestLocation,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
        let _ = self.driver.kill_all();
    }
}

/// The engine's console over `store` as `changeover serve` builds it.
pub fn console(store: &Store, versions: Arc<BundleVersions>, holder: &str) -> Console {
    Console {
        store: Arc::new(StoreRecords(store.clone())),
        lease: Arc::new(StoreLease {
            store: store.clone(),
        }),
        settings: versions.settings.clone(),
        versions,
        holder: format!("{holder}-{}", std::process::id()),
        progress: false,
        json: false,
    }
}

impl Served {
    /// The API over a fresh store, acting on a sample platform not started yet (its
    /// workflows are in the metadata database; [`Served::start_platform`] starts 1.0.0).
    pub async fn new(workflows: usize, task_secs: u32) -> anyhow::Result<Served> {
        let bin_dir = bin_dir();
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir)?;
        let meta = dir.path().join("meta.db");
        let wal = Command::new("sqlite3")
            .arg(&meta)
            .arg("PRAGMA journal_mode=WAL;")
            .output()?;
        anyhow::ensure!(wal.status.success(), "sqlite3 failed");
        let metadb_url = format!("sqlite://{}?mode=rwc", meta.display());
        let ports: BTreeMap<String, u16> = [
            ("scheduler".to_owned(), free_port()?),
            ("dataservice".to_owned(), free_port()?),
        ]
        .into();
        let settings = PlatformSettings {
            bin_dir: bin_dir.clone(),
            data_dir,
            contract_url: format!("http://127.0.0.1:{}", ports["scheduler"]),
            metadb_url: Some(metadb_url.clone()),
        };
        for i in 0..workflows {
            let out = Command::new(bin_dir.join("sample-scheduler"))
                .args(["--db", &metadb_url, "workflow", "add", &format!("wf{i}")])
                .args(["--cron", "*/2 * * * * *", "--tenant", "t1"])
                .args(["--task", &format!("sleep {task_secs}")])
                .output()?;
            anyhow::ensure!(
                out.status.success(),
                "workflow add: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let location = TestLocation::new(Engine::Sqlite).await;
        let store = location.open().await;
        let mut tokens = HashMap::new();
        for (name, role) in [
            ("ada", Role::Admin),
            ("otto", Role::Operator),
            ("vera", Role::Viewer),
        ] {
            let token = crate::fixtures::user_with_token(&store, name, role, "test").await?;
            tokens.insert(name, token.expose().to_owned());
        }
        let versions = Arc::new(BundleVersions {
            platform: "sample".into(),
            settings: settings.clone(),
            bundles: Default::default(),
            store: Some(store.clone()),
            ports,
        });
        let console = console(&store, versions.clone(), "serve-test");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(Api::with_platform(store, console).serve(listener));
        Ok(Served {
            addr,
            http: reqwest::Client::builder().no_proxy().build()?,
            tokens,
            versions,
            client: ContractClient::new(&settings.contract_url)?,
            driver: Arc::new(ProcessDriver::open(settings.process_state_dir())?),
            _location: location,
            server,
            _dir: dir,
        })
    }

    /// Starts the platform's applications at `version` (its bundle must be uploaded) and
    /// waits until a workflow instance runs.
    pub async fn start_platform(&self, version: &str) -> anyhow::Result<()> {
        let resolved = self
            .versions
            .resolve(version)
            .await
            .map_err(anyhow::Error::msg)?;
        for app in &resolved.applications {
            self.driver.start(app).await?;
        }
        for _ in 0..120 {
            if self
                .client
                .running_instances()
                .await
                .map(|r| !r.is_empty())
                .unwrap_or(false)
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!("no workflow instance ran within 30 s")
    }

    /// The API's store, opened again.
    pub async fn store(&self) -> changeover_store::Store {
        self._location.open().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request as `user`.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.tokens[user])
    }

    /// Uploads `bundles/sample/VERSION.yaml` as the admin; returns the status and body.
    pub async fn upload(
        &self,
        version: &str,
        query: &str,
    ) -> anyhow::Result<(reqwest::StatusCode, serde_json::Value)> {
        let resp = self
            .request(
                reqwest::Method::POST,
                &format!("/api/v1/versions{query}"),
                "ada",
            )
            .header("content-type", "application/x-yaml")
            .body(bundle(version)?)
            .send()
            .await?;
        Ok((resp.status(), resp.json().await?))
    }

    /// The record `id` as the viewer sees it.
    pub async fn record(&self, id: &str) -> anyhow::Result<UpgradeRecord> {
        let resp = self
            .request(
                reqwest::Method::GET,
                &format!("/api/v1/upgrades/{id}"),
                "vera",
            )
            .send()
            .await?;
        anyhow::ensure!(resp.status() == 200, "GET record {id}: {}", resp.status());
        Ok(resp.json().await?)
    }

    /// Polls record `id` until `done` says so (at most `secs` seconds).
    pub async fn wait_for(
        &self,
        id: &str,
        secs: u64,
        done: impl Fn(&UpgradeRecord) -> bool,
    ) -> anyhow::Result<UpgradeRecord> {
        let mut last = None;
        for _ in 0..secs * 4 {
            let r = self.record(id).await?;
            if done(&r) {
                return Ok(r);
            }
            last = Some(r);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!(
            "record {id} did not get there within {secs} s:\n{}",
            last.map(|r| changeover_engine::view::status(&r))
                .unwrap_or_default()
        )
    }
}
