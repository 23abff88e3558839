//! `changeover version check`: which upgrade modes are allowed from one version to another,
//! under the target bundle's compatibility rules, and why the others are refused.

use changeover_core::compat::{self, CompatibilityReport};
use changeover_core::{Mode, Version};
use serde::Serialize;

use crate::context::Context;
use crate::failure::bad_input;
use crate::output;

/// Say which upgrade modes are allowed between two versions, and why
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Say which upgrade modes are allowed between two versions, and why.\n\nJudge every upgrade mode (full, partial and zero downtime) for upgrading from one \
                  version to another, using the compatibility rules of the target's bundle in the \
                  catalog: zero downtime only within the same leading segments, partial downtime \
                  only from a minimum version, the range the target upgrades from, no downgrades. \
                  Each refused mode comes with its reason. --from defaults to the version the \
                  platform runs now.",
    after_help = "Examples:\n  changeover version check --to 1.1.0\n  changeover version check --from 1.0.0 --to 1.0.1\n  changeover version check --from 1.0.0 --to 1.1.0 --json"
)]
pub struct Args {
    /// The version upgraded from (default: the platform's current version)
    #[arg(long, value_name = "VERSION")]
    from: Option<String>,
    /// The target version (must be in the catalog)
    #[arg(long, value_name = "VERSION")]
    to: String,
    /// The platform (default: `platform:` in the config file, else sample)
    #[arg(long)]
    platform: Option<String>,
}

/// One mode's verdict as printed.
#[derive(Serialize)]
pub struct Verdict {
    pub mode: Mode,
    pub allowed: bool,
    pub reason: Option<String>,
}

#[derive(Serialize)]
struct Checked {
    platform: String,
    from: Version,
    to: Version,
    modes: Vec<Verdict>,
    /// The structured report of the core.
    report: CompatibilityReport,
}

/// Every mode's verdict, as sentences.
pub fn judge(report: &CompatibilityReport) -> Vec<Verdict> {
    report
        .verdicts
        .iter()
        .map(|v| Verdict {
            mode: v.mode,
            allowed: v.allowed(),
            reason: v.refusal.as_ref().map(ToString::to_string),
        })
        .collect()
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let platform = ctx.platform(args.platform.as_deref())?;
    let to = super::parse_version(&args.to, "--to")?;
    let explicit_from = args
        .from
        .as_deref()
        .map(|f| super::parse_version(f, "--from"))
        .transpose()?;
    if let Some(remote) = &ctx.remote {
        if explicit_from.is_some() {
            return Err(bad_input(
                "--from is not available with --server: the server checks from the version the platform runs now",
                "drop --from, or run the check on the server's host without --server",
            ));
        }
        let c = crate::remote::version::compatibility(remote, &to.to_string()).await?;
        let modes: Vec<Verdict> = c
            .modes
            .iter()
            .map(|m| Verdict {
                mode: m.mode,
                allowed: m.allowed,
                reason: m.reason.clone(),
            })
            .collect();
        if ctx.json {
            return output::json(&serde_json::json!({
                "platform": platform, "from": c.current, "to": c.target,
                "modes": modes, "offered": c.offered,
            }));
        }
        println!("{platform} {} -> {}", c.current, c.target);
        println!("{}", mode_table(&modes));
        return Ok(());
    }
    let store = ctx.store().await?;
    let from = match explicit_from {
        Some(from) => from,
        None => {
            let current = store
                .platforms()
                .get(&platform)
                .await?
                .and_then(|p| p.current_version);
            let current = current.ok_or_else(|| {
                bad_input(
                    format!("platform {platform} has no current version recorded"),
                    "pass --from VERSION, or record it with `changeover platform set-current VERSION`",
                )
            })?;
            super::parse_version(&current, "the platform's current version")?
        }
    };
    let stored = super::stored(&store, &platform, &to).await?;
    let bundle = super::show::reread(&stored)?;
    let report = compat::check(&from, &to, &bundle.manifest().compatibility);
    let checked = Checked {
        platform,
        from,
        to,
        modes: judge(&report),
        report,
    };
    if ctx.json {
        return output::json(&checked);
    }
    println!("{} {} -> {}", checked.platform, checked.from, checked.to);
    println!("{}", mode_table(&checked.modes));
    Ok(())
}

/// The verdicts as a table: mode, allowed or refused, reason.
pub fn mode_table(modes: &[Verdict]) -> String {
    output::table(
        &["mode", "verdict", "reason"],
        modes.iter().map(|v| {
            [
                v.mode.cli_name().to_owned(),
                if v.allowed { "allowed" } else { "refused" }.to_owned(),
                v.reason.clone().unwrap_or_default(),
            ]
        }),
    )
}
