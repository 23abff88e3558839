//! `docs/scheduler-contract.openapi.yaml` against the real server: every documented
//! operation is called, its status must be documented and its body must match the
//! documented schema; the file and the served contract routes must be the same set.

use std::collections::BTreeSet;

use sample_platform::PlatformVersion;
use sample_platform::instances::NewInstance;
use serde_json::{Value, json};

use crate::harness::{Engine, Process, TestDb};

crate::on_both_engines!(server_matches_the_openapi_document);

const DOC: &str = include_str!("../../../docs/scheduler-contract.openapi.yaml");

/// Resolves `{"$ref": "#/components/schemas/X"}`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            doc.pointer(pointer).unwrap_or(&Value::Null)
        }
        None => schema,
    }
}

/// Checks `value` against an OpenAPI 3.0 schema subset (type, required, properties,
/// items, enum, nullable, format date/date-time, minimum); pushes each mismatch.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if value.is_null() && schema["nullable"] == true {
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} not in {allowed:?}"));
    }
    match schema["type"].as_str() {
        Some("object") => {
            let Some(object) = value.as_object() else {
                return errors.push(format!("{at}: expected an object, got {value}"));
            };
            for field in schema["required"].as_array().into_iter().flatten() {
                let name = field.as_str().unwrap_or_default();
                if !object.contains_key(name) {
                    errors.push(format!("{at}: required field {name} missing"));
                }
            }
            if let Some(properties) = schema["properties"].as_object() {
                for (name, sub) in properties {
                    if let Some(v) = object.get(name) {
                        check(doc, sub, v, &format!("{at}.{name}"), errors);
                    }
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                return errors.push(format!("{at}: expected an array, got {value}"));
            };
            for (i, item) in items.iter().enumerate() {
                check(doc, &schema["items"], item, &format!("{at}[{i}]"), errors);
            }
        }
        Some("string") => {
            let Some(text) = value.as_str() else {
                return errors.push(format!("{at}: expected a string, got {value}"));
            };
            let ok = match schema["format"].as_str() {
                Some("date") => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
                Some("date-time") => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
                _ => true,
            };
            if !ok {
                errors.push(format!("{at}: {text:?} is not a {}", schema["format"]));
            }
        }
        Some("integer") => match value.as_i64() {
            Some(n) if schema["minimum"].as_i64().is_none_or(|m| n >= m) => {}
            _ => errors.push(format!("{at}: expected an integer in range, got {value}")),
        },
        Some("boolean") if !value.is_boolean() => {
            errors.push(format!("{at}: expected a boolean, got {value}"));
        }
        _ => {}
    }
}

struct Call {
    method: &'static str,
    path: &'static str,
    url: String,
    body: Option<Value>,
    status: u16,
}

fn call(
    method: &'static str,
    path: &'static str,
    url: &str,
    body: Option<Value>,
    status: u16,
) -> Call {
    Call {
        method,
        path,
        url: url.to_owned(),
        body,
        status,
    }
}

fn history(workflow: &str, date: &str, status: &str) -> NewInstance {
    NewInstance {
        run_id: format!("{workflow}-{date}"),
        workflow: workflow.to_owned(),
        task: "t0".to_owned(),
        seq: 0,
        command: "true".to_owned(),
        schedule_type: "backfill".to_owned(),
        tenant: "acme".to_owned(),
        environment: "prod".to_owned(),
        business_date: date.to_owned(),
        status: status.to_owned(),
        rerun_of: None,
        owner: None,
    }
}

async fn server_matches_the_openapi_document(engine: Engine) -> anyhow::Result<()> {
    let doc: Value = serde_saphyr::from_str(DOC)?;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in item
            .as_object()
            .into_iter()
            .flatten()
            .map(|(m, _)| m.clone())
        {
            documented.insert((method, path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = sample_platform::contract::ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented, served,
        "the document and the served routes differ"
    );

    // The checker itself rejects what it should.
    let mut probe = Vec::new();
    let health = json!({"$ref": "#/components/schemas/Health"});
    check(
        &doc,
        &health,
        &json!({"status": "down"}),
        "probe",
        &mut probe,
    );
    assert_eq!(probe.len(), 2, "{probe:?}");

    let db = TestDb::new(engine)?;
    let meta = db.metadb().await?;
    meta.prepare(PlatformVersion::V1_0_0).await?;
    meta.insert_instance(&history("h", "2026-11-19", "succeeded"))
        .await?;
    let failed = meta
        .insert_instance(&history("h", "2026-11-20", "failed"))
        .await?;
    let p = Process::scheduler(&db, "1.0.0").await?;
    p.add_workflow("long", "prod", &["sleep 60"]).await?;
    let running = p.trigger("long", "adhoc").await?;
    p.wait_status(&running, "running").await?;

    let calls = [
        call("get", "/health", "/health", None, 200),
        call(
            "get",
            "/changeover/v1/failed-today-succeeded-yesterday",
            "/changeover/v1/failed-today-succeeded-yesterday?today=2026-11-20",
            None,
            200,
        ),
        call(
            "get",
            "/changeover/v1/failed-today-succeeded-yesterday",
            "/changeover/v1/failed-today-succeeded-yesterday?today=20261120",
            None,
            400,
        ),
        call(
            "get",
            "/changeover/v1/toggles",
            "/changeover/v1/toggles",
            None,
            200,
        ),
        call(
            "put",
            "/changeover/v1/toggles/{environment}",
            "/changeover/v1/toggles/prod",
            Some(json!({"execution": true})),
            200,
        ),
        call(
            "put",
            "/changeover/v1/toggles/{environment}",
            "/changeover/v1/toggles/prod",
            Some(json!({"bogus": true})),
            400,
        ),
        call(
            "put",
            "/changeover/v1/toggles/{environment}",
            "/changeover/v1/toggles/staging",
            Some(json!({})),
            404,
        ),
        call(
            "put",
            "/changeover/v1/toggles/{environment}",
            "/changeover/v1/toggles/dev",
            Some(json!({"scheduling": true})),
            409,
        ),
        call(
            "get",
            "/changeover/v1/instances",
            "/changeover/v1/instances?status=running",
            None,
            200,
        ),
        call(
            "get",
            "/changeover/v1/instances",
            "/changeover/v1/instances?status=bogus",
            None,
            400,
        ),
        call(
            "post",
            "/changeover/v1/instances/rerun",
            "/changeover/v1/instances/rerun",
            Some(json!({"request_id": "r1", "ids": [failed.to_string(), running, "nope"]})),
            200,
        ),
        call(
            "post",
            "/changeover/v1/instances/rerun",
            "/changeover/v1/instances/rerun",
            Some(json!({"request_id": "", "ids": []})),
            400,
        ),
        call(
            "post",
            "/changeover/v1/instances/terminate",
            "/changeover/v1/instances/terminate",
            Some(json!({"ids": [running, "nope"]})),
            200,
        ),
        call(
            "post",
            "/changeover/v1/instances/terminate",
            "/changeover/v1/instances/terminate",
            Some(json!({"id": 1})),
            400,
        ),
        call(
            "get",
            "/changeover/v1/instances",
            "/changeover/v1/instances",
            None,
            200,
        ),
        call(
            "get",
            "/changeover/v1/statistics",
            "/changeover/v1/statistics?from=2026-11-01&to=2026-11-30&tenant=acme&environment=prod",
            None,
            200,
        ),
        call(
            "get",
            "/changeover/v1/statistics",
            "/changeover/v1/statistics?from=2026-11-01",
            None,
            400,
        ),
    ];
    let mut errors = Vec::new();
    let mut exercised = BTreeSet::new();
    for c in &calls {
        let method = reqwest::Method::from_bytes(c.method.to_uppercase().as_bytes())?;
        let (status, body) = match &c.body {
            Some(b) => p.send(method, &c.url, b).await?,
            None => p.send(method, &c.url, &Value::Null).await?,
        };
        let at = format!("{} {}", c.method.to_uppercase(), c.url);
        assert_eq!(status, c.status, "{at}: {body}");
        if body.as_array().is_some_and(Vec::is_empty) {
            errors.push(format!(
                "{at}: empty list, the item schema was not exercised"
            ));
        }
        let operation = &doc["paths"][c.path][c.method];
        let schema =
            &operation["responses"][status.to_string()]["content"]["application/json"]["schema"];
        if schema.is_null() {
            errors.push(format!("{at}: status {status} is not documented"));
            continue;
        }
        check(&doc, schema, &body, &at, &mut errors);
        exercised.insert((c.method.to_owned(), c.path.to_owned(), status.to_string()));
    }
    for (method, path) in &documented {
        for status in doc["paths"][path][method]["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(s, _)| s)
        {
            if !exercised.contains(&(method.clone(), path.clone(), status.clone())) {
                errors.push(format!(
                    "{method} {path} {status} documented but never exercised"
                ));
            }
        }
        // Nothing undocumented is served on a documented path.
        let probe = path.replace("{environment}", "prod");
        let (status, _) = p
            .send(reqwest::Method::DELETE, &probe, &Value::Null)
            .await?;
        if status != 405 {
            errors.push(format!("DELETE {probe} answered {status}, expected 405"));
        }
    }
    assert!(
        errors.is_empty(),
        "contract mismatches:\n{}",
        errors.join("\n")
    );
    Ok(())
}
