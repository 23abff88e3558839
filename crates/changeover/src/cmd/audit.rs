//! `changeover audit`: the audit log, newest first.

use changeover_store::audit::AuditEntry;
use clap::Args as ClapArgs;

use crate::context::Context;
use crate::output;

#[derive(Debug, ClapArgs)]
#[command(
    about = "Show the audit log (who changed what, when, from where)",
    long_about = "Show the audit log (who changed what, when, from where).\n\nEvery change through the CLI or the API is logged with its actor, peer address and outcome.",
    after_help = "Examples:\n  changeover audit\n  changeover audit --limit 500 --json"
)]
pub struct Args {
    /// How many entries, newest first
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = if let Some(remote) = &ctx.remote {
        let entries = crate::remote::audit::entries(remote, args.limit).await?;
        if ctx.json {
            return output::json(&entries);
        }
        rows(&entries)
    } else {
        let store = ctx.store().await?;
        let entries = store.audit().recent(args.limit).await?;
        if ctx.json {
            return output::json(&entries);
        }
        rows(&entries)
    };
    if rows.is_empty() {
        println!("the audit log is empty");
        return Ok(());
    }
    println!(
        "{}",
        output::table(
            &[
                "at", "actor", "action", "target", "from", "outcome", "detail"
            ],
            rows
        )
    );
    Ok(())
}

/// The rows `changeover audit` prints, from the local store or the server.
fn rows(entries: &[AuditEntry]) -> Vec<Vec<String>> {
    entries
        .iter()
        .map(|e| {
            vec![
                output::when(e.at),
                e.actor.clone(),
                e.action.clone(),
                e.target.clone(),
                e.peer.clone(),
                e.outcome.clone(),
                e.detail.clone(),
            ]
        })
        .collect()
}
