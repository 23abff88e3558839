//! The HTTP API: every endpoint refuses anonymous and under-privileged callers; login,
//! records and the audit log over real HTTP.

use changeover_server::api::Api;
use changeover_server::api::endpoints::{Access, endpoints, openapi_document};
use changeover_server::auth::{self, Actor, Role, Secret};
use changeover_store::Engine;
use changeover_store::test_utils::TestLocation;
use reqwest::StatusCode;

use crate::fixtures::{record, row, user_with_token};

async fn api_refuses_and_serves(engine: Engine) -> anyhow::Result<()> {
    let location = TestLocation::new(engine).await;
    let store = location.open().await;
    let cli = Actor {
        name: "setup",
        peer: "cli",
    };
    let password = Secret::new("a long enough password");
    for (name, role) in [
        ("ada", Role::Admin),
        ("otto", Role::Operator),
        ("vera", Role::Viewer),
    ] {
        auth::add_user(&store, &cli, name, role, &password).await?;
    }
    let mut tokens = std::collections::HashMap::new();
    for name in ["ada", "otto", "vera"] {
        tokens.insert(name, auth::issue_token(&store, &cli, name, "test").await?);
    }
    store
        .upgrades()
        .insert(&row(&record("up-7", false)?)?)
        .await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(Api::new(store.clone()).serve(listener));
    let http = reqwest::Client::new();
    let url = |path: &str| {
        format!(
            "http://{addr}{}",
            path.replace("{id}", "up-7").replace("{version}", "1.0.0")
        )
    };

    let all = endpoints();
    assert!(all.iter().filter(|e| e.access != Access::Public).count() >= 6);
    for e in &all {
        let Access::Role(needed) = e.access else {
            continue;
        };
        let send = |token: Option<&str>| {
            let mut req = http.request(e.method.clone(), url(e.path));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send()
        };
        let resp = send(None).await?;
        assert_eq!(
            resp.status(),
            StatusCode::UNAUTHORIZED,
            "{} {} without a token",
            e.method,
            e.path
        );
        let body: serde_json::Value = resp.json().await?;
        assert_eq!(body["code"], "unauthenticated");
        let resp = send(Some("cho_forged")).await?;
        assert_eq!(
            resp.status(),
            StatusCode::UNAUTHORIZED,
            "{} {} with a forged token",
            e.method,
            e.path
        );
        for (name, role) in [
            ("vera", Role::Viewer),
            ("otto", Role::Operator),
            ("ada", Role::Admin),
        ] {
            let resp = send(Some(tokens[name].expose())).await?;
            if role.allows(needed) {
                let status = resp.status();
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{} {} as {role}: {status}",
                    e.method,
                    e.path
                );
                // Without a platform (this server has none), the platform's live reads
                // are refused with a reason; every other read succeeds.
                let needs_platform =
                    matches!(e.path, "/api/v1/compatibility" | "/api/v1/verification");
                if e.path == "/api/v1/versions/{version}/bundle" {
                    assert_eq!(status, StatusCode::NOT_FOUND, "nothing uploaded as {role}");
                } else if needs_platform {
                    assert!(
                        status == StatusCode::CONFLICT || status == StatusCode::BAD_REQUEST,
                        "{} {} as {role}: {status}",
                        e.method,
                        e.path
                    );
                } else if e.method == reqwest::Method::GET {
                    assert_eq!(status, StatusCode::OK, "{} {} as {role}", e.method, e.path);
                }
            } else {
                assert_eq!(
                    resp.status(),
                    StatusCode::FORBIDDEN,
                    "{} {} as {role}",
                    e.method,
                    e.path
                );
                let body: serde_json::Value = resp.json().await?;
                assert_eq!(body["code"], "forbidden");
            }
        }
    }

    // Every endpoint is described in the OpenAPI document, served at /openapi.json.
    let doc: serde_json::Value = http.get(url("/openapi.json")).send().await?.json().await?;
    assert_eq!(doc, openapi_document());
    for e in &all {
        let op = &doc["paths"][e.path][e.method.as_str().to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing from openapi.json",
            e.method,
            e.path
        );
    }

    // Request and response schemas come from the handlers' types.
    let start = &doc["paths"]["/api/v1/upgrades"]["post"];
    assert_eq!(
        start["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/StartRequest"
    );
    let schema = &doc["components"]["schemas"]["StartRequest"];
    for field in [
        "to",
        "mode",
        "accept_risk",
        "save_only",
        "auto_advance",
        "contact_email",
    ] {
        assert!(
            schema["properties"][field].is_object(),
            "StartRequest.{field}: {schema}"
        );
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    for field in ["to", "mode", "accept_risk", "save_only"] {
        assert!(
            required.contains(&field),
            "StartRequest.{field} is required: {schema}"
        );
    }
    assert!(start["responses"]["201"].is_object(), "{start}");
    let upload = &doc["paths"]["/api/v1/versions"]["post"]["requestBody"]["content"];
    assert!(upload["application/zip"].is_object() && upload["application/x-yaml"].is_object());
    let compat = &doc["components"]["schemas"]["Compatibility"]["properties"];
    assert!(
        compat["modes"].is_object() && compat["offered"].is_object(),
        "{compat}"
    );
    let refs = doc.to_string();
    for name in refs.split("#/components/schemas/").skip(1) {
        let name = name.split('"').next().unwrap_or_default();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "#/components/schemas/{name} is referred to but missing"
        );
    }

    // Login: a wrong password is 401 with a stable code and nothing internal.
    let resp = http
        .post(url("/api/v1/login"))
        .json(&serde_json::json!({"name": "ada", "password": "wrong wrong wrong"}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(
        body,
        serde_json::json!({"code": "bad_credentials", "message": "wrong user name or password"})
    );
    let resp = http
        .post(url("/api/v1/login"))
        .json(&serde_json::json!({"name": "ada", "password": password.expose()}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await?;
    let session = body["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(body["role"], "admin");

    let rec: serde_json::Value = http
        .get(url("/api/v1/upgrades/{id}"))
        .bearer_auth(&session)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(rec["id"], "up-7");
    let resp = http
        .get(url("/api/v1/upgrades/none"))
        .bearer_auth(&session)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.json::<serde_json::Value>().await?["code"], "not_found");

    let m: serde_json::Value = http
        .get(url("/api/v1/maintenance"))
        .bearer_auth(&session)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(m["on"], false, "{m}");

    // An admin adds a user over HTTP; a bad role is a 400 with a stable code.
    let resp = http
        .post(url("/api/v1/users"))
        .bearer_auth(&session)
        .json(&serde_json::json!({"name": "nina", "role": "operator", "password": "nina's long password"}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = http
        .post(url("/api/v1/users"))
        .bearer_auth(&session)
        .json(
            &serde_json::json!({"name": "max", "role": "root", "password": "max's long password"}),
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<serde_json::Value>().await?["code"],
        "bad_request"
    );
    assert_eq!(
        store.users().get("nina").await?.map(|u| u.role),
        Some("operator".to_owned())
    );

    // The audit log has the refused requests and the logins, with the peer address.
    let log: Vec<serde_json::Value> = http
        .get(url("/api/v1/audit?limit=500"))
        .bearer_auth(&session)
        .send()
        .await?
        .json()
        .await?;
    assert!(log.iter().any(|e| e["action"] == "login"
        && e["outcome"] == "refused"
        && e["peer"].as_str().unwrap_or("").starts_with("127.0.0.1:")));
    assert!(log.iter().any(|e| e["action"] == "user.add role=operator"
        && e["actor"] == "ada"
        && e["target"] == "nina"
        && e["peer"].as_str().unwrap_or("").starts_with("127.0.0.1:")));
    assert!(log.iter().any(|e| e["action"] == "request"
        && e["actor"] == "vera"
        && e["target"] == "GET /api/v1/audit"));
    let text = serde_json::to_string(&log)?;
    assert!(
        !text.contains(password.expose()) && !text.contains(&session),
        "a secret reached the audit log"
    );
    server.abort();
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn api_refuses_and_serves_sqlite() -> anyhow::Result<()> {
    api_refuses_and_serves(Engine::Sqlite).await
}

#[tokio::test]
async fn api_refuses_and_serves_postgres() -> anyhow::Result<()> {
    api_refuses_and_serves(Engine::Postgres).await
}

/// While maintenance mode is on, version uploads and user changes are refused with 409
/// `maintenance` naming the announcement; reads still work.
#[tokio::test]
async fn maintenance_refuses_changes_outside_the_upgrade() -> anyhow::Result<()> {
    let location = TestLocation::new(Engine::Sqlite).await;
    let store = location.open().await;
    let token = user_with_token(&store, "ada", Role::Admin, "test").await?;
    store
        .upgrades()
        .insert(&row(&record("up-m", true)?)?)
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(Api::new(store.clone()).serve(listener));
    let http = reqwest::Client::new();
    let bundle = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bundles/sample/1.0.0.yaml"),
    )?;
    let resp = http
        .post(format!("http://{addr}/api/v1/versions"))
        .bearer_auth(token.expose())
        .header("content-type", "application/x-yaml")
        .body(bundle)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(body["code"], "maintenance", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("up-m")
            && message.contains("2026-11-24 03:30")
            && message.contains("ops@example.com"),
        "{message}"
    );
    let resp = http
        .post(format!("http://{addr}/api/v1/users"))
        .bearer_auth(token.expose())
        .json(&serde_json::json!({"name": "nina", "role": "viewer", "password": "nina's long password"}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(
        resp.json::<serde_json::Value>().await?["code"],
        "maintenance"
    );
    assert!(
        store.users().get("nina").await?.is_none(),
        "no user was added"
    );
    assert!(
        store.catalog().list(None).await?.is_empty(),
        "nothing was stored"
    );
    let resp = http
        .get(format!("http://{addr}/api/v1/versions"))
        .bearer_auth(token.expose())
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK, "reads still work");
    server.abort();
    store.close().await;
    Ok(())
}
