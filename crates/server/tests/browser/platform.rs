//! The real sample platform 1.0.0 for the console's end-to-end test: its binaries built
//! with the workspace's cargo, a SQLite metadata database, three cron workflows, and the
//! sample bundles rewritten to free ports (tests run side by side).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};
use changeover_drivers::{ContractClient, ProcessDriver};
use changeover_engine::catalog::BundleVersions;
use changeover_engine::console::Versions;
use changeover_engine::settings::PlatformSettings;

/// The sample bundles' fixed ports, replaced by free ones.
const SCHEDULER_PORT: &str = "18080";
const DATASERVICE_PORT: &str = "18081";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The sample platform's binaries, built once per test run.
fn bin_dir() -> anyhow::Result<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = repo_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "sample-platform", "--bins"])
            .current_dir(&root)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("building the sample platform failed".into());
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|d| if d.is_absolute() { d } else { root.join(d) })
            .unwrap_or_else(|| root.join("target"));
        let dir = target.join("debug");
        std::path::absolute(&dir).map_err(|e| format!("{}: {e}", dir.display()))
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A running sample platform 1.0.0; its processes are killed on drop.
pub struct SamplePlatform {
    pub settings: PlatformSettings,
    /// The bundles 1.0.0 and 1.1.0 on this platform's ports, ready to upload.
    pub bundles: Vec<PathBuf>,
    pub client: ContractClient,
    driver: ProcessDriver,
    _dir: tempfile::TempDir,
}

impl Drop for SamplePlatform {
    fn drop(&mut self) {
        let _ = self.driver.kill_all();
    }
}

impl SamplePlatform {
    /// Starts 1.0.0 with three workflows every 2 seconds (tasks sleep a second) and waits
    /// until its scheduler answers.
    pub async fn start() -> anyhow::Result<SamplePlatform> {
        let bin_dir = bin_dir()?;
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().join("platform");
        std::fs::create_dir_all(&data_dir)?;
        let metadb_url = format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("metadata.db").display()
        );
        let ports: std::collections::BTreeMap<String, u16> = [
            ("scheduler".to_owned(), free_port()?),
            ("dataservice".to_owned(), free_port()?),
        ]
        .into();
        let settings = PlatformSettings {
            bin_dir: bin_dir.clone(),
            data_dir: data_dir.clone(),
            contract_url: format!("http://127.0.0.1:{}", ports["scheduler"]),
            metadb_url: Some(metadb_url.clone()),
        };
        let bundle_dir = dir.path().join("bundles");
        std::fs::create_dir_all(&bundle_dir)?;
        let mut bundles = Vec::new();
        let mut files = Vec::new();
        for version in ["1.0.0", "1.1.0"] {
            let source = repo_root().join(format!("bundles/sample/{version}.yaml"));
            let text = std::fs::read_to_string(&source)
                .with_context(|| format!("reading {}", source.display()))?
                .replace(SCHEDULER_PORT, &ports["scheduler"].to_string())
                .replace(DATASERVICE_PORT, &ports["dataservice"].to_string());
            let path = bundle_dir.join(format!("{version}.yaml"));
            std::fs::write(&path, &text)?;
            files.push((format!("{version}.yaml"), text.into_bytes()));
            bundles.push(path);
        }
        for (i, tenant) in ["t1", "t2", "t1"].iter().enumerate() {
            let out = Command::new(bin_dir.join("sample-scheduler"))
                .args(["--db", &metadb_url, "workflow", "add", &format!("wf{i}")])
                .args(["--cron", "*/2 * * * * *", "--tenant", tenant])
                .args(["--task", "sleep 1"])
                .output()?;
            if !out.status.success() {
                bail!(
                    "sample-scheduler workflow add: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let versions = BundleVersions::with_bundles("sample", settings.clone(), &refs)
            .map_err(anyhow::Error::msg)?;
        let from = versions
            .resolve("1.0.0")
            .await
            .map_err(|e| anyhow::anyhow!("resolving 1.0.0: {e}"))?;
        let driver = ProcessDriver::open(settings.process_state_dir())?;
        let client = ContractClient::new(&settings.contract_url)?;
        let platform = SamplePlatform {
            settings,
            bundles,
            client,
            driver,
            _dir: dir,
        };
        for app in &from.applications {
            platform
                .driver
                .start(app)
                .await
                .with_context(|| format!("starting {}", app.name))?;
        }
        for _ in 0..200 {
            if let Ok(h) = platform.client.health().await
                && h.version == "1.0.0"
            {
                return Ok(platform);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the sample scheduler 1.0.0 never answered its health check")
    }
}
