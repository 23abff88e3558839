//! The upgrade benchmark on the sample platform, one fresh platform per mode:
//! `cargo run --release -p changeover-engine --example bench -- target/release`
//! (after `cargo build --release --workspace`). Reports, per mode: total duration, time in
//! maintenance, time dispatch was paused, instances interrupted (killed), failed
//! data-service requests during the upgrade, and each step's wall time; then, per step,
//! changeover's own overhead: the wall time split into waiting on the platform (a port
//! call in flight, or the pause before a waiting step runs again), saving the record in the
//! store, and the rest, changeover's own code (`bench_support/meter.rs`).

#[path = "bench_support/meter.rs"]
mod bench_meter;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use changeover_drivers::SchedulerAdapter;
use changeover_drivers::scheduler::{InstanceStatus, StatisticsQuery};
use changeover_engine::console::{ModeArg, UpgradeCommand};
use changeover_engine::demo::{DemoOptions, start_platform};
use changeover_engine::upgrade::metrics::Durations;
use changeover_engine::upgrade::{Action, StepKind};

use bench_meter::{Meter, Split};

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
    let mut overheads: Vec<(String, StepKind, Option<i64>, Split)> = Vec::new();
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
            save_only: true,
            accept_risk: true,
            yes: true,
        };
        let meter = Meter::default();
        let outcome = async {
            // saved, then started and driven here with the engine's ports metered
            p.console.execute(start).await?;
            let mut record = p
                .console
                .store
                .active()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("the saved record is not active"))?;
            record.apply(Action::Start, changeover_engine::now())?;
            p.console
                .store
                .save(&record)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let engine = meter.wrap(p.console.engine(&record).await?);
            let end = changeover_engine::session::drive_leased(
                &engine,
                p.console.lease.clone(),
                "bench",
                &mut record,
            )
            .await?;
            anyhow::ensure!(
                end == changeover_engine::Stop::Ended(
                    changeover_engine::upgrade::Status::Succeeded
                ),
                "the upgrade stopped at {end:?}"
            );
            anyhow::Ok(())
        }
        .await;
        stop.store(true, Ordering::SeqCst);
        requests.await?;
        outcome.map_err(|e| e.context(format!("{mode:?}")))?;
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
        let splits = meter.splits();
        for (kind, took) in &d.steps {
            let split = splits.get(kind).copied().unwrap_or_default();
            overheads.push((record.mode.words().to_owned(), *kind, *took, split));
        }
        let _ = p.driver.kill_all();
    }
    println!();
    println!(
        "| mode | step | under the cursor ms | waiting on the platform ms | paused between runs ms | saving the record ms | changeover's own code ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (mode, kind, _took, split) in overheads {
        let ms = |d: std::time::Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
        let own = split
            .wall
            .saturating_sub(split.platform + split.paused + split.store);
        println!(
            "| {mode} | {kind} | {} | {} | {} | {} | {} |",
            ms(split.wall),
            ms(split.platform),
            ms(split.paused),
            ms(split.store),
            ms(own)
        );
    }
    Ok(())
}
