//! **A fake of DolphinScheduler's REST API** (1.3 and 3.2), for the cutover tests:
//! DolphinScheduler itself cannot run on this machine (no release of it can be fetched here),
//! so this server answers the two schedule endpoints the cutover calls the way upstream's
//! controllers do (path, `token` header, form `id` for 1.3, `{"code": 0}` answers) and does
//! to the real databases what upstream's service does to the schedule row. It checks that the
//! schedule belongs to the project named in the path, and can be told to refuse.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};

/// The token both fake servers accept.
pub const TOKEN: &str = "fake-ds-token-7f3a";

struct Inner {
    source_url: String,
    target_url: String,
    /// Every call answered 0: `1.3 PROJECT offline ID` / `3.2 CODE online ID`.
    calls: Mutex<Vec<String>>,
    /// While set, the 3.2 server refuses to bring schedules online.
    refuse_online_32: AtomicBool,
}

/// Both fake API servers on one port: `/ds13/...` and `/ds32/...`.
#[derive(Clone)]
pub struct FakeDs(Arc<Inner>);

#[derive(Deserialize)]
struct IdForm {
    id: i64,
}

impl FakeDs {
    /// Serves on a free port of 127.0.0.1; returns the server and its address.
    pub async fn start(source_url: &str, target_url: &str) -> anyhow::Result<(FakeDs, SocketAddr)> {
        let fake = FakeDs(Arc::new(Inner {
            source_url: source_url.to_owned(),
            target_url: target_url.to_owned(),
            calls: Mutex::new(Vec::new()),
            refuse_online_32: AtomicBool::new(false),
        }));
        let app = Router::new()
            .route(
                "/ds13/dolphinscheduler/projects/{project}/schedule/{verb}",
                post(switch_13),
            )
            .route(
                "/ds32/dolphinscheduler/projects/{code}/schedules/{id}/{verb}",
                post(switch_32),
            )
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((fake, addr))
    }

    pub fn calls(&self) -> Vec<String> {
        self.0.calls.lock().expect("calls").clone()
    }

    pub fn refuse_online_32(&self, refuse: bool) {
        self.0.refuse_online_32.store(refuse, Ordering::SeqCst);
    }
}

fn answer(code: i64, msg: &str) -> Json<Value> {
    Json(json!({"code": code, "msg": msg, "data": null}))
}

fn state_of(verb: &str) -> Option<i32> {
    match verb {
        "online" => Some(1),
        "offline" => Some(0),
        _ => None,
    }
}

async fn connect(url: &str) -> Result<AnyConnection, String> {
    sqlx::any::install_default_drivers();
    let url = url.replacen("mariadb://", "mysql://", 1);
    AnyConnection::connect(&url)
        .await
        .map_err(|e| e.to_string())
}

/// 1.3: `SchedulerController.online|offline` — the schedule must be one of the project's.
async fn switch_13(
    State(fake): State<FakeDs>,
    Path((project, verb)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<IdForm>,
) -> Json<Value> {
    if headers.get("token").and_then(|t| t.to_str().ok()) != Some(TOKEN) {
        return answer(10001, "user token has expired");
    }
    let Some(state) = state_of(&verb) else {
        return answer(10000, "unknown verb");
    };
    let result = async {
        let mut conn = connect(&fake.0.source_url).await?;
        let sql = "UPDATE t_ds_schedules SET release_state = ? WHERE id = ? AND process_definition_id IN \
                   (SELECT d.id FROM t_ds_process_definition d JOIN t_ds_project p ON p.id = d.project_id WHERE p.name = ?)";
        let done = sqlx::query(sql)
            .bind(state)
            .bind(form.id)
            .bind(&project)
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(done.rows_affected())
    }
    .await;
    match result {
        Ok(1) => {
            let call = format!("1.3 {project} {verb} {}", form.id);
            fake.0.calls.lock().expect("calls").push(call);
            answer(0, "success")
        }
        Ok(_) => answer(10023, "schedule not found in this project"),
        Err(e) => answer(10000, &e),
    }
}

/// 3.2: `SchedulerController.publishScheduleOnline|offlineSchedule` — the schedule must
/// belong to a definition of the project with that code.
async fn switch_32(
    State(fake): State<FakeDs>,
    Path((code, id, verb)): Path<(i64, i64, String)>,
    headers: HeaderMap,
) -> Json<Value> {
    if headers.get("token").and_then(|t| t.to_str().ok()) != Some(TOKEN) {
        return answer(10001, "user token has expired");
    }
    let Some(state) = state_of(&verb) else {
        return answer(10000, "unknown verb");
    };
    if state == 1 && fake.0.refuse_online_32.load(Ordering::SeqCst) {
        return answer(
            50023,
            "online schedule failed: the workflow definition is not online",
        );
    }
    let result = async {
        let mut conn = connect(&fake.0.target_url).await?;
        let owner = sqlx::query(
            "SELECT d.project_code FROM t_ds_schedules s JOIN t_ds_process_definition d ON d.code = s.process_definition_code WHERE s.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
        let Some(owner) = owner else {
            return Ok(false);
        };
        let owner: i64 = owner.try_get(0).map_err(|e| e.to_string())?;
        if owner != code {
            return Ok(false);
        }
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE t_ds_schedules SET release_state = {state} WHERE id = $1"
        )))
        .bind(id)
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>(true)
    }
    .await;
    match result {
        Ok(true) => {
            let call = format!("3.2 {code} {verb} {id}");
            fake.0.calls.lock().expect("calls").push(call);
            answer(0, "success")
        }
        Ok(false) => answer(10023, "schedule not found in this project"),
        Err(e) => answer(10000, &e),
    }
}
