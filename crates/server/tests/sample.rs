//! The real sample platform for the server's tests, in one place: its binaries built once
//! with the workspace's cargo, a platform directory (SQLite metadata in WAL mode, cron
//! workflows, free ports), starting its applications, and the engine's console over a store
//! as `changeover serve` builds it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use changeover_drivers::ProcessDriver;
use changeover_engine::adapter::store::{StoreLease, StoreRecords};
use changeover_engine::catalog::BundleVersions;
use changeover_engine::console::{Console, Versions};
use changeover_engine::settings::PlatformSettings;
use changeover_store::Store;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory of the sample platform's binaries, built once per test run.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
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
        if !dir.join("sample-scheduler").is_file() {
            return Err(format!("{} holds no sample-scheduler", dir.display()));
        }
        std::path::absolute(&dir).map_err(|e| format!("{}: {e}", dir.display()))
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `bundles/sample/VERSION.yaml` as it is in the repository.
pub fn bundle(version: &str) -> anyhow::Result<Vec<u8>> {
    let path = repo_root().join(format!("bundles/sample/{version}.yaml"));
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// A sample platform's directory, not started: a SQLite metadata database holding one
/// workflow per tenant given (every 2 seconds, its task sleeping `task_secs`), and a free
/// port for the scheduler and for the data service. Removed on drop.
pub struct PlatformDir {
    pub settings: PlatformSettings,
    /// The free ports by application (`scheduler`, `dataservice`).
    pub ports: BTreeMap<String, u16>,
    pub dir: tempfile::TempDir,
}

impl PlatformDir {
    pub fn new(tenants: &[&str], task_secs: u32) -> anyhow::Result<PlatformDir> {
        let bin_dir = bin_dir()?;
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().join("platform");
        std::fs::create_dir_all(&data_dir)?;
        let meta = data_dir.join("metadata.db");
        let wal = Command::new("sqlite3")
            .arg(&meta)
            .arg("PRAGMA journal_mode=WAL;")
            .output()
            .context("running sqlite3")?;
        anyhow::ensure!(
            wal.status.success(),
            "sqlite3: {}",
            String::from_utf8_lossy(&wal.stderr)
        );
        let metadb_url = format!("sqlite://{}?mode=rwc", meta.display());
        let ports: BTreeMap<String, u16> = [
            ("scheduler".to_owned(), free_port()?),
            ("dataservice".to_owned(), free_port()?),
        ]
        .into();
        for (i, tenant) in tenants.iter().enumerate() {
            let out = Command::new(bin_dir.join("sample-scheduler"))
                .args(["--db", &metadb_url, "workflow", "add", &format!("wf{i}")])
                .args(["--cron", "*/2 * * * * *", "--tenant", tenant])
                .args(["--task", &format!("sleep {task_secs}")])
                .output()?;
            anyhow::ensure!(
                out.status.success(),
                "sample-scheduler workflow add: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let settings = PlatformSettings {
            bin_dir,
            data_dir,
            contract_url: format!("http://127.0.0.1:{}", ports["scheduler"]),
            metadb_url: Some(metadb_url),
        };
        Ok(PlatformDir {
            settings,
            ports,
            dir,
        })
    }

    /// The process driver of this platform.
    pub fn driver(&self) -> anyhow::Result<ProcessDriver> {
        Ok(ProcessDriver::open(self.settings.process_state_dir())?)
    }

    /// Starts the applications of `version` (resolved from `versions`) with `driver`, then
    /// waits up to 30 s for `ready` to say so.
    pub async fn start(
        &self,
        versions: &BundleVersions,
        version: &str,
        driver: &ProcessDriver,
        ready: impl AsyncFn() -> bool,
    ) -> anyhow::Result<()> {
        let resolved = versions
            .resolve(version)
            .await
            .map_err(|e| anyhow::anyhow!("resolving {version}: {e}"))?;
        for app in &resolved.applications {
            driver
                .start(app)
                .await
                .with_context(|| format!("starting {}", app.name))?;
        }
        for _ in 0..300 {
            if ready().await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("the sample platform {version} was not ready within 30 s")
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

/// The versions of the catalog in `store` for `dir`'s platform, with `ports` replacing the
/// bundles' own (empty: the bundles' ports are used).
pub fn catalog_versions(
    store: &Store,
    dir: &PlatformDir,
    ports: BTreeMap<String, u16>,
) -> Arc<BundleVersions> {
    Arc::new(BundleVersions {
        platform: "sample".into(),
        settings: dir.settings.clone(),
        bundles: Default::default(),
        store: Some(store.clone()),
        ports,
    })
}
