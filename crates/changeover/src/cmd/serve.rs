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
                  with `changeover user add NAME --role admin`.\n\n\
                  The upgrade endpoints act on the platform the same flags and environment \
                  as `changeover upgrade` describe (--bin-dir, --data-dir, --contract-url, \
                  --metadb-url); the server drives each upgrade in the background under the \
                  store's one-upgrade-at-a-time lease.",
    after_help = "Examples:\n  changeover serve\n  changeover serve --listen 127.0.0.1:8470 --data-dir /srv/platform --contract-url http://127.0.0.1:18080"
)]
pub struct Args {
    #[command(flatten)]
    platform: super::upgrade::PlatformArgs,
    /// Address to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8470")]
    listen: std::net::SocketAddr,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let mut console = super::upgrade::console(
        &args.platform,
        ctx,
        &store,
        format!("changeover-serve-{}", std::process::id()),
    )?;
    console.progress = false;
    console.json = false;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            crate::failure::failed(
                format!("cannot listen on {}: {e}", args.listen),
                "pick a free address with --listen",
            )
        })?;
    tracing::info!(listen = %args.listen, "API listening");
    Api::with_platform(store, console).serve(listener).await?;
    Ok(())
}
