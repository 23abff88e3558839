//! `changeover gateway`: the maintenance gateway in front of the platform.

use std::time::Duration;

use changeover_server::gateway::{DEFAULT_POLL, Gateway, GatewayConfig, MaintenanceWatch};
use changeover_store::{Location, Store};
use clap::Args as ClapArgs;

use crate::context::Context;

#[derive(Debug, ClapArgs)]
#[command(
    about = "Run the maintenance gateway (reverse proxy) in front of the platform",
    long_about = "Run the maintenance gateway (reverse proxy) in front of the platform.\n\n\
                  Routes come from the gateway config (`routes: [{prefix, kind, app|upstream}]`). \
                  While an upgrade holds maintenance mode, console routes get the maintenance page \
                  with the announcement, API routes get 503 with Retry-After, and data-service \
                  routes pass. Upstreams of `app` routes follow the process driver's routes.json, \
                  so a rolling upgrade loses no request.",
    after_help = "Examples:\n  changeover gateway --gateway-config gateway.yaml\n  changeover gateway --gateway-config gateway.yaml --listen 127.0.0.1:8480"
)]
pub struct Args {
    /// The gateway config file (YAML)
    #[arg(
        long = "gateway-config",
        value_name = "FILE",
        default_value = "gateway.yaml"
    )]
    gateway_config: std::path::PathBuf,
    /// Address to listen on (overrides `listen:` in the config)
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
}

/// Where to listen when neither the config nor --listen says.
const DEFAULT_LISTEN: &str = "127.0.0.1:8480";

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let (config, routes) = GatewayConfig::load(&args.gateway_config)
        .map_err(|e| crate::failure::bad_input(e.to_string(), "fix the gateway config file"))?;
    let store = match &config.store {
        Some(given) => Store::open(&Location::parse(given)?).await?,
        None => ctx.store().await?,
    };
    let listen = match (args.listen, config.listen) {
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => DEFAULT_LISTEN.parse()?,
    };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        crate::failure::failed(
            format!("cannot listen on {listen}: {e}"),
            "pick a free address with --listen",
        )
    })?;
    tracing::info!(%listen, routes = routes.len(), "gateway listening");
    let gateway = Gateway::new(
        routes,
        config.state_dir.clone(),
        MaintenanceWatch::default(),
    );
    let poll: Duration = DEFAULT_POLL;
    gateway.serve(listener, store, poll).await?;
    Ok(())
}
