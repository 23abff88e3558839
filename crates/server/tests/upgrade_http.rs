//! Every upgrade action over HTTP against a real sample platform: versions uploaded and
//! downloaded through the API, a partial-downtime upgrade 1.0.0 -> 1.1.0 started and driven
//! only through HTTP to Succeeded, viewers and operators refused what their role does not
//! allow, every change in the audit log.

use changeover_engine::upgrade::{Status, StepKind};
use changeover_server::api::endpoints::{Access, endpoints};
use changeover_server::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::platform::{Served, bundle};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn versions_upload_check_and_download() -> anyhow::Result<()> {
    let s = Served::new(0, 1).await?;
    let (status, body) = s.upload("1.0.0", "").await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["outcome"], "imported");
    assert_eq!(body["version"], "1.0.0");
    assert!(body["warnings"].is_array(), "{body}");

    // A known version is refused unless overwriting is asked for.
    let (status, body) = s.upload("1.0.0", "").await?;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "conflict");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("overwrite=true"),
        "{body}"
    );
    let (status, body) = s.upload("1.0.0", "?overwrite=true").await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "overwritten");

    // A malformed bundle: 422 with the error and its place; nothing stored.
    let resp = s
        .request(Method::POST, "/api/v1/versions", "ada")
        .header("content-type", "application/x-yaml")
        .body("format: 1\nplatform: sample\nversion: [unclosed\n")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(body["code"], "invalid_bundle", "{body}");
    assert!(
        body["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(
        body["missing"].is_array() && body["warnings"].is_array(),
        "{body}"
    );

    // A bundle with a required configuration item and no value: blocked, the item named.
    let text = String::from_utf8(bundle("1.0.1")?)?;
    let missing = text.replace("{config.metadb.url}", "{config.nowhere.url}");
    assert_ne!(missing, text, "the fixture uses {{config.metadb.url}}");
    let resp = s
        .request(Method::POST, "/api/v1/versions", "ada")
        .header("content-type", "application/x-yaml")
        .body(missing)
        .send()
        .await?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await?;
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        assert_eq!(body["code"], "invalid_bundle", "{body}");
    } else {
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    // No content type, or another one: 400 naming the header.
    let resp = s
        .request(Method::POST, "/api/v1/versions", "ada")
        .header("content-type", "text/plain")
        .body(bundle("1.1.0")?)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await?;
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("Content-Type"),
        "{body}"
    );

    // Operators and viewers may not upload.
    for user in ["otto", "vera"] {
        let resp = s
            .request(Method::POST, "/api/v1/versions", user)
            .header("content-type", "application/x-yaml")
            .body(bundle("1.1.0")?)
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{user}");
    }

    // Download: byte for byte, for a viewer; an unknown version is 404, a bad one 400.
    let resp = s
        .request(Method::GET, "/api/v1/versions/1.0.0/bundle", "vera")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await?.as_ref(), bundle("1.0.0")?.as_slice());
    let resp = s
        .request(Method::GET, "/api/v1/versions/9.9.9/bundle", "vera")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = s
        .request(
            Method::GET,
            "/api/v1/versions/not..a..version/bundle",
            "vera",
        )
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // The uploads are audited with the admin and the version.
    let log: Vec<serde_json::Value> = s
        .request(Method::GET, "/api/v1/audit?limit=100", "ada")
        .send()
        .await?
        .json()
        .await?;
    assert!(log.iter().any(|e| e["action"] == "version.upload"
        && e["actor"] == "ada"
        && e["target"] == "sample 1.0.0"
        && e["outcome"] == "ok"));
    assert!(log.iter().any(|e| e["action"] == "version.upload"
        && e["outcome"] == "refused"
        && e["actor"] == "ada"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partial_downtime_upgrade_driven_only_through_http() -> anyhow::Result<()> {
    let s = Served::new(2, 3).await?;
    for v in ["1.0.0", "1.0.1", "1.1.0"] {
        let (status, body) = s.upload(v, "").await?;
        assert_eq!(status, StatusCode::CREATED, "{v}: {body}");
    }
    s.start_platform("1.0.0").await?;

    // Compatibility as the wizard shows it.
    let resp = s
        .request(Method::GET, "/api/v1/compatibility?to=1.1.0", "vera")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let compat: serde_json::Value = resp.json().await?;
    assert_eq!(compat["current"], "1.0.0", "{compat}");
    assert_eq!(compat["target"], "1.1.0", "{compat}");
    let partial = compat["modes"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["mode"] == "partial"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(partial["allowed"], true, "{compat}");
    let zero = compat["modes"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["mode"] == "zero"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(zero["allowed"], false, "{compat}");
    assert!(zero["reason"].is_string(), "{compat}");

    // No active upgrade yet.
    let resp = s
        .request(Method::GET, "/api/v1/upgrades/active", "vera")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Bad input is 400 naming the field; the risk statement must be acknowledged.
    let resp = s
        .request(Method::POST, "/api/v1/upgrades", "otto")
        .json(&json!({"to": "1.1.0", "mode": "partial", "accept_risk": true, "save_only": false, "estimated_completion": "tomorrow"}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = s
        .request(Method::POST, "/api/v1/upgrades", "otto")
        .json(&json!({"to": "1.1.0", "mode": "partial", "accept_risk": false, "save_only": false}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = resp.json().await?;
    assert!(
        body["message"].as_str().unwrap_or("").contains("risk"),
        "{body}"
    );
    let resp = s
        .request(Method::POST, "/api/v1/upgrades", "otto")
        .json(&json!({"to": "1.1.0", "mode": "zero", "accept_risk": true, "save_only": false}))
        .send()
        .await?;
    assert_eq!(
        resp.status(),
        StatusCode::CONFLICT,
        "zero downtime 1.0 -> 1.1 is refused"
    );

    // Saved only, then started with `next`; the server drives it to the end.
    let resp = s
        .request(Method::POST, "/api/v1/upgrades", "otto")
        .json(&json!({
            "to": "1.1.0", "mode": "partial", "accept_risk": true, "save_only": true,
            "auto_advance": true, "estimated_completion": "2026-12-01 23:00",
            "contact_email": "ops@example.com", "contact_phone": "+1 555 0100"
        }))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: serde_json::Value = resp.json().await?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(created["status"], "configuring", "{created}");

    let resp = s
        .request(Method::GET, "/api/v1/upgrades/active", "vera")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<serde_json::Value>().await?["id"], id.as_str());
    let resp = s
        .request(Method::POST, "/api/v1/upgrades", "otto")
        .json(&json!({"to": "1.1.0", "mode": "partial", "accept_risk": true, "save_only": true}))
        .send()
        .await?;
    assert_eq!(
        resp.status(),
        StatusCode::CONFLICT,
        "only one upgrade at a time"
    );

    // Under-privileged callers are refused every action on the record.
    for e in endpoints() {
        if e.method != Method::POST || !e.path.starts_with("/api/v1/upgrades") {
            continue;
        }
        let Access::Role(needed) = e.access else {
            continue;
        };
        let path = e.path.replace("{id}", &id);
        let mut users = vec!["vera"];
        if needed == Role::Admin {
            users.push("otto");
        }
        for user in users {
            let resp = s
                .request(Method::POST, &path, user)
                .json(&json!({}))
                .send()
                .await?;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{user}: POST {path}");
        }
    }
    assert_eq!(
        s.record(&id).await?.status,
        Status::Configuring,
        "nothing changed it"
    );

    // A record that is not the active one, or not there: 409 / 404.
    let resp = s
        .request(Method::POST, "/api/v1/upgrades/upg-none/next", "otto")
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = s
        .request(Method::POST, &format!("/api/v1/upgrades/{id}/next"), "otto")
        .json(&json!({"surprise": 1}))
        .send()
        .await?;
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "unknown fields are refused"
    );

    let resp = s
        .request(Method::POST, &format!("/api/v1/upgrades/{id}/next"), "otto")
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let started: serde_json::Value = resp.json().await?;
    assert_eq!(started["status"], "upgrading", "{started}");

    let done = s.wait_for(&id, 240, |r| r.status.is_final()).await?;
    assert_eq!(
        done.status,
        Status::Succeeded,
        "{}",
        changeover_engine::view::status(&done)
    );
    assert_eq!(s.client.health().await?.version, "1.1.0");
    let apps = done
        .step(StepKind::UpgradeApplications)
        .map(|s| s.phase.label());
    assert_eq!(
        apps,
        Some("done"),
        "{}",
        changeover_engine::view::status(&done)
    );

    // An ended record refuses further actions with the console's reason.
    let resp = s
        .request(
            Method::POST,
            &format!("/api/v1/upgrades/{id}/retry"),
            "otto",
        )
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::CONFLICT);

    // The verification report, live.
    let resp = s
        .request(Method::GET, "/api/v1/verification?tenant=t1", "vera")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let report: serde_json::Value = resp.json().await?;
    assert!(report.is_object(), "{report}");
    let resp = s
        .request(Method::GET, "/api/v1/verification?date=yesterday", "vera")
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // Every change is in the audit log, with who did it.
    let log: Vec<serde_json::Value> = s
        .request(Method::GET, "/api/v1/audit?limit=500", "ada")
        .send()
        .await?
        .json()
        .await?;
    assert!(log.iter().any(|e| e["action"] == "upgrade.created"
        && e["actor"] == "otto"
        && e["target"] == id.as_str()));
    assert!(log.iter().any(|e| e["action"] == "upgrade.next"
        && e["actor"] == "otto"
        && e["target"] == id.as_str()
        && e["outcome"] == "ok"));
    assert!(log.iter().any(|e| e["action"] == "upgrade.start"
        && e["outcome"] == "refused"
        && e["detail"].as_str().unwrap_or("").contains("risk")));
    assert!(log.iter().any(|e| e["action"] == "request"
        && e["actor"] == "vera"
        && e["target"] == format!("POST /api/v1/upgrades/{id}/next")));
    assert!(log.iter().any(|e| e["action"] == "request"
        && e["actor"] == "otto"
        && e["target"] == format!("POST /api/v1/upgrades/{id}/rollback")));
    let text = serde_json::to_string(&log)?;
    for token in s.tokens.values() {
        assert!(
            !text.contains(token.as_str()),
            "a token reached the audit log"
        );
    }
    Ok(())
}
