//! A running sample platform at 1.0.0 (SQLite metadata, long-running workflows) and a
//! `changeover serve` API acting on it, with an admin, an operator and a viewer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use changeover_drivers::{ContractClient, ProcessDriver, SchedulerAdapter};
use changeover_engine::catalog::BundleVersions;
use changeover_engine::upgrade::UpgradeRecord;
use changeover_server::api::Api;
use changeover_server::auth::Role;
use changeover_store::Engine;
use changeover_store::test_utils::TestLocation;

use crate::sample::{PlatformDir, catalog_versions};
pub use crate::sample::{bundle, console};

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
    platform: PlatformDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
        let _ = self.driver.kill_all();
    }
}

impl Served {
    /// The API over a fresh store, acting on a sample platform not started yet (its
    /// workflows are in the metadata database; [`Served::start_platform`] starts 1.0.0).
    pub async fn new(workflows: usize, task_secs: u32) -> anyhow::Result<Served> {
        let tenants = vec!["t1"; workflows];
        let platform = PlatformDir::new(&tenants, task_secs)?;
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
        let versions = catalog_versions(&store, &platform, platform.ports.clone());
        let console = console(&store, versions.clone(), "serve-test");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(Api::with_platform(store, console).serve(listener));
        Ok(Served {
            addr,
            http: reqwest::Client::builder().no_proxy().build()?,
            tokens,
            versions,
            client: ContractClient::new(&platform.settings.contract_url)?,
            driver: Arc::new(platform.driver()?),
            _location: location,
            server,
            platform,
        })
    }

    /// Starts the platform's applications at `version` (its bundle must be uploaded) and
    /// waits until a workflow instance runs.
    pub async fn start_platform(&self, version: &str) -> anyhow::Result<()> {
        let client = &self.client;
        self.platform
            .start(&self.versions, version, &self.driver, async || {
                client
                    .running_instances()
                    .await
                    .is_ok_and(|r| !r.is_empty())
            })
            .await
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
