//! `changeover --server URL upgrade start …` against a `changeover serve` acting on a real
//! sample platform at 1.0.0: the server drives, the CLI follows it to the end and prints
//! where it stopped, as `changeover upgrade start` does locally.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use changeover_drivers::{ContractClient, ProcessDriver, SchedulerAdapter};
use changeover_engine::adapter::store::{StoreLease, StoreRecords};
use changeover_engine::catalog::BundleVersions;
use changeover_engine::console::{Console, Versions};
use changeover_engine::settings::PlatformSettings;
use changeover_server::api::Api;
use changeover_server::auth::{self, Actor, Role, Secret};
use changeover_store::Engine;

use crate::common::{Env, changeover_in, sample_path};

/// The sample platform's binaries, built once.
fn bin_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "sample-platform", "--bins"])
            .current_dir(&root)
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the sample platform failed");
        Path::new(env!("CARGO_BIN_EXE_changeover"))
            .parent()
            .expect("bin dir")
            .to_owned()
    })
    .clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Killer(Arc<ProcessDriver>);
impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill_all();
    }
}

#[test]
fn a_remote_partial_upgrade_is_followed_to_the_end() {
    let env = Env::new(Engine::Sqlite);
    let bin_dir = bin_dir();
    let data_dir = env.dir().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let meta = env.dir().join("meta.db");
    let metadb_url = format!("sqlite://{}?mode=rwc", meta.display());
    let ports: BTreeMap<String, u16> = [
        ("scheduler".to_owned(), free_port()),
        ("dataservice".to_owned(), free_port()),
    ]
    .into();
    let settings = PlatformSettings {
        bin_dir: bin_dir.clone(),
        data_dir,
        contract_url: format!("http://127.0.0.1:{}", ports["scheduler"]),
        metadb_url: Some(metadb_url.clone()),
    };
    let out = Command::new(bin_dir.join("sample-scheduler"))
        .args(["--db", &metadb_url, "workflow", "add", "wf0"])
        .args([
            "--cron",
            "*/2 * * * * *",
            "--tenant",
            "t1",
            "--task",
            "sleep 2",
        ])
        .output()
        .expect("sample-scheduler");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (url, token, driver) = rt.block_on(async {
        let store = env.location.open().await;
        let setup = Actor {
            name: "setup",
            peer: "cli",
        };
        auth::add_user(
            &store,
            &setup,
            "otto",
            Role::Admin,
            &Secret::new("a long enough password"),
        )
        .await
        .expect("user");
        let token = auth::issue_token(&store, &setup, "otto", "test")
            .await
            .expect("token");
        let versions = Arc::new(BundleVersions {
            platform: "sample".into(),
            settings: settings.clone(),
            bundles: Default::default(),
            store: Some(store.clone()),
            ports,
        });
        let console = Console {
            store: Arc::new(StoreRecords(store.clone())),
            lease: Arc::new(StoreLease {
                store: store.clone(),
            }),
            versions: versions.clone(),
            settings: settings.clone(),
            holder: "serve-remote-test".into(),
            progress: false,
            json: false,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(Api::with_platform(store, console).serve(listener));
        (
            format!("http://{addr}"),
            token.expose().to_owned(),
            (
                versions,
                ProcessDriver::open(settings.process_state_dir()).expect("driver"),
            ),
        )
    });
    let remote = |args: &[&str]| {
        let mut all = vec!["--server", url.as_str(), "--token", token.as_str()];
        all.extend_from_slice(args);
        changeover_in(env.dir(), &all)
    };
    for v in ["1.0.0", "1.0.1", "1.1.0"] {
        let file = sample_path(&format!("{v}.yaml")).display().to_string();
        remote(&["version", "upload", &file]).ok();
    }
    let (versions, driver) = driver;
    let driver = Killer(Arc::new(driver));
    let client = ContractClient::new(&settings.contract_url).expect("client");
    rt.block_on(async {
        let from = versions.resolve("1.0.0").await.expect("1.0.0");
        for app in &from.applications {
            driver.0.start(app).await.expect("start 1.0.0");
        }
        for _ in 0..120 {
            if client
                .running_instances()
                .await
                .is_ok_and(|r| !r.is_empty())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("no instance ran within 30 s");
    });

    let check = remote(&["version", "check", "--to", "1.1.0"]);
    let text = check.ok();
    assert!(text.contains("sample 1.0.0 -> 1.1.0"), "{text}");
    assert!(text.contains("refused"), "zero downtime is refused: {text}");

    let run = remote(&[
        "upgrade",
        "start",
        "--to",
        "1.1.0",
        "--mode",
        "partial",
        "--accept-risk",
        "--yes",
    ]);
    let out = run.ok();
    assert!(out.contains("in partial downtime mode"), "{out}");
    assert!(out.contains("ended: succeeded"), "{out}");
    assert!(out.contains("  [upg-"), "progress lines: {out}");
    let health = rt.block_on(client.health()).expect("health");
    assert_eq!(health.version, "1.1.0");
    let status = remote(&["--json", "upgrade", "status"]).json();
    assert_eq!(status["status"], "succeeded", "{status}");
    // A second start is refused by the server with the console's reason, exit 1.
    let again = remote(&["upgrade", "next"]);
    assert!(
        again.fails(1).contains("no upgrade in progress"),
        "{}",
        again.stderr
    );
    drop(driver);
}
