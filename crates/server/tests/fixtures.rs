//! Upstream servers, stores with upgrade records, and a running gateway for the tests.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use changeover_core::Mode;
use changeover_core::upgrade::{
    Announcement, NewUpgrade, PlanShape, Status, Timestamp, UpgradeRecord,
};
use changeover_server::auth::{self, Actor, Role, Secret};
use changeover_server::gateway::{Gateway, GatewayConfig, MaintenanceWatch};
use changeover_store::Store;
use changeover_store::upgrades::UpgradeRow;
use tokio::sync::oneshot;

/// A tiny upstream answering `NAME PATH` to every request; drained gracefully on `stop`.
pub struct Upstream {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    pub async fn start(name: &'static str) -> anyhow::Result<Upstream> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(any(move |uri: axum::http::Uri| async move {
            // A little work so that requests are in flight when the table switches.
            tokio::time::sleep(Duration::from_millis(2)).await;
            format!("{name} {}", uri.path())
        }));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Upstream {
            addr,
            stop: Some(tx),
            task,
        })
    }

    /// Stops accepting, finishes the requests in flight, then returns (a drained instance).
    pub async fn drain(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

/// Writes `routes.json` the way the process driver does: whole, by rename.
pub fn write_routes(state_dir: &Path, app: &str, current: SocketAddr) -> anyhow::Result<()> {
    let table =
        serde_json::json!({"apps": {app: {"current": current.to_string(), "draining": []}}});
    let tmp = state_dir.join("routes.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(&table)?)?;
    std::fs::rename(&tmp, state_dir.join("routes.json"))?;
    Ok(())
}

/// An upgrade record in the store; `maintenance` puts it in maintenance mode.
pub fn record(id: &str, maintenance: bool) -> anyhow::Result<UpgradeRecord> {
    let mut record = UpgradeRecord::configure(
        NewUpgrade {
            id: id.to_owned(),
            platform: "demo".into(),
            from_version: "1.3.0".into(),
            to_version: "3.2.0".into(),
            mode: Mode::Full,
            shape: PlanShape {
                before_hooks: false,
                after_hooks: false,
            },
            announcement: Announcement::new(
                Some("2026-11-24 03:30"),
                Some("ops@example.com"),
                Some("+49 30 1234567"),
            )?,
            risk_accepted: true,
            auto_advance: false,
            configuration: Default::default(),
        },
        Timestamp::from_unix_millis(1_800_000_000_000),
    );
    record.status = Status::Upgrading;
    if maintenance {
        record.milestones.entered_maintenance_at =
            Some(Timestamp::from_unix_millis(1_800_000_001_000));
    }
    Ok(record)
}

pub fn row(record: &UpgradeRecord) -> anyhow::Result<UpgradeRow> {
    Ok(UpgradeRow {
        id: record.id.clone(),
        platform: record.platform.clone(),
        from_version: record.from_version.clone(),
        to_version: record.to_version.clone(),
        mode: "full-downtime".into(),
        status: "upgrading".into(),
        active: true,
        created_at: "2027-01-15T08:00:00.000000Z".into(),
        updated_at: "2027-01-15T08:00:01.000000Z".into(),
        record: serde_json::to_string(record)?,
    })
}

/// A gateway serving `config_yaml` on port 0, polling `store` every 20 ms.
pub async fn gateway(
    config_yaml: &str,
    store: Store,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let config = GatewayConfig::parse(config_yaml).map_err(anyhow::Error::msg)?;
    let routes = config.validate().map_err(anyhow::Error::msg)?;
    let gateway = Gateway::new(
        routes,
        config.state_dir.clone(),
        MaintenanceWatch::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = gateway
            .serve(listener, store, Duration::from_millis(20))
            .await;
    });
    Ok((addr, task))
}

/// The password every test user gets (long enough for the policy).
pub const PASSWORD: &str = "a long enough password";

/// Adds user `name` with `role` (password [`PASSWORD`]), as `changeover user add` does,
/// and returns an API token issued to them under `label`.
pub async fn user_with_token(
    store: &Store,
    name: &str,
    role: Role,
    label: &str,
) -> anyhow::Result<Secret> {
    let setup = Actor {
        name: "setup",
        peer: "cli",
    };
    auth::add_user(store, &setup, name, role, &Secret::new(PASSWORD)).await?;
    Ok(auth::issue_token(store, &setup, name, label).await?)
}
