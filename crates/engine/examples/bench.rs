//! The upgrade benchmark on the sample platform, one fresh platform per mode:
//! `cargo run --release -p changeover-engine --example bench -- target/release`
//! (after `cargo build --release --workspace`). Reports, per mode: total duration, time in
//! maintenance, time dispatch was paused, instances interrupted (killed), failed
//! data-service requests during the upgrade, and each step's wall time (changeover's own
//! overhead is the step time not spent waiting on the platform).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use changeover_drivers::SchedulerAdapter;
use changeover_drivers::scheduler::{InstanceStatus, StatisticsQuery};
use changeover_engine::console::{ModeArg, UpgradeCommand};
use changeover_engine::demo::{DemoOptions, start_platform};
use changeover_engine::upgrade::metrics::Durations;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bin_dir = std::path::absolute(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/release".into()),
    )?;
    let bundles = ["1.0.0", "1.0.1", "1.1.0"]
        .iter()
        .map(|v| {
            let name = format!("{v}.yaml");
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../bundles/sample")
                .join(&name);
            Ok((name, std::fs::read(path)?))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    println!(
        "| mode | to | total ms | maintenance ms | dispatch paused ms | instances killed | failed data-service requests | steps (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (mode, to) in [
        (ModeArg::Zero, "1.0.1"),
        (ModeArg::Partial, "1.1.0"),
        (ModeArg::Full, "1.1.0"),
    ] {
        let work_dir = std::env::temp_dir().join(format!(
            "changeover-bench-{}-{to}-{mode:?}",
            std::process::id()
        ));
        let opts = DemoOptions {
            bin_dir: bin_dir.clone(),
            work_dir,
            bundles: bundles.clone(),
        };
        let mut p = start_platform(&opts, 5).await.map_err(anyhow::Error::msg)?;
        p.console.progress = false;
        let state = p.settings.process_state_dir();
        let (failed, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let requests = {
            let (failed, stop) = (failed.clone(), stop.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while !stop.load(Ordering::SeqCst) {
                    let upstream = changeover_drivers::RoutingTable::read(&state)
                        .ok()
                        .and_then(|t| t.upstream("dataservice").map(str::to_owned));
                    let ok = match upstream {
                        Some(u) => http
                            .get(format!("http://{u}/health"))
                            .send()
                            .await
                            .is_ok_and(|a| a.status().is_success()),
                        None => false,
                    };
                    if !ok {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            })
        };
        let start = UpgradeCommand::Start {
            to: to.into(),
            mode,
            estimated_completion: None,
            contact_email: None,
            contact_phone: None,
            save_only: false,
            accept_risk: true,
            yes: true,
        };
        let outcome = p.console.execute(start).await;
        stop.store(true, Ordering::SeqCst);
        requests.await?;
        outcome.map_err(|e| anyhow::anyhow!("{mode:?}: {e}"))?;
        let record = p
            .console
            .store
            .list()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .remove(0);
        let today = chrono::Utc::now().date_naive();
        let killed: u64 = p
            .client
            .statistics(&StatisticsQuery {
                from: today,
                to: today,
                tenant: None,
                environment: None,
            })
            .await?
            .iter()
            .filter(|r| r.status == InstanceStatus::Killed)
            .map(|r| r.count)
            .sum();
        let d = Durations::of(&record);
        let ms = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
        let steps: Vec<String> = d
            .steps
            .iter()
            .map(|(k, t)| format!("{k} {}", ms(*t)))
            .collect();
        println!(
            "| {} | {to} | {} | {} | {} | {killed} | {} | {} |",
            record.mode.words(),
            ms(d.total_ms),
            ms(d.maintenance_ms),
            ms(d.dispatch_paused_ms),
            failed.load(Ordering::SeqCst),
            steps.join(", ")
        );
        let _ = p.driver.kill_all();
    }
    Ok(())
}
