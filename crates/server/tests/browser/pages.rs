//! The console's pages over records in the store: login and logout, the records list,
//! a step page with its items, log and the actions the role and the record allow, the
//! maintenance announcement on every page and the operations it disables.

use changeover_core::upgrade::{
    Item, ItemState, LogLevel, StepKind, StepPhase, Timestamp, UpgradeRecord,
};
use changeover_server::api::Api;
use changeover_server::auth::{self, Actor, Role, Secret};
use changeover_store::Engine;
use changeover_store::test_utils::TestLocation;
use changeover_store::upgrades::UpgradeRow;
use reqwest::StatusCode;

use super::webdriver::Browser;
use crate::fixtures::record;

use crate::fixtures::PASSWORD;

/// A full-downtime record in maintenance mode at its force-terminate step: one instance
/// terminated, one still running, a log with a line of that step.
fn record_at_force_terminate() -> anyhow::Result<UpgradeRecord> {
    let mut r = record("upg-console-1", true)?;
    let t = |s: i64| Timestamp::from_unix_millis(1_800_000_000_000 + s * 1000);
    r.milestones.started_at = Some(t(1));
    r.steps[0].phase = StepPhase::Done;
    r.steps[0].started_at = Some(t(1));
    r.steps[0].finished_at = Some(t(2));
    r.cursor = 1;
    let step = &mut r.steps[1];
    assert_eq!(step.kind, StepKind::ForceTerminateTasks);
    step.phase = StepPhase::NeedsOperator {
        reason: "1 instance still runs: terminate it or wait for it to finish".into(),
    };
    step.attempts = 1;
    step.started_at = Some(t(3));
    let mut done = Item::new("inst-41");
    done.finish(ItemState::Succeeded, t(4));
    let mut running = Item::new("inst-42");
    running.begin(t(3));
    step.items = vec![done, running];
    r.note(
        LogLevel::Info,
        Some(StepKind::ForceTerminateTasks),
        "terminated inst-41",
        t(4),
    );
    r.note(
        LogLevel::Warn,
        Some(StepKind::ForceTerminateTasks),
        "needs the operator: 1 instance still runs",
        t(5),
    );
    Ok(r)
}

fn row_of(r: &UpgradeRecord, status: &str, active: bool) -> anyhow::Result<UpgradeRow> {
    Ok(UpgradeRow {
        id: r.id.clone(),
        platform: r.platform.clone(),
        from_version: r.from_version.clone(),
        to_version: r.to_version.clone(),
        mode: r.mode.cli_name().into(),
        status: status.into(),
        active,
        created_at: "2027-01-15T08:00:00.000000Z".into(),
        updated_at: "2027-01-15T08:00:05.000000Z".into(),
        record: serde_json::to_string(r)?,
    })
}

#[tokio::test]
async fn console_serves_its_assets_with_a_strict_policy() -> anyhow::Result<()> {
    let location = TestLocation::new(Engine::Sqlite).await;
    let store = location.open().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(Api::new(store.clone()).serve(listener));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let resp = http.get(format!("http://{addr}/")).send().await?;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/console/");
    for (path, kind, needle) in [
        (
            "/console/",
            "text/html",
            "<script src=\"base.js\"></script>",
        ),
        ("/console/base.js", "text/javascript", "sessionStorage"),
        (
            "/console/steps.js",
            "text/javascript",
            "function allowedActions",
        ),
        (
            "/console/console.js",
            "text/javascript",
            "addEventListener('hashchange'",
        ),
        ("/console/console.css", "text/css", "#maintenance-banner"),
    ] {
        let resp = http.get(format!("http://{addr}{path}")).send().await?;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers();
        assert!(h["content-type"].to_str()?.starts_with(kind), "{path}");
        let csp = h["content-security-policy"].to_str()?;
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(resp.text().await?.contains(needle), "{path}");
    }
    let resp = http
        .get(format!("http://{addr}/console/nope.js"))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // The API's own fallback still answers unknown API paths with its JSON error.
    let resp = http
        .get(format!("http://{addr}/api/v1/nope"))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.json::<serde_json::Value>().await?["code"], "not_found");
    server.abort();
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn console_pages_show_records_steps_and_maintenance() -> anyhow::Result<()> {
    let location = TestLocation::new(Engine::Sqlite).await;
    let store = location.open().await;
    let cli = Actor {
        name: "setup",
        peer: "cli",
    };
    let password = Secret::new(PASSWORD);
    auth::add_user(&store, &cli, "ada", Role::Admin, &password).await?;
    auth::add_user(&store, &cli, "vera", Role::Viewer, &password).await?;
    let r = record_at_force_terminate()?;
    store
        .upgrades()
        .insert(&row_of(&r, "upgrading", true)?)
        .await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(Api::new(store.clone()).serve(listener));
    let shots = super::screenshot_dir("console_pages")?;
    let b = Browser::start().await?;

    // Login: a wrong password is refused on the page, the right one opens the records.
    b.goto(&format!("http://{addr}/")).await?;
    b.type_into("#login-name", "ada").await?;
    b.type_into("#login-password", "not the password").await?;
    b.click("#login-submit").await?;
    b.wait_text("#login-error", "wrong user name or password")
        .await?;
    b.screenshot(&shots, "01-login-refused").await?;
    b.type_into("#login-password", PASSWORD).await?;
    b.click("#login-submit").await?;
    let row = b
        .wait_text("#records tr[data-id='upg-console-1']", "upgrading")
        .await?;
    for shown in ["1.3.0", "3.2.0", "full downtime", "2027-01-15 08:00:01 UTC"] {
        assert!(
            row.contains(shown),
            "the records row lacks {shown:?}: {row}"
        );
    }
    assert_eq!(b.text("#who").await?, "ada (admin)");
    let token = b
        .eval("return sessionStorage.getItem('changeover.token');", vec![])
        .await?;
    assert!(token.as_str().is_some_and(|t| !t.is_empty()), "{token}");
    // One upgrade at a time: starting another is disabled, with the reason.
    assert_eq!(b.prop("#start-upgrade", "disabled").await?, true);
    assert!(
        b.text("#start-reason")
            .await?
            .contains("only one upgrade at a time")
    );
    // The maintenance announcement is on the page.
    let banner = b
        .wait_text(
            "#maintenance-banner",
            "Estimated completion: 2026-11-24 03:30",
        )
        .await?;
    assert!(
        banner.contains("ops@example.com, +49 30 1234567"),
        "{banner}"
    );
    assert!(banner.contains("(upg-console-1)"), "{banner}");
    b.screenshot(&shots, "02-records").await?;

    // The step page: the current step, its items and log, and the actions it allows.
    b.click("#records a[href='#/upgrade/upg-console-1']")
        .await?;
    b.wait_text("#step-title", "Force-terminate task execution")
        .await?;
    assert_eq!(
        b.attr("#step", "data-step").await?.as_deref(),
        Some("force_terminate_tasks")
    );
    assert!(
        b.text("#step-phase")
            .await?
            .contains("1 instance still runs")
    );
    assert_eq!(
        b.attr("#step-progress", "data-percent").await?.as_deref(),
        Some("50")
    );
    // The bar is drawn at that width (the style sheet policy allows no inline style).
    let ratio = b
        .eval(
            "const o = document.querySelector('#step-progress'); return o.firstChild.getBoundingClientRect().width / o.getBoundingClientRect().width;",
            vec![],
        )
        .await?
        .as_f64()
        .unwrap_or(0.0);
    assert!(
        (0.45..0.55).contains(&ratio),
        "the progress bar is drawn at {ratio}"
    );
    assert!(
        b.text("#items tr[data-item='inst-41']")
            .await?
            .contains("succeeded")
    );
    assert!(
        b.text("#items tr[data-item='inst-42']")
            .await?
            .contains("running")
    );
    let log = b.text("#step-log").await?;
    assert!(
        log.contains("terminated inst-41") && log.contains("WARN"),
        "{log}"
    );
    assert!(
        !log.contains("configured"),
        "another step's log line is shown: {log}"
    );
    let allowed = b
        .attr("#actions", "data-allowed")
        .await?
        .unwrap_or_default();
    for action in ["retry", "tasks-terminate", "terminate", "force-terminate"] {
        assert!(
            allowed.split(' ').any(|a| a == action),
            "{action} missing: {allowed}"
        );
    }
    for absent in ["next", "skip", "data-updates", "rollback", "tasks-rerun"] {
        assert!(
            !allowed.split(' ').any(|a| a == absent),
            "{absent} offered: {allowed}"
        );
    }
    assert!(b.exists("#act-tasks-terminate-all").await?);
    b.select("#force-mark", "succeeded").await?;
    assert!(b.select("#force-mark", "bogus").await.is_err());
    assert!(!b.exists("#act-skip").await?);
    let stepper = b.text("#stepper").await?;
    assert!(
        stepper.contains("1. Enter maintenance mode") && stepper.contains("8. Verify"),
        "{stepper}"
    );
    b.screenshot(&shots, "03-step-force-terminate-tasks")
        .await?;

    // Another step's page shows that step; the step's own actions stay on the current
    // step's page, the upgrade-wide ones (terminate, force-terminate) are on every page.
    b.click("#stepper li[data-kind='backup'] a").await?;
    b.wait_text("#step-title", "Database backup").await?;
    assert_eq!(
        b.attr("#step", "data-current").await?.as_deref(),
        Some("false")
    );
    let allowed = b
        .attr("#actions", "data-allowed")
        .await?
        .unwrap_or_default();
    assert_eq!(allowed, "terminate force-terminate");

    // Maintenance mode disables version upload and user changes, with the reason.
    b.click("#nav a[data-nav='versions']").await?;
    assert!(
        b.wait_text("#upload-reason", "Disabled during maintenance mode")
            .await?
            .contains("upg-console-1")
    );
    assert_eq!(b.prop("#upload-submit", "disabled").await?, true);
    assert!(
        b.text("#maintenance-banner")
            .await?
            .contains("Maintenance mode")
    );
    b.screenshot(&shots, "04-versions-in-maintenance").await?;
    b.click("#nav a[data-nav='users']").await?;
    b.wait_text("#user-reason", "Disabled during maintenance mode")
        .await?;
    assert_eq!(b.prop("#user-add", "disabled").await?, true);
    assert!(b.text("#users").await?.contains("vera"));

    // Logout forgets the token; a viewer sees the step without actions, and why.
    b.click("#logout").await?;
    b.wait_text("#view h1", "Sign in").await?;
    let token = b
        .eval("return sessionStorage.getItem('changeover.token');", vec![])
        .await?;
    assert!(token.is_null(), "{token}");
    b.type_into("#login-name", "vera").await?;
    b.type_into("#login-password", PASSWORD).await?;
    b.click("#login-submit").await?;
    b.wait_text("#who", "vera (viewer)").await?;
    b.goto(&format!("http://{addr}/console/#/upgrade/upg-console-1"))
        .await?;
    b.wait_text("#no-actions", "needs the operator role")
        .await?;
    b.screenshot(&shots, "05-step-as-viewer").await?;

    b.close().await?;
    server.abort();
    store.close().await;
    Ok(())
}

/// A partial-downtime record whose every step but verify is done, with a recorded
/// verification report that failed on one instance.
fn record_at_verify() -> anyhow::Result<UpgradeRecord> {
    use changeover_core::upgrade::verify::{Average, FailedInstance, RecentCount, Report, Verdict};
    use changeover_core::upgrade::{Announcement, Mode, NewUpgrade, PlanShape};
    let t = |s: i64| Timestamp::from_unix_millis(1_800_000_000_000 + s * 1000);
    let mut r = UpgradeRecord::configure(
        NewUpgrade {
            id: "upg-console-2".into(),
            platform: "sample".into(),
            from_version: "1.0.0".into(),
            to_version: "1.1.0".into(),
            mode: Mode::Partial,
            shape: PlanShape::default(),
            announcement: Announcement::new(Some("2027-01-15 10:00"), None, None)?,
            risk_accepted: true,
            auto_advance: false,
            configuration: Default::default(),
        },
        t(0),
    );
    r.status = changeover_core::upgrade::Status::Upgrading;
    r.milestones.entered_maintenance_at = Some(t(1));
    r.milestones.maintenance_exited_at = Some(t(30));
    let last = r.steps.len() - 1;
    for s in &mut r.steps[..last] {
        s.phase = StepPhase::Done;
    }
    r.cursor = last;
    assert_eq!(r.steps[last].kind, StepKind::Verify);
    r.steps[last].phase = StepPhase::NeedsOperator {
        reason: "the automatic verdict failed; look at the report, then skip with the risk accepted to overrule it".into(),
    };
    let today: changeover_core::upgrade::Date = "2027-01-15".parse().map_err(anyhow::Error::msg)?;
    r.verification = Some(Report {
        today,
        recent: RecentCount::Count {
            business_date: today,
            count: 12,
        },
        average: Average::Value {
            per_day: 10.0,
            days: 7,
        },
        distribution_date: "2027-01-14".parse().map_err(anyhow::Error::msg)?,
        distribution: [("succeeded".to_owned(), 9), ("failed".to_owned(), 3)].into(),
        failed_today_succeeded_yesterday: vec![FailedInstance {
            instance_id: "inst-77".into(),
            node_id: "wf3".into(),
            task_name: "load-orders".into(),
            node_type: "shell".into(),
            schedule_type: "cron".into(),
            updated_at: "2027-01-15 07:59:00".into(),
            status: "failed".into(),
        }],
        verdict: Verdict {
            passed: false,
            reasons: vec![
                "1 instance(s) failed today that succeeded yesterday (allowed: 0)".into(),
            ],
        },
        overrule: None,
    });
    r.note(LogLevel::Info, Some(StepKind::Verify), "step done", t(40));
    Ok(r)
}

#[tokio::test]
async fn console_verify_step_draws_the_recorded_report() -> anyhow::Result<()> {
    let location = TestLocation::new(Engine::Sqlite).await;
    let store = location.open().await;
    let cli = Actor {
        name: "setup",
        peer: "cli",
    };
    auth::add_user(&store, &cli, "otto", Role::Operator, &Secret::new(PASSWORD)).await?;
    let r = record_at_verify()?;
    store
        .upgrades()
        .insert(&row_of(&r, "upgrading", true)?)
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(Api::new(store.clone()).serve(listener));
    let shots = super::screenshot_dir("console_verify_step")?;
    let b = Browser::start().await?;

    b.goto(&format!("http://{addr}/console/#/upgrade/upg-console-2"))
        .await?;
    // Not signed in: the console asks for it first.
    b.wait_text("#view h1", "Sign in").await?;
    b.type_into("#login-name", "otto").await?;
    b.type_into("#login-password", PASSWORD).await?;
    b.click("#login-submit").await?;
    let row = b
        .wait_text("#records tr[data-id='upg-console-2']", "partial downtime")
        .await?;
    assert!(
        row.contains("2027-01-15 08:00:30 UTC"),
        "maintenance exit time missing: {row}"
    );
    // Maintenance mode exited: no announcement.
    assert_eq!(b.prop("#maintenance-banner", "hidden").await?, true);
    b.click("#records a[href='#/upgrade/upg-console-2']")
        .await?;
    b.wait_text("#step-title", "Verify").await?;
    assert_eq!(
        b.text("#recent-count").await?,
        "12 (business date 2027-01-15)"
    );
    assert_eq!(b.text("#average").await?, "10.0 per day over 7 day(s)");
    let segments = b
        .eval(
            "return [...document.querySelectorAll('#donut circle[data-status]')].map(c => c.dataset.status + '=' + c.dataset.count).join(' ');",
            vec![],
        )
        .await?;
    assert_eq!(segments, "failed=3 succeeded=9");
    assert_eq!(b.text("#verdict").await?, "Failed");
    assert!(
        b.text("#verdict-reasons")
            .await?
            .contains("failed today that succeeded yesterday")
    );
    let failed = b.text("#failed-list tr[data-instance='inst-77']").await?;
    assert!(
        failed.contains("load-orders") && failed.contains("cron"),
        "{failed}"
    );
    // The failed verdict waits for the operator: retry, or skip it with the risk accepted
    // (downtime has begun: no terminate; force-terminate is the admin's).
    assert_eq!(
        b.attr("#actions", "data-allowed").await?.as_deref(),
        Some("retry skip overrule")
    );
    assert!(
        b.text("#step-phase")
            .await?
            .contains("the automatic verdict failed")
    );
    assert_eq!(
        b.attr("#record-progress", "data-percent").await?.as_deref(),
        Some("83")
    );
    // Skipping without the acknowledgement is stopped on the page; with it, the request
    // goes out and the server's refusal (this server drives no platform) is shown.
    b.click("#act-skip").await?;
    b.wait_text("#action-error", "a risk you must acknowledge")
        .await?;
    b.click("#skip-risk").await?;
    b.click("#act-skip").await?;
    b.wait_text("#action-error", "this server acts on no platform")
        .await?;
    assert_eq!(
        b.prop("#skip-risk", "checked").await?,
        serde_json::json!(true)
    );
    // Overruling needs a reason on the page; with one, it reaches the server.
    b.click("#act-overrule").await?;
    b.wait_text("#action-error", "needs a reason").await?;
    b.eval(
        "document.querySelector('#overrule-reason').value = 'known flaky job, rerun by hand'; return true;",
        vec![],
    )
    .await?;
    b.click("#act-overrule").await?;
    b.wait_text("#action-error", "this server acts on no platform")
        .await?;
    b.screenshot(&shots, "01-verify-step").await?;
    b.close().await?;
    server.abort();
    store.close().await;
    Ok(())
}
