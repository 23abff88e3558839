//! The real sample platform 1.0.0 for the console's end-to-end test: its binaries built
//! with the workspace's cargo, a SQLite metadata database, three cron workflows, and the
//! sample bundles rewritten to free ports (tests run side by side).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use std::sync::Arc;

use anyhow::{Context, bail};
use changeover_core::bundle;
use changeover_drivers::{ContractClient, ProcessDriver};
use changeover_engine::adapter::store::{StoreLease, StoreRecords};
use changeover_engine::catalog::BundleVersions;
use changeover_engine::console::{Console, Versions};
use changeover_engine::settings::PlatformSettings;
use changeover_store::Store;
use changeover_store::catalog::{Format, NewVersion};

use super::webdriver::Browser;

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
    /// Starts 1.0.0 with three workflows every 2 seconds whose task sleeps `task_secs`, and
    /// waits until its scheduler answers.
    pub async fn start(task_secs: u32) -> anyhow::Result<SamplePlatform> {
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
                .args(["--task", &format!("sleep {task_secs}")])
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

    /// The engine's console over `store` for this platform (versions from the catalog).
    pub fn console(&self, store: &Store) -> Console {
        Console {
            store: Arc::new(StoreRecords(store.clone())),
            lease: Arc::new(StoreLease {
                store: store.clone(),
            }),
            versions: Arc::new(BundleVersions {
                platform: "sample".into(),
                settings: self.settings.clone(),
                bundles: Default::default(),
                store: Some(store.clone()),
                ports: Default::default(),
            }),
            settings: self.settings.clone(),
            holder: format!("console-test-{}", std::process::id()),
            progress: false,
            json: false,
        }
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
