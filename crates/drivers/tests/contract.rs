//! The contract client against a real HTTP server speaking the changeover scheduler
//! contract: an in-test axum implementation (error paths, timeouts) and, when the
//! workspace has it, the sample platform's `sample-scheduler`.

mod fake_scheduler;
mod sample_scheduler;

use std::time::Duration;

use changeover_drivers::scheduler::{
    ContractClient, Environment, SchedulerAdapter, SchedulerError, StatisticsQuery, ToggleChange,
};
use chrono::NaiveDate;

fn date(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

#[tokio::test]
async fn toggles_are_read_and_changed_and_dev_scheduling_stays_off() {
    let server = fake_scheduler::start().await;
    let client = ContractClient::new(&server.base_url).unwrap();
    let adapter: std::sync::Arc<dyn SchedulerAdapter> = std::sync::Arc::new(client);

    let health = ContractClient::new(&server.base_url)
        .unwrap()
        .health()
        .await
        .unwrap();
    assert_eq!(
        (health.status.as_str(), health.version.as_str()),
        ("ok", "1.0.0")
    );
    assert!(
        adapter.describe().contains(&server.base_url),
        "{}",
        adapter.describe()
    );

    let toggles = adapter.toggles().await.unwrap();
    assert_eq!(toggles.len(), 2);
    let prod = adapter
        .set_toggles(
            Environment::Prod,
            ToggleChange {
                scheduling: Some(false),
                execution: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(prod.environment, Environment::Prod);
    assert!(!prod.scheduling && prod.execution);

    let err = adapter
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
    assert!(
        matches!(err, SchedulerError::Rejected { status: 409, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn terminate_and_rerun_are_idempotent() {
    let server = fake_scheduler::start().await;
    let client = ContractClient::new(&server.base_url).unwrap();
    let running = client.running_instances().await.unwrap();
    assert_eq!(running.len(), 2);
    let ids: Vec<String> = running.iter().map(|i| i.id.clone()).collect();

    let mut asked = ids.clone();
    asked.push("missing".into());
    let first = client.terminate(&asked).await.unwrap();
    assert_eq!(first.terminated, ids);
    assert_eq!(first.not_found, vec!["missing".to_owned()]);
    let second = client.terminate(&ids).await.unwrap();
    assert!(second.terminated.is_empty());
    assert_eq!(second.already_finished, ids);
    assert!(client.running_instances().await.unwrap().is_empty());

    let rerun = client.rerun("upgrade-7-rerun", &ids).await.unwrap();
    assert_eq!(rerun.rerun.len(), 2);
    let again = client.rerun("upgrade-7-rerun", &ids).await.unwrap();
    assert_eq!(again, rerun, "same request id, same answer");
    assert_eq!(server.reruns_started(), 2, "nothing new started");

    let err = client.rerun(" ", &ids).await.unwrap_err();
    assert!(matches!(err, SchedulerError::InvalidConfig(_)), "{err}");
}

#[tokio::test]
async fn statistics_and_failed_today_are_decoded() {
    let server = fake_scheduler::start().await;
    let client = ContractClient::new(&server.base_url).unwrap();
    let rows = client
        .statistics(&StatisticsQuery {
            from: date("2026-11-16"),
            to: date("2026-11-22"),
            tenant: Some("finance".into()),
            environment: Some(Environment::Prod),
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].tenant, "finance");
    assert_eq!(rows[0].business_date, date("2026-11-16"));
    let failed = client
        .failed_today_succeeded_yesterday(date("2026-11-23"))
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].task_name, "load_orders");
}

#[tokio::test]
async fn transport_problems_are_retryable_and_garbage_is_not() {
    let server = fake_scheduler::start().await;
    let slow = ContractClient::with_timeouts(
        &server.base_url,
        Duration::from_secs(2),
        Duration::from_millis(300),
    )
    .unwrap();
    let err = slow
        .statistics(&StatisticsQuery {
            from: date("2026-11-16"),
            to: date("2026-11-22"),
            tenant: Some("slow".into()),
            environment: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, SchedulerError::Timeout { .. }), "{err}");
    assert!(err.is_retryable());

    let err = ContractClient::new(&server.base_url)
        .unwrap()
        .failed_today_succeeded_yesterday(date("1999-01-01"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SchedulerError::InvalidResponse { .. }),
        "{err}"
    );
    assert!(!err.is_retryable());

    let err = ContractClient::new(&server.base_url)
        .unwrap()
        .failed_today_succeeded_yesterday(date("2000-01-01"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SchedulerError::Rejected { status: 503, .. }),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains("metadata database is restarting"),
        "{err}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = ContractClient::new(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .toggles()
        .await
        .unwrap_err();
    assert!(matches!(err, SchedulerError::Unreachable { .. }), "{err}");
    assert!(err.is_retryable());
}
