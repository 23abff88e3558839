//! `changeover --server URL upgrade …`: the same commands, output and exit codes as on the
//! local store, through the API. The server drives the record; this follows it by polling
//! until the server stops driving (`changeover-driving: false`), printing progress lines.

use std::time::Duration;

use changeover_engine::console::{
    DataUpdateAction, ModeArg, TaskAction, UpgradeCommand, print, selection,
};
use changeover_engine::upgrade::UpgradeRecord;
use changeover_engine::upgrade::verify::Report;
use changeover_engine::view;
use serde_json::json;

use super::{Remote, RemoteError, encode};
use crate::failure::{Kind, failed};

/// How often a followed record is read.
const POLL: Duration = Duration::from_millis(500);

/// The hint every upgrade failure carries, as on the local store.
const HINT: &str = "see `changeover upgrade status`";

/// The header the server sets on a record it drives.
const DRIVING_HEADER: &str = "changeover-driving";

/// A server error as the local command would fail (exit 1 with the console's sentence).
fn failure(err: anyhow::Error) -> anyhow::Error {
    match err.downcast::<RemoteError>() {
        Ok(e) => e.into_failure(HINT, Kind::Failed),
        Err(other) => other,
    }
}

/// The active record, else the newest one (for `upgrade status` on a terminal).
pub async fn latest(r: &Remote) -> anyhow::Result<UpgradeRecord> {
    current_or_latest(r).await.map_err(failure)
}

pub async fn run(r: &Remote, command: UpgradeCommand, json: bool) -> anyhow::Result<()> {
    execute(r, command, json).await.map_err(failure)
}

async fn execute(r: &Remote, command: UpgradeCommand, json: bool) -> anyhow::Result<()> {
    match command {
        UpgradeCommand::Start {
            to,
            mode,
            estimated_completion,
            contact_email,
            contact_phone,
            save_only,
            accept_risk,
            yes,
        } => {
            let mode = match mode {
                ModeArg::Full => "full",
                ModeArg::Partial => "partial",
                ModeArg::Zero => "zero",
            };
            let record: UpgradeRecord = r
                .post(
                    "/api/v1/upgrades",
                    &json!({
                        "to": to, "mode": mode,
                        "estimated_completion": estimated_completion,
                        "contact_email": contact_email, "contact_phone": contact_phone,
                        "accept_risk": accept_risk, "save_only": save_only, "auto_advance": yes,
                    }),
                )
                .await?;
            print::created(&record);
            if save_only {
                println!(
                    "upgrade {} saved (configuring); start it with `changeover upgrade next`",
                    record.id
                );
                return Ok(());
            }
            follow(r, record, json).await
        }
        UpgradeCommand::Status => {
            let record = current_or_latest(r).await?;
            print::record(&record, json);
            Ok(())
        }
        UpgradeCommand::Next => act(r, "next", json!({}), json).await,
        UpgradeCommand::Retry => act(r, "retry", json!({}), json).await,
        UpgradeCommand::Skip { accept_risk } => {
            act(r, "skip", json!({"accept_risk": accept_risk}), json).await
        }
        UpgradeCommand::Terminate { rerun } => {
            act(r, "terminate", json!({"rerun": rerun}), json).await
        }
        UpgradeCommand::ForceTerminate { mark } => {
            let mark = match mark {
                changeover_engine::console::MarkArg::Succeeded => "succeeded",
                changeover_engine::console::MarkArg::Failed => "failed",
            };
            let id = active_id(r).await?;
            let record: UpgradeRecord = r
                .post(
                    &format!("/api/v1/upgrades/{}/force-terminate", encode(&id)),
                    &json!({"mark": mark}),
                )
                .await?;
            println!("{}", view::status(&record));
            Ok(())
        }
        UpgradeCommand::Tasks { action, ids, all } => {
            selection(ids.clone(), all)?;
            let action = match action {
                TaskAction::Terminate => "terminate",
                TaskAction::Rerun => "rerun",
            };
            let body = if all {
                json!({"action": action, "all": true})
            } else {
                json!({"action": action, "ids": ids})
            };
            act(r, "tasks", body, json).await
        }
        UpgradeCommand::DataUpdate { action, names, all } => {
            selection(names.clone(), all)?;
            let action = match action {
                DataUpdateAction::Run => "run",
                DataUpdateAction::Skip => "skip",
                DataUpdateAction::Stop => "stop",
            };
            let body = if all {
                json!({"action": action, "all": true})
            } else {
                json!({"action": action, "names": names})
            };
            if action == "stop" {
                let id = active_id(r).await?;
                let record: UpgradeRecord = r
                    .post(
                        &format!("/api/v1/upgrades/{}/data-updates", encode(&id)),
                        &body,
                    )
                    .await?;
                print::stop_requested(&record, &names);
                return Ok(());
            }
            act(r, "data-updates", body, json).await
        }
        UpgradeCommand::Overrule { reason } => {
            act(r, "overrule", json!({"reason": reason}), json).await
        }
        UpgradeCommand::Records => {
            print::records(&records(r).await?, json);
            Ok(())
        }
        UpgradeCommand::Show { id } => {
            let record = record(r, &id).await?;
            print::show(&record, json);
            Ok(())
        }
        UpgradeCommand::Verify => {
            let report: Report = r.get("/api/v1/verification").await?;
            print::verification(&report, json);
            Ok(())
        }
        UpgradeCommand::Rollback { id } => {
            let record: UpgradeRecord = r
                .post(
                    &format!("/api/v1/upgrades/{}/rollback", encode(&id)),
                    &json!({}),
                )
                .await?;
            follow(r, record, json).await
        }
    }
}

/// Applies `action` to the active record, then follows the drive.
async fn act(r: &Remote, action: &str, body: serde_json::Value, json: bool) -> anyhow::Result<()> {
    let id = active_id(r).await?;
    let record: UpgradeRecord = r
        .post(&format!("/api/v1/upgrades/{}/{action}", encode(&id)), &body)
        .await?;
    follow(r, record, json).await
}

async fn record(r: &Remote, id: &str) -> anyhow::Result<UpgradeRecord> {
    r.get(&format!("/api/v1/upgrades/{}", encode(id))).await
}

#[derive(serde::Deserialize)]
struct Summary {
    id: String,
}

async fn records(r: &Remote) -> anyhow::Result<Vec<UpgradeRecord>> {
    let summaries: Vec<Summary> = r.get("/api/v1/upgrades").await?;
    let mut records = Vec::with_capacity(summaries.len());
    for s in summaries {
        records.push(record(r, &s.id).await?);
    }
    Ok(records)
}

/// The active record, or `None` (404 from the server).
async fn active(r: &Remote) -> anyhow::Result<Option<UpgradeRecord>> {
    match r.get::<UpgradeRecord>("/api/v1/upgrades/active").await {
        Ok(record) => Ok(Some(record)),
        Err(e)
            if e.downcast_ref::<RemoteError>()
                .is_some_and(|e| e.status == 404) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

async fn active_id(r: &Remote) -> anyhow::Result<String> {
    active(r).await?.map(|a| a.id).ok_or_else(|| {
        failed(
            "no upgrade in progress; start one with `changeover upgrade start`",
            HINT,
        )
    })
}

async fn current_or_latest(r: &Remote) -> anyhow::Result<UpgradeRecord> {
    if let Some(record) = active(r).await? {
        return Ok(record);
    }
    let summaries: Vec<Summary> = r.get("/api/v1/upgrades").await?;
    match summaries.first() {
        Some(s) => record(r, &s.id).await,
        None => Err(failed(
            "no upgrade record yet; start one with `changeover upgrade start`",
            HINT,
        )),
    }
}

/// Follows the server's drive of `record` until it stops, then prints where and why.
async fn follow(r: &Remote, mut record: UpgradeRecord, json: bool) -> anyhow::Result<()> {
    let mut progress = print::Progress::default();
    let path = format!("/api/v1/upgrades/{}", encode(&record.id));
    loop {
        if !json {
            progress.update(&record);
        }
        let (headers, now): (_, UpgradeRecord) = r.get_with_headers(&path).await?;
        record = now;
        let driving = headers
            .get(DRIVING_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "true");
        if !driving {
            if !json {
                progress.update(&record);
            }
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let Some(stop) = print::stopped_at(&record) else {
        print!("{}", view::status(&record));
        return Err(failed(
            format!(
                "the server stopped driving upgrade {} before it waited for the operator",
                record.id
            ),
            "the server's log says why; continue with `changeover upgrade next`",
        ));
    };
    print::stop(&record, stop).map_err(|e| failed(e.to_string(), HINT))
}
