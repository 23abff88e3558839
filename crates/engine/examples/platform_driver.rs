//! changeover against a real sample platform, one command per process, for the tests that
//! kill it with SIGKILL (`tests/e2e/crash.rs`) or act on it from another process
//! (`tests/e2e/stop.rs`):
//!
//! `platform_driver DRIVER.json start full|partial|zero VERSION` | `next` |
//! `data-update run|stop NAME|--all`
//!
//! `DRIVER.json` names the store file, the platform's settings and ports and the bundle
//! files (the tests write it). Run with `CHANGEOVER_CRASH_AT=<point>` it kills itself with
//! SIGKILL at that point. The lease holder is fixed, so a restart after a kill takes the
//! lease at once (as a changeover restarted on the same host under the same name would).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use changeover_engine::adapter::store::{StoreLease, StoreRecords};
use changeover_engine::catalog::BundleVersions;
use changeover_engine::console::{Console, DataUpdateAction, ModeArg, UpgradeCommand};
use changeover_engine::settings::PlatformSettings;
use changeover_store::{Location, Store};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DriverConfig {
    store: PathBuf,
    settings: PlatformSettings,
    ports: BTreeMap<String, u16>,
    bundles: Vec<PathBuf>,
}

fn command(args: &[String]) -> anyhow::Result<UpgradeCommand> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(match args.as_slice() {
        ["start", mode, to] => UpgradeCommand::Start {
            to: (*to).to_owned(),
            mode: match *mode {
                "full" => ModeArg::Full,
                "partial" => ModeArg::Partial,
                "zero" => ModeArg::Zero,
                other => anyhow::bail!("unknown mode `{other}`: full, partial or zero"),
            },
            estimated_completion: None,
            contact_email: None,
            contact_phone: None,
            save_only: false,
            accept_risk: true,
            yes: true,
        },
        ["next"] => UpgradeCommand::Next,
        ["data-update", action, name] => UpgradeCommand::DataUpdate {
            action: match *action {
                "run" => DataUpdateAction::Run,
                "stop" => DataUpdateAction::Stop,
                other => anyhow::bail!("unknown data-update action `{other}`: run or stop"),
            },
            names: if *name == "--all" {
                Vec::new()
            } else {
                vec![(*name).to_owned()]
            },
            all: *name == "--all",
        },
        _ => anyhow::bail!(
            "usage: platform_driver DRIVER.json start MODE VERSION | next | data-update run|stop NAME"
        ),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some((config, rest)) = args.get(1..).and_then(|a| a.split_first()) else {
        anyhow::bail!("usage: platform_driver DRIVER.json COMMAND…");
    };
    let command = command(rest)?;
    let config: DriverConfig = serde_json::from_slice(&std::fs::read(config)?)?;
    let files = config
        .bundles
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            Ok((name, std::fs::read(p)?))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let mut versions = BundleVersions::with_bundles("sample", config.settings.clone(), &refs)
        .map_err(anyhow::Error::msg)?;
    versions.ports = config.ports;
    let store = Store::open(&Location::Sqlite(config.store)).await?;
    let console = Console {
        store: Arc::new(StoreRecords(store.clone())),
        lease: Arc::new(StoreLease { store }),
        versions: Arc::new(versions),
        settings: config.settings,
        holder: "platform-driver".into(),
        progress: false,
        json: false,
    };
    console.execute(command).await?;
    Ok(())
}
