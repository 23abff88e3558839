//! `changeover demo`: starts the sample platform 1.0.0 with running workflows, upgrades it
//! to 1.0.1 with zero downtime and to 1.1.0 with partial downtime, taking every operator
//! decision automatically (and saying so), then prints the verification and where the
//! records are.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use changeover_drivers::{ContractClient, ProcessDriver, SchedulerAdapter};
use changeover_store::{Location, Store};

use crate::adapter::store::{StoreLease, StoreRecords};
use crate::catalog::BundleVersions;
use crate::console::{Console, ModeArg, UpgradeCommand, Versions};
use crate::settings::PlatformSettings;
use crate::view;

/// The sample platform's binaries the demo runs.
pub const SAMPLE_BINARIES: [&str; 2] = ["sample-scheduler", "sample-dataservice"];

/// What the demo needs.
pub struct DemoOptions {
    /// Where the sample binaries are (next to `changeover`).
    pub bin_dir: PathBuf,
    /// A directory the demo owns: recreated on every run.
    pub work_dir: PathBuf,
    /// The sample bundles: (file name, bytes).
    pub bundles: Vec<(String, Vec<u8>)>,
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free local port: {e}"))
}

fn step(title: &str) {
    println!("\n== {title} ==");
}

/// A sample platform started at 1.0.0 with running workflows, and a console over it.
pub struct Started {
    pub console: Console,
    pub driver: ProcessDriver,
    pub client: ContractClient,
    pub settings: PlatformSettings,
    pub store_path: PathBuf,
    pub from: crate::setup::Resolved,
}

/// Starts the sample platform 1.0.0 in `opts.work_dir` (recreated) with three workflows
/// whose tasks sleep `task_secs`, and waits until one runs.
pub async fn start_platform(opts: &DemoOptions, task_secs: u32) -> Result<Started, String> {
    for bin in SAMPLE_BINARIES {
        if !opts.bin_dir.join(bin).is_file() {
            return Err(format!(
                "the sample platform's {bin} is not in {}; run: cargo build --release -p sample-platform",
                opts.bin_dir.display()
            ));
        }
    }
    let work = &opts.work_dir;
    if work.exists() {
        std::fs::remove_dir_all(work)
            .map_err(|e| format!("cannot clear {}: {e}", work.display()))?;
    }
    let data_dir = work.join("platform");
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let metadb_url = format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("metadata.db").display()
    );
    let ports = [
        ("scheduler".to_owned(), free_port()?),
        ("dataservice".to_owned(), free_port()?),
    ];
    let settings = PlatformSettings {
        bin_dir: opts.bin_dir.clone(),
        data_dir: data_dir.clone(),
        contract_url: format!("http://127.0.0.1:{}", ports[0].1),
        metadb_url: Some(metadb_url.clone()),
    };
    let refs: Vec<(&str, &[u8])> = opts
        .bundles
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let mut versions = BundleVersions::with_bundles("sample", settings.clone(), &refs)?;
    versions.ports = ports.into_iter().collect();
    let store_path = work.join("store.db");
    let store = Store::open(&Location::Sqlite(store_path.clone()))
        .await
        .map_err(|e| e.to_string())?;

    step("the sample platform 1.0.0 with three workflows");
    for (i, tenant) in ["finance", "marketing", "finance"].iter().enumerate() {
        let out = Command::new(opts.bin_dir.join("sample-scheduler"))
            .args([
                "--db",
                &metadb_url,
                "workflow",
                "add",
                &format!("daily-load-{i}"),
            ])
            .args(["--cron", "*/3 * * * * *", "--tenant", tenant])
            .args([
                "--task",
                &format!("sleep {task_secs}"),
                "--task",
                "echo loaded",
            ])
            .output()
            .map_err(|e| format!("cannot run sample-scheduler: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "adding a workflow failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let from = versions.resolve("1.0.0").await.map_err(|e| e.to_string())?;
    let driver = ProcessDriver::open(settings.process_state_dir()).map_err(|e| e.to_string())?;
    for app in &from.applications {
        let info = driver
            .start(app)
            .await
            .map_err(|e| format!("starting {}: {e}", app.name))?;
        println!(
            "started {} {} on {} (log {})",
            app.name,
            app.version,
            info.address,
            info.log_path.display()
        );
    }
    let client = ContractClient::new(&settings.contract_url).map_err(|e| e.to_string())?;
    let mut running = 0;
    for _ in 0..80 {
        running = client
            .running_instances()
            .await
            .map(|r| r.len())
            .unwrap_or(0);
        if running > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!("{running} task instance(s) running");

    let console = Console {
        store: Arc::new(StoreRecords(store.clone())),
        lease: Arc::new(StoreLease {
            store: store.clone(),
        }),
        versions: Arc::new(versions),
        settings: settings.clone(),
        holder: format!("changeover-demo-{}", std::process::id()),
        progress: true,
        json: false,
    };
    Ok(Started {
        console,
        driver,
        client,
        settings,
        store_path,
        from,
    })
}

/// Runs the demo; the error says what failed and what to do.
pub async fn run(opts: DemoOptions) -> Result<(), String> {
    let Started {
        console,
        driver,
        settings,
        store_path,
        from,
        ..
    } = start_platform(&opts, 2).await?;
    let data_dir = settings.data_dir.clone();

    let upgrade = |to: &str, mode: ModeArg| UpgradeCommand::Start {
        to: to.to_owned(),
        mode,
        estimated_completion: None,
        contact_email: Some("ops@example.com".into()),
        contact_phone: None,
        save_only: false,
        accept_risk: true,
        yes: true,
    };
    println!("operator decisions are taken automatically: risk accepted, every step continued");
    step("upgrade 1.0.0 -> 1.0.1 with zero downtime");
    let result = console.execute(upgrade("1.0.1", ModeArg::Zero)).await;
    if let Err(e) = result {
        let _ = driver.kill_all();
        return Err(e.to_string());
    }
    step("upgrade 1.0.1 -> 1.1.0 with partial downtime");
    let result = console.execute(upgrade("1.1.0", ModeArg::Partial)).await;
    if let Err(e) = result {
        let _ = driver.kill_all();
        return Err(e.to_string());
    }
    step("verification now");
    match console.verify_now().await {
        Ok(report) => print!("{}", view::verification(&report)),
        Err(e) => println!("verification could not be read: {e}"),
    }
    step("records");
    console
        .execute(UpgradeCommand::Records)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "\nthe records are in {}; see one with: changeover --store {} upgrade show ID",
        store_path.display(),
        store_path.display()
    );
    for app in from.applications.iter().rev() {
        let _ = driver.stop(&app.name).await;
    }
    println!(
        "the sample platform is stopped; its files are in {}",
        data_dir.display()
    );
    Ok(())
}

/// The directory next to the running executable (where `cargo build` puts the sample
/// binaries beside `changeover`).
pub fn exe_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}
