//! The upgrade actions: start, next, retry, skip, terminate, force-terminate, rollback, task
//! instances and data updates; the active record, compatibility and verification. Each
//! change goes through the engine's console (the same rules and sentences as
//! `changeover upgrade`), is audited, and is then driven in the background.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use changeover_core::compat::{self, Selection};
use changeover_core::upgrade::{Action, Announcement, Mark, Mode, Status, UpgradeRecord};
use changeover_core::version::Version;
use changeover_engine::console::{self, DataUpdateAction, TaskAction, print};
use changeover_engine::upgrade::verify::Report;
use serde::{Deserialize, Serialize};

use super::Api;
use super::drive::Platform;
use super::error::ApiError;
use super::handlers::{bad_json, bad_query};
use crate::auth::{self, Caller};
use utoipa::ToSchema;

/// The longest operator reason kept in the audit log.
const MAX_REASON_CHARS: usize = 200;

fn platform(api: &Api) -> Result<Arc<Platform>, ApiError> {
    api.platform.clone().ok_or_else(|| {
        ApiError::conflict(
            "this server acts on no platform: start it with `changeover serve` and the platform flags (--bin-dir, --data-dir, --contract-url, --metadb-url)",
        )
    })
}

/// Audits an action's outcome (`ok`, or `refused` with the sentence the caller gets).
async fn audited<T>(
    api: &Api,
    caller: &Caller,
    peer: SocketAddr,
    action: &str,
    target: &str,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    let peer = peer.to_string();
    let actor = auth::Actor {
        name: &caller.name,
        peer: &peer,
    };
    let outcome = result.as_ref().err().map(|e| e.message.clone());
    auth::audit(
        &api.store,
        &actor,
        action,
        target,
        outcome.as_deref().map_or(Ok(()), Err),
    )
    .await;
    result
}

/// 404 unless record `id` exists.
async fn known(api: &Api, id: &str) -> Result<(), ApiError> {
    match api.store.upgrades().get(id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!(
            "there is no upgrade record {id:?}"
        ))),
    }
}

type Answer = Result<(StatusCode, Json<UpgradeRecord>), ApiError>;

/// How an action on an existing record ends: driven in the background, or not.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    Drive,
    Stay,
}

/// An action on an existing record, as every such handler is called: the server, who
/// calls, from where, and the record's id from the path.
pub struct Call {
    api: Api,
    caller: Caller,
    peer: SocketAddr,
    id: String,
}

impl FromRequestParts<Api> for Call {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Call, Response> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, api)
            .await
            .map_err(IntoResponse::into_response)?;
        let Extension(caller) = Extension::<Caller>::from_request_parts(parts, api)
            .await
            .map_err(IntoResponse::into_response)?;
        let Path(id) = Path::<String>::from_request_parts(parts, api)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Call {
            api: api.clone(),
            caller,
            peer,
            id,
        })
    }
}

impl Call {
    /// Claims the record, runs `op` on the console with the record's id, audits it as
    /// `action`, and drives the record on or not.
    async fn act<F>(&self, action: &str, then: Then, op: F) -> Answer
    where
        F: AsyncFnOnce(&console::Console, &str) -> Result<UpgradeRecord, ApiError>,
    {
        let result = async {
            let platform = platform(&self.api)?;
            known(&self.api, &self.id).await?;
            let claim = platform.claim(&self.api.store, &self.id).await?;
            let record = op(&platform.console, &self.id).await?;
            Ok((platform, claim, record))
        }
        .await;
        let (platform, claim, record) = self.audited(action, result).await?;
        match then {
            Then::Drive => {
                platform.drive(claim, record.clone());
                Ok((StatusCode::ACCEPTED, Json(record)))
            }
            Then::Stay => Ok((StatusCode::OK, Json(record))),
        }
    }

    async fn audited<T>(&self, action: &str, result: Result<T, ApiError>) -> Result<T, ApiError> {
        audited(&self.api, &self.caller, self.peer, action, &self.id, result).await
    }
}

/// The audit action with the operator's reason, cut to [`MAX_REASON_CHARS`].
fn with_reason(action: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) => {
            let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
            format!("{action} reason={reason:?}")
        }
        None => action.to_owned(),
    }
}

/// The active (configuring or upgrading) record.
pub async fn active(State(api): State<Api>) -> Result<Json<serde_json::Value>, ApiError> {
    let row = api.store.upgrades().active().await?.ok_or_else(|| {
        ApiError::not_found("no upgrade is active; start one with POST /api/v1/upgrades")
    })?;
    let record = serde_json::from_str(&row.record).map_err(ApiError::internal)?;
    Ok(Json(record))
}

/// `POST /api/v1/upgrades`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The target version (its bundle must be in the catalog).
    to: String,
    mode: ModeName,
    /// When maintenance is expected to end, `YYYY-MM-DD hh:mm`.
    #[serde(default)]
    estimated_completion: Option<String>,
    #[serde(default)]
    contact_email: Option<String>,
    #[serde(default)]
    contact_phone: Option<String>,
    /// The risk statement is acknowledged (needed unless `save_only`).
    accept_risk: bool,
    /// Only save the configuration (status configuring); start it with `next`.
    save_only: bool,
    /// Take the operator's decisions automatically (move on after each step, terminate
    /// all, fall back to full downtime when the rules refuse the mode).
    #[serde(default)]
    auto_advance: bool,
}

pub async fn start(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<StartRequest>, JsonRejection>,
) -> Answer {
    let result = async {
        let body = bad_json(body)?;
        body.to
            .parse::<Version>()
            .map_err(|e| ApiError::bad_request(format!("to: version `{}`: {e}", body.to)))?;
        let announcement = Announcement::new(
            body.estimated_completion.as_deref(),
            body.contact_email.as_deref(),
            body.contact_phone.as_deref(),
        )
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let platform = platform(&api)?;
        let claim = platform.claim(&api.store, "(new)").await?;
        let created = platform
            .console
            .create(
                &body.to,
                body.mode.into(),
                announcement,
                body.save_only,
                body.accept_risk,
                body.auto_advance,
            )
            .await?;
        claim.rename(&created.record.id);
        Ok((platform, claim, created.record, body.save_only))
    }
    .await;
    let (platform, claim, record, save_only) =
        audited(&api, &caller, peer, "upgrade.start", "(new)", result).await?;
    auth::audit(
        &api.store,
        &auth::Actor {
            name: &caller.name,
            peer: &peer.to_string(),
        },
        "upgrade.created",
        &record.id,
        Ok(()),
    )
    .await;
    if !save_only {
        platform.drive(claim, record.clone());
    }
    Ok((StatusCode::CREATED, Json(record)))
}

/// A body with nothing in it: `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

pub async fn next(call: Call, body: Result<Json<Empty>, JsonRejection>) -> Answer {
    let body = bad_json(body);
    call.act("upgrade.next", Then::Drive, async |c, id| {
        body?;
        // A record left mid-step (its driver died: a killed server or CLI) is resumed as
        // it stands; the claim made sure nobody drives it now.
        let record = c.active_as(Some(id)).await?;
        if record.status != Status::Configuring && print::stopped_at(&record).is_none() {
            return Ok(record);
        }
        Ok(c.apply_action(Some(id), Action::Next).await?)
    })
    .await
}

pub async fn retry(call: Call, body: Result<Json<Empty>, JsonRejection>) -> Answer {
    let body = bad_json(body);
    call.act("upgrade.retry", Then::Drive, async |c, id| {
        body?;
        Ok(c.apply_action(Some(id), Action::Retry).await?)
    })
    .await
}

/// `POST /api/v1/upgrades/{id}/skip`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkipRequest {
    /// The risk of skipping is acknowledged (required by the skippable steps).
    accept_risk: bool,
    /// Why, for the audit log.
    #[serde(default)]
    reason: Option<String>,
}

pub async fn skip(call: Call, body: Result<Json<SkipRequest>, JsonRejection>) -> Answer {
    let body = bad_json(body);
    let reason = body.as_ref().ok().and_then(|b| b.reason.as_deref());
    let what = with_reason("upgrade.skip", reason);
    call.act(&what, Then::Drive, async |c, id| {
        let accept_risk = body?.accept_risk;
        Ok(c.apply_action(Some(id), Action::Skip { accept_risk })
            .await?)
    })
    .await
}

/// `POST /api/v1/upgrades/{id}/terminate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminateRequest {
    /// Re-run the instances this upgrade force-terminated.
    rerun: bool,
}

pub async fn terminate(call: Call, body: Result<Json<TerminateRequest>, JsonRejection>) -> Answer {
    let body = bad_json(body);
    call.act("upgrade.terminate", Then::Drive, async |c, id| {
        let rerun = body?.rerun;
        Ok(c.apply_action(Some(id), Action::Terminate { rerun })
            .await?)
    })
    .await
}

/// `POST /api/v1/upgrades/{id}/force-terminate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForceTerminateRequest {
    mark: MarkName,
}

pub async fn force_terminate(
    call: Call,
    body: Result<Json<ForceTerminateRequest>, JsonRejection>,
) -> Answer {
    let body = bad_json(body);
    let what = match &body {
        Ok(b) => format!("upgrade.force-terminate mark={:?}", b.mark).to_lowercase(),
        Err(_) => "upgrade.force-terminate".to_owned(),
    };
    call.act(&what, Then::Stay, async |c, id| {
        let mark = body?.mark.into();
        Ok(c.apply_action(Some(id), Action::ForceTerminate { mark })
            .await?)
    })
    .await
}

/// An upgrade mode on the wire.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    Full,
    Partial,
    Zero,
}

impl From<ModeName> for Mode {
    fn from(m: ModeName) -> Mode {
        match m {
            ModeName::Full => Mode::Full,
            ModeName::Partial => Mode::Partial,
            ModeName::Zero => Mode::Zero,
        }
    }
}

impl From<Mode> for ModeName {
    fn from(m: Mode) -> ModeName {
        match m {
            Mode::Full => ModeName::Full,
            Mode::Partial => ModeName::Partial,
            Mode::Zero => ModeName::Zero,
        }
    }
}

/// How a force-terminated upgrade is marked.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MarkName {
    Succeeded,
    Failed,
}

impl From<MarkName> for Mark {
    fn from(m: MarkName) -> Mark {
        match m {
            MarkName::Succeeded => Mark::Succeeded,
            MarkName::Failed => Mark::Failed,
        }
    }
}

pub async fn rollback(call: Call, body: Result<Json<Empty>, JsonRejection>) -> Answer {
    let body = bad_json(body);
    call.act("upgrade.rollback", Then::Drive, async |c, id| {
        body?;
        Ok(c.begin_rollback(id).await?)
    })
    .await
}

/// What to do with task instances.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskVerb {
    Terminate,
    Rerun,
}

/// `POST /api/v1/upgrades/{id}/tasks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TasksRequest {
    action: TaskVerb,
    /// The instance ids; or `all`.
    #[serde(default)]
    ids: Option<Vec<String>>,
    #[serde(default)]
    all: Option<bool>,
}

pub async fn tasks(call: Call, body: Result<Json<TasksRequest>, JsonRejection>) -> Answer {
    let body = bad_json(body);
    let what = match &body {
        Ok(b) => format!("upgrade.tasks {:?}", b.action).to_lowercase(),
        Err(_) => "upgrade.tasks".to_owned(),
    };
    call.act(&what, Then::Drive, async |c, id| {
        let body = body?;
        let selection = selected(body.ids, body.all, "ids")?;
        let action = match body.action {
            TaskVerb::Terminate => TaskAction::Terminate,
            TaskVerb::Rerun => TaskAction::Rerun,
        };
        Ok(c.tasks(Some(id), action, selection).await?)
    })
    .await
}

/// What to do with data-update tasks.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataUpdateVerb {
    Run,
    Skip,
    Stop,
}

/// `POST /api/v1/upgrades/{id}/data-updates`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataUpdatesRequest {
    action: DataUpdateVerb,
    /// The task names; or `all`.
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    all: Option<bool>,
}

pub async fn data_updates(
    call: Call,
    body: Result<Json<DataUpdatesRequest>, JsonRejection>,
) -> Answer {
    let body = bad_json(body);
    let what = match &body {
        Ok(b) => format!("upgrade.data-updates {:?}", b.action).to_lowercase(),
        Err(_) => "upgrade.data-updates".to_owned(),
    };
    if let Ok(DataUpdatesRequest {
        action: DataUpdateVerb::Stop,
        ..
    }) = &body
    {
        return stop_data_updates(&call, &what, body).await;
    }
    let caller = &call.caller.name;
    call.act(&what, Then::Drive, async |c, id| {
        let body = body?;
        let selection = selected(body.names, body.all, "names")?;
        let action = match body.action {
            DataUpdateVerb::Run => DataUpdateAction::Run,
            DataUpdateVerb::Skip => DataUpdateAction::Skip,
            DataUpdateVerb::Stop => DataUpdateAction::Stop,
        };
        Ok(c.data_updates(Some(id), action, selection, caller)
            .await?
            .record()
            .clone())
    })
    .await
}

/// A stop of running data-update tasks: only a request saved for the changeover driving
/// the upgrade (this server or another), so the record is not claimed (its driver holds
/// it) and not driven here. 202: the driver stops the tasks within a second.
async fn stop_data_updates(
    call: &Call,
    what: &str,
    body: Result<DataUpdatesRequest, ApiError>,
) -> Answer {
    let result = async {
        let platform = platform(&call.api)?;
        known(&call.api, &call.id).await?;
        let body = body?;
        let selection = selected(body.names, body.all, "names")?;
        let done = platform
            .console
            .data_updates(
                Some(&call.id),
                DataUpdateAction::Stop,
                selection,
                &call.caller.name,
            )
            .await?;
        Ok(done.record().clone())
    }
    .await;
    let record = call.audited(what, result).await?;
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// `POST /api/v1/upgrades/{id}/overrule`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverruleRequest {
    /// Why the failed verdict is overruled (kept in the record and the audit log).
    reason: String,
}

/// Overrules a failed verification verdict in the caller's name, then drives the record on.
pub async fn overrule(call: Call, body: Result<Json<OverruleRequest>, JsonRejection>) -> Answer {
    let body = bad_json(body);
    let what = with_reason(
        "upgrade.overrule",
        body.as_ref().ok().map(|b| b.reason.as_str()),
    );
    let caller = &call.caller.name;
    call.act(&what, Then::Drive, async |c, id| {
        let reason = body?.reason;
        Ok(c.overrule(Some(id), caller, &reason).await?)
    })
    .await
}

fn selected(
    ids: Option<Vec<String>>,
    all: Option<bool>,
    field: &str,
) -> Result<changeover_engine::operator::Selection, ApiError> {
    console::selection(ids.unwrap_or_default(), all.unwrap_or(false)).map_err(|_| {
        ApiError::bad_request(format!(
            "give `{field}` (a non-empty list) or `all: true`, not both"
        ))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompatibilityQuery {
    to: String,
}

/// One mode's verdict.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModeVerdict {
    mode: ModeName,
    allowed: bool,
    /// Why the mode is refused (`null` when allowed).
    reason: Option<String>,
}

/// Which modes may upgrade the platform from its current version to `target`, and why not.
#[derive(Debug, Serialize, ToSchema)]
pub struct Compatibility {
    current: String,
    target: String,
    modes: Vec<ModeVerdict>,
    /// For each mode that may be requested, the mode that runs (another one, with the
    /// note saying why, when the rules fall back to full downtime).
    #[schema(value_type = Vec<Object>)]
    offered: Vec<Selection>,
}

pub async fn compatibility(
    State(api): State<Api>,
    q: Result<Query<CompatibilityQuery>, QueryRejection>,
) -> Result<Json<Compatibility>, ApiError> {
    let q = bad_query(q)?;
    let target: Version =
        q.to.parse()
            .map_err(|e| ApiError::bad_request(format!("to: version `{}`: {e}", q.to)))?;
    let platform = platform(&api)?;
    let versions = &platform.console.versions;
    let current_text = versions
        .current()
        .await
        .map_err(|e| ApiError::conflict(format!("reading the platform's version failed: {e}")))?;
    let current: Version = current_text.parse().map_err(|e| {
        ApiError::conflict(format!(
            "the platform runs version `{current_text}`, which is not a version: {e}"
        ))
    })?;
    let rules = versions
        .rules(&target.to_string())
        .await
        .map_err(|e| ApiError::conflict(format!("reading the target bundle failed: {e}")))?;
    let report = compat::check(&current, &target, &rules);
    let modes = report
        .verdicts
        .iter()
        .map(|v| ModeVerdict {
            mode: v.mode.into(),
            allowed: v.allowed(),
            reason: v.refusal.as_ref().map(ToString::to_string),
        })
        .collect();
    let offered = Mode::ALL
        .iter()
        .filter_map(|m| report.select(*m).ok())
        .collect();
    Ok(Json(Compatibility {
        current: current.to_string(),
        target: target.to_string(),
        modes,
        offered,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationQuery {
    date: Option<String>,
    tenant: Option<String>,
}

pub async fn verification(
    State(api): State<Api>,
    q: Result<Query<VerificationQuery>, QueryRejection>,
) -> Result<Json<Report>, ApiError> {
    let q = bad_query(q)?;
    let today = match &q.date {
        Some(d) => d.parse().map_err(|e| {
            ApiError::bad_request(format!("date: `{d}` is not a date YYYY-MM-DD: {e}"))
        })?,
        None => changeover_engine::now().date(),
    };
    let platform = platform(&api)?;
    Ok(Json(
        platform
            .console
            .verify_on(today, q.tenant.as_deref())
            .await?,
    ))
}
