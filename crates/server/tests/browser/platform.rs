//! The real sample platform 1.0.0 for the console's end-to-end test: its binaries built
//! with the workspace's cargo, a SQLite metadata database, three cron workflows, and the
//! sample bundles rewritten to free ports (tests run side by side).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use changeover_core::bundle;
use changeover_drivers::{ContractClient, ProcessDriver};
use changeover_engine::catalog::BundleVersions;
use changeover_engine::console::Console;
use changeover_store::Store;
use changeover_store::catalog::{Format, NewVersion};

use super::webdriver::Browser;
use crate::sample::{self, PlatformDir};

/// The sample bundles' fixed ports, replaced by free ones.
const SCHEDULER_PORT: &str = "18080";
const DATASERVICE_PORT: &str = "18081";

/// A running sample platform 1.0.0; its processes are killed on drop.
pub struct SamplePlatform {
    /// The bundles 1.0.0 and 1.1.0 on this platform's ports, ready to upload.
    pub bundles: Vec<PathBuf>,
    pub client: ContractClient,
    driver: ProcessDriver,
    dir: PlatformDir,
}

impl Drop for SamplePlatform {
    fn drop(&mut self) {
        let _ = self.driver.kill_all();
    }
}

impl SamplePlatform {
    /// Starts 1.0.0 with three workflows every 2 seconds whose task sleeps `task_secs`, and
    /// waits until its scheduler answers.
    pub async fn start(task_secs: u32) -> anyhow::Result<SamplePlatform> {
        let dir = PlatformDir::new(&["t1", "t2", "t1"], task_secs)?;
        let bundle_dir = dir.dir.path().join("bundles");
        std::fs::create_dir_all(&bundle_dir)?;
        let mut bundles = Vec::new();
        let mut files = Vec::new();
        for version in ["1.0.0", "1.1.0"] {
            let text = String::from_utf8(sample::bundle(version)?)?
                .replace(SCHEDULER_PORT, &dir.ports["scheduler"].to_string())
                .replace(DATASERVICE_PORT, &dir.ports["dataservice"].to_string());
            let path = bundle_dir.join(format!("{version}.yaml"));
            std::fs::write(&path, &text)?;
            files.push((format!("{version}.yaml"), text.into_bytes()));
            bundles.push(path);
        }
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let versions = BundleVersions::with_bundles("sample", dir.settings.clone(), &refs)
            .map_err(anyhow::Error::msg)?;
        let platform = SamplePlatform {
            bundles,
            client: ContractClient::new(&dir.settings.contract_url)?,
            driver: dir.driver()?,
            dir,
        };
        let client = &platform.client;
        platform
            .dir
            .start(&versions, "1.0.0", &platform.driver, async || {
                client.health().await.is_ok_and(|h| h.version == "1.0.0")
            })
            .await
            .context("the sample scheduler 1.0.0 never answered its health check")?;
        Ok(platform)
    }
}

impl SamplePlatform {
    /// Puts the bundle at `path` into `store`'s catalog, as `changeover version upload` does.
    pub async fn catalog(&self, store: &Store, path: &Path) -> anyhow::Result<()> {
        let bytes = std::fs::read(path)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let b = bundle::read(&bytes, &name).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let version = b.version().to_string();
        store
            .catalog()
            .put(&NewVersion {
                platform: "sample".into(),
                sort_key: sort_key(&version),
                version,
                file_name: name,
                format: Format::Yaml,
                content: bytes,
                template_md5: Some(b.template_md5()),
                manifest: serde_json::to_value(b.manifest())?,
            })
            .await?;
        Ok(())
    }

    /// `changeover serve` over `store` acting on this platform, on a free port of
    /// 127.0.0.1: its address and its task (abort it to stop the server).
    pub async fn serve(
        &self,
        store: &Store,
    ) -> anyhow::Result<(
        std::net::SocketAddr,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let api = changeover_server::api::Api::with_platform(store.clone(), self.console(store));
        Ok((addr, tokio::spawn(api.serve(listener))))
    }

    /// The engine's console over `store` for this platform (versions from the catalog).
    pub fn console(&self, store: &Store) -> Console {
        let versions = sample::catalog_versions(store, &self.dir, Default::default());
        sample::console(store, versions, "console-test")
    }
}

/// A sort key in version order for the sample versions (the form the CLI's upload uses).
fn sort_key(version: &str) -> String {
    let mut key = String::new();
    for i in 0..4 {
        let n: u64 = version
            .split('.')
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        key.push_str(&format!("{n:010}."));
    }
    key.push('0');
    key
}

/// Waits on the step page until step `kind` is shown and done, or needs the operator;
/// returns that phase. A failed step, or none of these within `guard`, is an error.
pub async fn wait_step(b: &Browser, kind: &str, guard: Duration) -> anyhow::Result<String> {
    let deadline = tokio::time::Instant::now() + guard;
    loop {
        let shown = b
            .eval(
                "const s = document.querySelector('#step'); return s ? [s.dataset.step, s.dataset.phase] : null;",
                vec![],
            )
            .await?;
        if let (Some(k), Some(p)) = (shown[0].as_str(), shown[1].as_str())
            && k == kind
        {
            match p {
                "done" | "skipped" | "needs_operator" => return Ok(p.to_owned()),
                "failed" => bail!(
                    "step {kind} failed: {}",
                    b.text("#step").await.unwrap_or_default()
                ),
                _ => {}
            }
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "step {kind} never settled; the page shows: {}",
                b.body_text().await.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
