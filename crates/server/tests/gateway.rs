//! The gateway: maintenance mode per route kind, and rolling hand-overs that lose nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use changeover_store::Engine;
use changeover_store::test_utils::TestLocation;

use crate::fixtures::{Upstream, gateway, record, row, write_routes};

fn config(
    state_dir: &std::path::Path,
    console: std::net::SocketAddr,
    api: std::net::SocketAddr,
) -> String {
    format!(
        "state_dir: {}\nroutes:\n  - {{prefix: /data/, kind: dataservice, app: dataservice}}\n  - {{prefix: /api/, kind: api, upstream: '{api}'}}\n  - {{prefix: /, kind: console, upstream: '{console}'}}\n",
        state_dir.display()
    )
}

async fn maintenance_by_route_kind(engine: Engine) -> anyhow::Result<()> {
    let location = TestLocation::new(engine).await;
    let store = location.open().await;
    let dir = tempfile::tempdir()?;
    let data = Upstream::start("data").await?;
    let console = Upstream::start("console").await?;
    let api = Upstream::start("api").await?;
    write_routes(dir.path(), "dataservice", data.addr)?;
    let mut rec = record("up-1", true)?;
    store.upgrades().insert(&row(&rec)?).await?;
    let (addr, task) = gateway(&config(dir.path(), console.addr, api.addr), store.clone()).await?;
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");

    let resp = http.get(format!("{base}/data/orders?x=1")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await?, "data /data/orders");

    let resp = http.get(format!("{base}/console/home")).send().await?;
    assert_eq!(resp.status(), 503);
    assert!(
        resp.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    let page = resp.text().await?;
    for expected in ["2026-11-24 03:30", "ops@example.com", "+49 30 1234567"] {
        assert!(page.contains(expected), "page lacks {expected}: {page}");
    }

    let resp = http
        .post(format!("{base}/api/v1/jobs"))
        .body("{}")
        .send()
        .await?;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "60");
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(body["code"], "maintenance");

    // Maintenance exits: the console and the API pass again (within a few polls).
    rec.milestones.maintenance_exited_at = rec.milestones.entered_maintenance_at;
    store.upgrades().save(&row(&rec)?).await?;
    let mut console_status = 0;
    for _ in 0..500 {
        let resp = http.get(format!("{base}/console/home")).send().await?;
        console_status = resp.status().as_u16();
        if console_status == 200 {
            assert_eq!(resp.text().await?, "console /console/home");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        console_status, 200,
        "the console stayed closed after maintenance exit"
    );
    let resp = http.post(format!("{base}/api/v1/jobs")).send().await?;
    assert_eq!(resp.text().await?, "api /api/v1/jobs");
    task.abort();
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn maintenance_by_route_kind_sqlite() -> anyhow::Result<()> {
    maintenance_by_route_kind(Engine::Sqlite).await
}

#[tokio::test]
async fn maintenance_by_route_kind_postgres() -> anyhow::Result<()> {
    maintenance_by_route_kind(Engine::Postgres).await
}

#[tokio::test]
async fn unknown_paths_and_missing_upstreams_are_json_errors() -> anyhow::Result<()> {
    let location = TestLocation::new(Engine::Sqlite).await;
    let store = location.open().await;
    let dir = tempfile::tempdir()?;
    let yaml = format!(
        "state_dir: {}\nroutes:\n  - {{prefix: /data/, kind: dataservice, app: dataservice}}\n",
        dir.path().display()
    );
    let (addr, task) = gateway(&yaml, store).await?;
    let resp = reqwest::get(format!("http://{addr}/elsewhere")).await?;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<serde_json::Value>().await?["code"], "no_route");
    // No routes.json yet: the platform is not running.
    let resp = reqwest::get(format!("http://{addr}/data/x")).await?;
    assert_eq!(resp.status(), 502);
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(body["code"], "no_upstream");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("dataservice"),
        "{body}"
    );
    task.abort();
    Ok(())
}

/// A steady loop of requests while the routing table switches from the old instance to the
/// new one and the old one drains and stops: every request is answered 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn routes_switch_under_load_loses_no_request() -> anyhow::Result<()> {
    let location = TestLocation::new(Engine::Sqlite).await;
    let store = location.open().await;
    let dir = tempfile::tempdir()?;
    let old = Upstream::start("old").await?;
    let new = Upstream::start("new").await?;
    write_routes(dir.path(), "dataservice", old.addr)?;
    let yaml = format!(
        "state_dir: {}\nroutes:\n  - {{prefix: /, kind: dataservice, app: dataservice}}\n",
        dir.path().display()
    );
    let (addr, task) = gateway(&yaml, store).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let served_old = Arc::new(AtomicUsize::new(0));
    let served_new = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for n in 0..8 {
        let (stop, served_old, served_new) = (stop.clone(), served_old.clone(), served_new.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let url = format!("http://{addr}/orders/{n}");
                let sent = if n % 2 == 0 {
                    http.get(&url).send().await
                } else {
                    http.put(&url).body("x").send().await
                };
                match sent {
                    Ok(resp) if resp.status() == 200 => {
                        let text = resp.text().await.unwrap_or_default();
                        if text.starts_with("old ") {
                            served_old.fetch_add(1, Ordering::Relaxed);
                        } else if text.starts_with("new ") {
                            served_new.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failures.push(format!("body {text:?}"));
                        }
                    }
                    Ok(resp) => failures.push(format!("status {}", resp.status())),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            failures
        }));
    }
    let wait_for = |counter: Arc<AtomicUsize>, at_least: usize| async move {
        for _ in 0..2000 {
            if counter.load(Ordering::Relaxed) >= at_least {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        false
    };
    assert!(
        wait_for(served_old.clone(), 100).await,
        "the old instance never served"
    );
    // The hand-over: new requests go to the new instance, the old one drains and stops.
    write_routes(dir.path(), "dataservice", new.addr)?;
    old.drain().await;
    let before = served_new.load(Ordering::Relaxed);
    assert!(
        wait_for(served_new.clone(), before + 200).await,
        "the new instance never served"
    );
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for c in clients {
        failures.extend(c.await?);
    }
    assert!(
        failures.is_empty(),
        "{} requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    new.drain().await;
    task.abort();
    Ok(())
}

/// The engine stops the console's application right after entering maintenance mode; a
/// gateway whose poller has not seen that yet must still answer with the maintenance page,
/// not a 502, when the console's upstream is gone.
#[tokio::test]
async fn a_failed_console_upstream_reads_maintenance_mode_again() -> anyhow::Result<()> {
    use changeover_server::gateway::{Gateway, GatewayConfig, MaintenanceWatch};
    let location = TestLocation::new(Engine::Sqlite).await;
    let store = location.open().await;
    // A port nothing listens on: the console application is stopped.
    let gone = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let config = GatewayConfig::parse(&format!(
        "routes:\n  - {{prefix: /api/, kind: api, upstream: '{gone}'}}\n  - {{prefix: /, kind: console, upstream: '{gone}'}}\n"
    ))
    .map_err(anyhow::Error::msg)?;
    let routes = config.validate().map_err(anyhow::Error::msg)?;
    let gateway = Gateway::new(routes, None, MaintenanceWatch::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // The poller reads the store once at start, then only after an hour.
    let served = tokio::spawn(gateway.serve(
        listener,
        store.clone(),
        std::time::Duration::from_secs(3600),
    ));
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    // Not in maintenance: a stopped console is a gateway error.
    let resp = http.get(format!("{base}/console")).send().await?;
    assert_eq!(resp.status(), 502);

    // Maintenance mode is entered; the poller has not read it.
    store
        .upgrades()
        .insert(&row(&record("up-2", true)?)?)
        .await?;
    let resp = http.get(format!("{base}/console")).send().await?;
    assert_eq!(resp.status(), 503);
    let page = resp.text().await?;
    assert!(page.contains("being upgraded"), "{page}");
    assert!(page.contains("ops@example.com"), "{page}");
    let resp = http.get(format!("{base}/api/v1/jobs")).send().await?;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.json::<serde_json::Value>().await?["code"],
        "maintenance"
    );
    served.abort();
    store.close().await;
    Ok(())
}
