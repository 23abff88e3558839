//! The done-when of the console (issue 7): in headless Chromium, sign in, run a
//! partial-downtime upgrade of the real sample platform 1.0.0 -> 1.1.0 through the wizard
//! and the step pages to Complete (Succeeded), with a screenshot of each step page and of
//! the verification page, asserting what each page shows.

use std::time::Duration;

use changeover_server::auth::{self, Actor, Role, Secret};
use changeover_store::Engine;
use changeover_store::test_utils::TestLocation;
use serde_json::json;

use super::platform::{SamplePlatform, wait_step};
use super::webdriver::Browser;

use crate::fixtures::PASSWORD;

/// How long one step of the real platform may take before the test gives up (a guard, not
/// a measurement: upgrading applications builds nothing, it restarts two processes).
const STEP_GUARD: Duration = Duration::from_secs(180);

/// The steps of a partial-downtime upgrade in the seeds' order, with what the step page
/// must show once the step is done: (kind, title, items that must have succeeded).
const PARTIAL_STEPS: [(&str, &str, &[&str]); 6] = [
    ("enter_maintenance", "Enter maintenance mode", &[]),
    ("backup", "Database backup", &[]),
    ("pre_upgrade", "Pre-upgrade", &["scheduler", "dataservice"]),
    (
        "upgrade_applications",
        "Upgrade applications",
        &["scheduler", "dataservice"],
    ),
    ("data_update", "Data update", &["backfill_owner"]),
    ("verify", "Verify", &[]),
];

#[tokio::test]
async fn console_runs_a_partial_downtime_upgrade_of_the_sample_platform() -> anyhow::Result<()> {
    let location = TestLocation::new(Engine::Sqlite).await;
    let store = location.open().await;
    auth::add_user(
        &store,
        &Actor {
            name: "setup",
            peer: "cli",
        },
        "ada",
        Role::Admin,
        &Secret::new(PASSWORD),
    )
    .await?;
    let platform = SamplePlatform::start(1).await?;
    // The version installed before changeover managed the platform, in the catalog as
    // `changeover version upload` puts it; 1.1.0 is uploaded through the console below.
    platform.catalog(&store, &platform.bundles[0]).await?;
    store.platforms().set_current("sample", "1.0.0").await?;
    let (addr, server) = platform.serve(&store).await?;
    let shots = super::screenshot_dir("console_partial_upgrade")?;
    let b = Browser::start().await?;

    // Sign in; no upgrade yet.
    b.goto(&format!("http://{addr}/")).await?;
    b.type_into("#login-name", "ada").await?;
    b.type_into("#login-password", PASSWORD).await?;
    b.click("#login-submit").await?;
    b.wait_text("#no-records", "No upgrade yet").await?;
    b.screenshot(&shots, "01-records-empty").await?;

    // Version upload: a 1.1.0 bundle without the required metadb.url is refused with the
    // missing item named; the good one is imported and listed.
    b.click("#nav a[data-nav='versions']").await?;
    b.wait_text("#versions tr[data-version='1.0.0']", "running now")
        .await?;
    assert!(!b.exists("#versions tr[data-version='1.1.0']").await?);
    let good = &platform.bundles[1];
    let broken = good.with_file_name("1.1.0-broken.yaml");
    let text = std::fs::read_to_string(good)?;
    let without: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("metadb.url:"))
        .collect();
    assert!(
        without.len() < text.lines().count(),
        "no metadb.url line to remove"
    );
    std::fs::write(&broken, without.join("\n"))?;
    b.choose_file("#upload-file", &broken).await?;
    b.click("#upload-submit").await?;
    let failed = b.wait_text("#upload-failed", "nothing was stored").await?;
    let missing = b.text("#upload-missing").await?;
    assert!(missing.contains("metadb.url"), "{failed}");
    b.screenshot(&shots, "02-version-upload-refused").await?;
    b.choose_file("#upload-file", good).await?;
    b.click("#upload-submit").await?;
    b.wait_text("#upload-ok", "Version 1.1.0 imported.").await?;
    b.wait_text("#versions tr[data-version='1.1.0']", "sample")
        .await?;
    b.screenshot(&shots, "03-version-upload-imported").await?;

    // The wizard: 1.1.0 allows full and partial downtime; zero downtime is refused, and why.
    b.click("#nav a[data-nav='records']").await?;
    b.click("#start-upgrade").await?;
    b.select("#wizard-target", "1.1.0").await?;
    b.wait_text("#wizard-current", "The platform runs 1.0.0; target 1.1.0")
        .await?;
    assert_eq!(
        b.attr("label[data-mode='zero']", "data-allowed")
            .await?
            .as_deref(),
        Some("false")
    );
    assert_eq!(b.prop("#mode-zero", "disabled").await?, json!(true));
    let zero = b.text("label[data-mode='zero']").await?;
    assert!(
        zero.contains("not allowed") && zero.contains("first three segments (1.0.0 vs 1.1.0)"),
        "{zero}"
    );
    assert!(
        zero.contains("If requested: full downtime is selected instead"),
        "{zero}"
    );
    assert!(
        b.text("label[data-mode='partial']")
            .await?
            .contains("allowed")
    );
    b.click("#mode-partial").await?;
    assert_eq!(b.text("#wizard-enter").await?, "Enter maintenance mode");
    b.type_into("#wizard-completion", "tomorrow noon").await?;
    b.type_into("#wizard-email", "ops@example.com").await?;
    b.type_into("#wizard-phone", "+49 30 1234567").await?;
    // Without the risk statement, or with a bad completion time, nothing is sent.
    b.click("#wizard-enter").await?;
    let refused = b.wait_text("#wizard-error", "Cannot continue").await?;
    assert!(
        refused.contains("YYYY-MM-DD hh:mm") && refused.contains("acknowledge the risk"),
        "{refused}"
    );
    b.type_into("#wizard-completion", "2030-12-01 23:30")
        .await?;

    // "Save" keeps the configuration as a configuring record, which the records list
    // offers to continue; abandoning it ends it, terminated, with nothing touched.
    b.click("#wizard-save").await?;
    b.wait_text("#record-header h1", "configuring").await?;
    assert_eq!(b.text("#act-start").await?, "Enter maintenance mode");
    assert_eq!(
        b.attr("#actions", "data-allowed").await?.as_deref(),
        Some("start terminate")
    );
    b.click("#nav a[data-nav='records']").await?;
    let saved = b.wait_text("#records tbody tr", "configuring").await?;
    assert!(saved.contains("Continue upgrade"), "{saved}");
    assert_eq!(b.prop("#start-upgrade", "disabled").await?, json!(true));
    b.click("#records tbody tr a[href^='#/upgrade/']").await?;
    b.click("#act-terminate").await?;
    b.wait_text("#record-header h1", "terminated").await?;
    assert_eq!(platform.client.health().await?.version, "1.0.0");

    // Again, this time into maintenance mode.
    b.click("#nav a[data-nav='records']").await?;
    b.click("#start-upgrade").await?;
    b.select("#wizard-target", "1.1.0").await?;
    b.wait_text("#wizard-current", "The platform runs 1.0.0")
        .await?;
    b.click("#mode-partial").await?;
    b.type_into("#wizard-completion", "2030-12-01 23:30")
        .await?;
    b.type_into("#wizard-email", "ops@example.com").await?;
    b.type_into("#wizard-phone", "+49 30 1234567").await?;
    b.click("#wizard-risk").await?;
    b.screenshot(&shots, "04-wizard").await?;
    b.click("#wizard-enter").await?;
    b.wait_text("#record-summary", "sample 1.0.0 → 1.1.0, partial downtime")
        .await?;
    let id = b.text("#record-id").await?;
    assert!(id.starts_with("upg-"), "{id}");

    // Each step page, live, in the seeds' order: wait for the step to be done, check what
    // the page shows, take its picture, then go on.
    let mut shot = 5;
    for (kind, title, items) in PARTIAL_STEPS {
        let phase = wait_step(&b, kind, STEP_GUARD).await?;
        assert_eq!(
            phase,
            "done",
            "step {kind} ended {phase}: {}",
            b.text("#step-phase").await?
        );
        assert_eq!(b.text("#step-title").await?, title);
        assert_eq!(
            b.attr("#step-progress", "data-percent").await?.as_deref(),
            Some("100"),
            "step {kind}"
        );
        for item in items {
            let row = b.text(&format!("#items tr[data-item='{item}']")).await?;
            assert!(row.contains("succeeded"), "step {kind}, item {item}: {row}");
        }
        let log = b.text("#step-log").await?;
        assert!(
            log.contains("step started") && log.contains("step done"),
            "step {kind} log: {log}"
        );
        let allowed = b
            .attr("#actions", "data-allowed")
            .await?
            .unwrap_or_default();
        assert!(
            allowed.split(' ').any(|a| a == "next"),
            "step {kind}: {allowed}"
        );
        assert!(
            allowed.split(' ').any(|a| a == "force-terminate"),
            "step {kind}: {allowed}"
        );
        let terminable = allowed.split(' ').any(|a| a == "terminate");
        let before_downtime = matches!(kind, "enter_maintenance" | "backup" | "pre_upgrade");
        assert_eq!(
            terminable, before_downtime,
            "terminate offered at {kind}: {allowed}"
        );
        let banner = b.prop("#maintenance-banner", "hidden").await?;
        if before_downtime {
            // In maintenance mode until the applications run the target version (partial
            // downtime exits it, and resumes dispatch, as that step ends).
            assert_eq!(banner, json!(false), "no announcement at step {kind}");
            let text = b.text("#maintenance-banner").await?;
            assert!(
                text.contains("2030-12-01 23:30")
                    && text.contains("ops@example.com, +49 30 1234567"),
                "{text}"
            );
        } else {
            assert_eq!(
                banner,
                json!(true),
                "the announcement is still shown at {kind}"
            );
        }
        match kind {
            "backup" => {
                let row = b.text("#items tr[data-item='metadata']").await?;
                assert!(row.contains("metadata"), "{row}");
            }
            "upgrade_applications" => {
                let log = b.text("#step-log").await?;
                // The upgrade-wide lines written during the step are in its log.
                assert!(log.contains("maintenance mode off"), "{log}");
                assert_eq!(b.text("#act-next").await?, "Next");
            }
            "data_update" => {
                assert!(allowed.split(' ').any(|a| a == "data-updates"), "{allowed}");
            }
            "verify" => {
                b.wait_text("#recorded-verification #verdict", "Passed")
                    .await?;
            }
            _ => {}
        }
        b.screenshot(&shots, &format!("{shot:02}-step-{kind}"))
            .await?;
        shot += 1;
        b.click("#act-next").await?;
    }

    // Every step settled: Complete ends it Succeeded.
    b.wait_text("#act-complete", "Complete").await?;
    b.click("#act-complete").await?;
    b.wait_text_for("#record-header h1", "succeeded", STEP_GUARD)
        .await?;
    assert_eq!(
        b.attr("#record-progress", "data-percent").await?.as_deref(),
        Some("100")
    );
    // An ended upgrade offers only the admin's rollback (its backups are complete).
    b.wait_text("#act-rollback", "Roll back").await?;
    assert_eq!(
        b.attr("#actions", "data-allowed").await?.as_deref(),
        Some("rollback")
    );
    assert_eq!(platform.client.health().await?.version, "1.1.0");

    // The verification page, live from the scheduler: the business date after today, so
    // that today's instances are the distribution and the last column.
    b.click("#nav a[data-nav='verification']").await?;
    b.wait_text("#verify-stamp", "every 20 seconds").await?;
    let today = b
        .eval("return new Date().toISOString().slice(0, 10);", vec![])
        .await?;
    let today = today.as_str().unwrap_or_default().to_owned();
    let tomorrow = b
        .eval(
            "const d = new Date(); d.setUTCDate(d.getUTCDate() + 1); return d.toISOString().slice(0, 10);",
            vec![],
        )
        .await?;
    b.eval(
        "const i = document.querySelector('#verify-date'); i.value = arguments[0]; i.dispatchEvent(new Event('change'));",
        vec![tomorrow.clone()],
    )
    .await?;
    b.wait_text(
        "#verify-stamp",
        &format!("Today is {}", tomorrow.as_str().unwrap_or_default()),
    )
    .await?;
    assert_eq!(b.text("#recent-count").await?, "Pending");
    assert_eq!(b.text("#average").await?, "NA");
    let segments = b
        .eval(
            "return [...document.querySelectorAll('#donut circle[data-status]')].map(c => c.dataset.status).join(' ');",
            vec![],
        )
        .await?;
    assert!(
        segments.as_str().unwrap_or_default().contains("succeeded"),
        "the donut has no succeeded instances of {today}: {segments}"
    );
    let columns = b
        .eval(
            "return [...document.querySelectorAll('#columns g[data-date]')].map(g => g.dataset.date + '=' + g.dataset.total);",
            vec![],
        )
        .await?;
    let columns: Vec<String> = serde_json::from_value(columns)?;
    assert_eq!(columns.len(), 7, "{columns:?}");
    let last = columns.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with(&today) && !last.ends_with("=0"),
        "today's column is empty: {columns:?}"
    );
    b.text("#failed-list").await?;
    b.screenshot(&shots, &format!("{shot:02}-verification"))
        .await?;
    shot += 1;

    // The records list: succeeded, with its milestones.
    b.click("#nav a[data-nav='records']").await?;
    let row = b
        .wait_text(&format!("#records tr[data-id='{id}']"), "succeeded")
        .await?;
    for shown in ["1.0.0", "1.1.0", "partial downtime"] {
        assert!(row.contains(shown), "{shown:?} missing: {row}");
    }
    // Started, entered maintenance, exited maintenance and ended are all recorded.
    let times = b
        .eval(
            "return [...document.querySelectorAll(`#records tr[data-id='${arguments[0]}'] td`)].slice(5, 9).map(td => td.innerText);",
            vec![json!(id)],
        )
        .await?;
    let times: Vec<String> = serde_json::from_value(times)?;
    assert!(
        times.len() == 4 && times.iter().all(|t| t.ends_with(" UTC")),
        "a milestone time is missing: {times:?}"
    );
    assert_eq!(b.prop("#maintenance-banner", "hidden").await?, json!(true));
    b.screenshot(&shots, &format!("{shot:02}-records-succeeded"))
        .await?;
    shot += 1;

    // The admin rolls it back from the record's page: target stopped, the metadata
    // restored from this upgrade's backup, 1.0.0 started again.
    b.click(&format!("#records a[href='#/upgrade/{id}']"))
        .await?;
    b.click("#act-rollback").await?;
    let asked = b.accept_dialog().await?;
    assert!(asked.contains("restore every metadata database"), "{asked}");
    b.wait_text_for("#record-header h1", "rolled back", STEP_GUARD)
        .await?;
    let stepper = b.text("#stepper").await?;
    for exit in [
        "Stop target version",
        "Restore backups",
        "Start previous version",
    ] {
        assert!(stepper.contains(exit), "{exit} missing: {stepper}");
    }
    assert_eq!(platform.client.health().await?.version, "1.0.0");
    // The page follows the last step that ran.
    b.wait_text("#step-title", "Start previous version").await?;
    b.wait_text("#no-actions", "has ended (rolled back)")
        .await?;
    b.screenshot(&shots, &format!("{shot:02}-rolled-back"))
        .await?;
    shot += 1;

    // The audit log has what was done through the console, refusals included.
    b.click("#nav a[data-nav='audit']").await?;
    b.wait_text("#audit", "ada").await?;
    for (action, outcome) in [
        ("version.upload", "refused"),
        ("version.upload", "ok"),
        ("upgrade.start", "ok"),
        ("upgrade.rollback", "ok"),
    ] {
        assert!(
            b.exists(&format!(
                "#audit tr[data-action='{action}'][data-outcome='{outcome}']"
            ))
            .await?,
            "no {action} {outcome} in the audit log: {}",
            b.text("#audit").await?
        );
    }
    let audit = b.text("#audit").await?;
    assert!(
        !audit.contains(PASSWORD),
        "a password reached the audit page"
    );
    b.screenshot(&shots, &format!("{shot:02}-audit")).await?;

    b.close().await?;
    server.abort();
    drop(platform);
    store.close().await;
    Ok(())
}
