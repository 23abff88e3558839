//! A full-downtime upgrade of the real sample platform 1.0.0 -> 1.1.0 through the console:
//! the force-terminate step lists the running instances and "Forcibly terminate all tasks"
//! empties it; the re-run step re-runs each terminated instance once; every step page is
//! photographed.

use std::time::Duration;

use changeover_drivers::SchedulerAdapter;
use changeover_server::auth::{self, Actor, Role, Secret};
use changeover_store::Engine;
use changeover_store::test_utils::TestLocation;

use super::platform::{SamplePlatform, wait_step};
use super::webdriver::Browser;

use crate::fixtures::PASSWORD;

/// A guard against hanging, not a measurement.
const STEP_GUARD: Duration = Duration::from_secs(180);

#[tokio::test]
async fn console_runs_a_full_downtime_upgrade_terminating_and_rerunning_instances()
-> anyhow::Result<()> {
    let location = TestLocation::new(Engine::Sqlite).await;
    let store = location.open().await;
    auth::add_user(
        &store,
        &Actor {
            name: "setup",
            peer: "cli",
        },
        "otto",
        Role::Operator,
        &Secret::new(PASSWORD),
    )
    .await?;
    // Tasks that outlast the pause of dispatch, so that some still run at step 1.
    let platform = SamplePlatform::start(60).await?;
    for bundle in &platform.bundles {
        platform.catalog(&store, bundle).await?;
    }
    let (addr, server) = platform.serve(&store).await?;
    let shots = super::screenshot_dir("console_full_upgrade")?;
    let b = Browser::start().await?;
    // Wait until the platform runs instances of its own.
    let mut running = 0;
    for _ in 0..100 {
        running = platform.client.running_instances().await?.len();
        if running >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        running >= 2,
        "the sample platform runs {running} instance(s)"
    );

    b.goto(&format!("http://{addr}/")).await?;
    b.type_into("#login-name", "otto").await?;
    b.type_into("#login-password", PASSWORD).await?;
    b.click("#login-submit").await?;
    b.wait_text("#who", "otto (operator)").await?;
    b.click("#start-upgrade").await?;
    b.select("#wizard-target", "1.1.0").await?;
    b.wait_text("#wizard-current", "The platform runs 1.0.0")
        .await?;
    b.click("#mode-full").await?;
    b.click("#wizard-risk").await?;
    b.click("#wizard-enter").await?;
    b.wait_text("#record-summary", "sample 1.0.0 → 1.1.0, full downtime")
        .await?;

    let steps = [
        "enter_maintenance",
        "force_terminate_tasks",
        "stop",
        "backup",
        "upgrade_applications",
        "rerun_tasks",
        "data_update",
        "verify",
    ];
    let mut terminated: Vec<String> = Vec::new();
    for (n, kind) in steps.iter().enumerate() {
        let mut phase = wait_step(&b, kind, STEP_GUARD).await?;
        match (*kind, phase.as_str()) {
            ("force_terminate_tasks", "needs_operator") => {
                // The running instances are listed, each can be chosen; terminate them all.
                let reason = b.text("#step-phase").await?;
                assert!(reason.contains("still run"), "{reason}");
                let listed: Vec<String> = serde_json::from_value(
                    b.eval(
                        "return [...document.querySelectorAll('#items tr[data-item]')].map(r => r.dataset.item);",
                        vec![],
                    )
                    .await?,
                )?;
                assert!(!listed.is_empty(), "no running instance listed");
                assert!(b.exists("#items input[type=checkbox]").await?);
                b.screenshot(&shots, &format!("{:02}-step-{kind}-running", n + 1))
                    .await?;
                b.click("#act-tasks-terminate-all").await?;
                leave_phase(&b, "needs_operator").await?;
                phase = wait_step(&b, kind, STEP_GUARD).await?;
            }
            ("rerun_tasks", "needs_operator") => {
                b.click("#act-tasks-rerun-all").await?;
                leave_phase(&b, "needs_operator").await?;
                phase = wait_step(&b, kind, STEP_GUARD).await?;
            }
            _ => {}
        }
        assert_eq!(
            phase,
            "done",
            "step {kind}: {}",
            b.text("#step-phase").await?
        );
        let items: Vec<(String, String)> = serde_json::from_value(
            b.eval(
                "return [...document.querySelectorAll('#items tr[data-item]')].map(r => [r.dataset.item, r.dataset.state]);",
                vec![],
            )
            .await?,
        )?;
        match *kind {
            "force_terminate_tasks" => {
                terminated = items
                    .iter()
                    .filter(|(_, s)| s == "succeeded")
                    .map(|(i, _)| i.clone())
                    .collect();
                assert!(!terminated.is_empty(), "nothing was terminated: {items:?}");
            }
            "stop" => {
                // Everything but the always-on data service stops.
                assert!(
                    items
                        .iter()
                        .any(|(i, s)| i == "scheduler" && s == "succeeded"),
                    "{items:?}"
                );
                assert!(!items.iter().any(|(i, _)| i == "dataservice"), "{items:?}");
            }
            "rerun_tasks" => {
                for id in &terminated {
                    assert!(
                        items.iter().any(|(i, s)| i == id && s == "succeeded"),
                        "{id} was not re-run: {items:?}"
                    );
                }
                let details = b.text("#items").await?;
                assert!(details.contains("new_id="), "{details}");
            }
            _ => {}
        }
        let allowed = b
            .attr("#actions", "data-allowed")
            .await?
            .unwrap_or_default();
        // Terminate only before downtime begins (the stop step); never for a viewer's
        // action, never force-terminate for an operator (admin only).
        let terminable = allowed.split(' ').any(|a| a == "terminate");
        assert_eq!(terminable, n < 2, "terminate offered at {kind}: {allowed}");
        assert!(!allowed.contains("force-terminate"), "{allowed}");
        b.screenshot(&shots, &format!("{:02}-step-{kind}", n + 1))
            .await?;
        b.click("#act-next").await?;
    }
    b.click("#act-complete").await?;
    b.wait_text_for("#record-header h1", "succeeded", STEP_GUARD)
        .await?;
    assert_eq!(platform.client.health().await?.version, "1.1.0");
    b.screenshot(&shots, "10-succeeded").await?;
    b.close().await?;
    server.abort();
    drop(platform);
    store.close().await;
    Ok(())
}

/// Waits until the step page no longer shows `phase` (an action was taken on it).
async fn leave_phase(b: &Browser, phase: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + STEP_GUARD;
    loop {
        let now = b.attr("#step", "data-phase").await?;
        if now.as_deref() != Some(phase) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!(
                "the step stayed {phase}: {}",
                b.text("#step").await.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
