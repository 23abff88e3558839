//! `changeover serve`: the HTTP API.

use changeover_server::api::Api;
use clap::Args as ClapArgs;

use crate::context::Context;

#[derive(Debug, ClapArgs)]
#[command(
    about = "Serve the HTTP API (/api/v1, /openapi.json)",
    long_about = "Serve the HTTP API (/api/v1, /openapi.json).\n\n\
                  Every endpoint but login needs `Authorization: Bearer TOKEN`: a token from \
                  `changeover user token NAME` or from POST /api/v1/login. Add the first admin \
                  with `changeover user add NAME --role admin`.",
    after_help = "Examples:\n  changeover serve\n  changeover serve --listen 127.0.0.1:8470"
)]
pub struct Args {
    /// Address to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8470")]
    listen: std::net::SocketAddr,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            crate::failure::failed(
                format!("cannot listen on {}: {e}", args.listen),
                "pick a free address with --listen",
            )
        })?;
    tracing::info!(listen = %args.listen, "API listening");
    Api::new(store).serve(listener).await?;
    Ok(())
}
