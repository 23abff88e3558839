//! The contract client against the sample platform's `sample-scheduler`, itself run by the
//! process driver.

use std::time::Duration;

use changeover_drivers::process::{AppSpec, HealthCheck, Probe};
use changeover_drivers::scheduler::{
    ContractClient, Environment, InstanceStatus, SchedulerAdapter, StatisticsQuery, ToggleChange,
};
use serde_json::json;

use crate::support::Harness;

async fn start_scheduler(harness: &Harness) -> String {
    let db = format!("sqlite://{}", harness.dir.path().join("meta.db").display());
    let data = harness.dir.path().join("sample-data");
    let mut spec = AppSpec::new(
        "scheduler",
        "1.0.0",
        vec![
            crate::platform::scheduler_bin(),
            "--platform-version".into(),
            "1.0.0".into(),
            "--port".into(),
            "{port}".into(),
            "--db".into(),
            db,
            "--data-dir".into(),
            data.to_string_lossy().into_owned(),
            "--tick-ms".into(),
            "100".into(),
        ],
    );
    spec.env.insert("RUST_LOG".into(), "warn".into());
    spec.health = HealthCheck {
        probe: Probe::Http {
            path: "/health".into(),
        },
        timeout_ms: 1_000,
        retries: 150,
        interval_ms: 100,
    };
    let info = harness.driver().start(&spec).await.unwrap();
    format!("http://{}", info.address)
}

/// Adds a one-task workflow through the sample's admin API and triggers it.
async fn trigger(base: &str, workflow: &str, command: &str, date: &str) -> String {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let body = json!({"name": workflow, "tenant": "acme", "environment": "prod",
        "tasks": [{"name": "t1", "command": command}]});
    let response = http
        .post(format!("{base}/admin/workflows"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let answer: serde_json::Value = http
        .post(format!("{base}/admin/workflows/{workflow}/trigger"))
        .json(&json!({"schedule_type": "adhoc", "business_date": date}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["instance_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_contract_client_drives_the_sample_scheduler() {
    let harness = Harness::new();
    let base = start_scheduler(&harness).await;
    let client = ContractClient::new(&base).unwrap();

    let health = client.health().await.unwrap();
    assert_eq!(health.version, "1.0.0");

    let toggles = client.toggles().await.unwrap();
    let environments: Vec<Environment> = toggles.iter().map(|t| t.environment).collect();
    assert!(environments.contains(&Environment::Dev) && environments.contains(&Environment::Prod));
    let dev = toggles
        .iter()
        .find(|t| t.environment == Environment::Dev)
        .unwrap();
    assert!(!dev.scheduling, "dev scheduling is always off");
    let prod = client
        .set_toggles(
            Environment::Prod,
            ToggleChange {
                scheduling: Some(false),
                execution: Some(true),
            },
        )
        .await
        .unwrap();
    assert!(!prod.scheduling && prod.execution);
    let err = client
        .set_toggles(
            Environment::Dev,
            ToggleChange {
                scheduling: Some(true),
                execution: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("dev_scheduling_always_off"), "{err}");
    assert!(!err.is_retryable());

    let today = chrono::Utc::now().date_naive();
    let id = trigger(&base, "long", "sleep 30", &today.to_string()).await;
    let mut running = Vec::new();
    for _ in 0..200 {
        running = client.running_instances().await.unwrap();
        if running.iter().any(|i| i.id == id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let instance = running
        .iter()
        .find(|i| i.id == id)
        .expect("the triggered instance runs");
    assert_eq!(instance.status, InstanceStatus::Running);
    assert_eq!(instance.tenant, "acme");
    assert_eq!(instance.business_date, today);

    let asked = vec![id.clone(), "999999".to_owned()];
    let first = client.terminate(&asked).await.unwrap();
    assert_eq!(first.terminated, vec![id.clone()]);
    assert_eq!(first.not_found, vec!["999999".to_owned()]);
    let second = client.terminate(std::slice::from_ref(&id)).await.unwrap();
    assert!(second.terminated.is_empty());
    assert_eq!(second.already_finished, vec![id.clone()]);

    let rerun = client
        .rerun("upgrade-1-rerun", std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(rerun.rerun.len(), 1, "{rerun:?}");
    assert_eq!(rerun.rerun[0].id, id);
    let again = client
        .rerun("upgrade-1-rerun", std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(again, rerun, "same request id: same answer, nothing new");
    let new_id = rerun.rerun[0].new_id.clone();
    client.terminate(&[new_id]).await.unwrap();

    let rows = client
        .statistics(&StatisticsQuery {
            from: today,
            to: today,
            tenant: Some("acme".into()),
            environment: Some(Environment::Prod),
        })
        .await
        .unwrap();
    let total: u64 = rows.iter().map(|r| r.count).sum();
    assert_eq!(total, 2, "the killed instance and its re-run: {rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.tenant == "acme" && r.business_date == today)
    );

    // Decodes (nothing succeeded yesterday here, so nothing is listed).
    let failed = client
        .failed_today_succeeded_yesterday(today)
        .await
        .unwrap();
    assert!(failed.is_empty(), "{failed:?}");
}
