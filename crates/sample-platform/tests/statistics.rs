//! Statistics and failed-today-succeeded-yesterday over generated histories.

use std::collections::BTreeMap;

use sample_platform::PlatformVersion;
use sample_platform::instances::NewInstance;
use serde_json::Value;

use crate::harness::{Engine, Process, TestDb};

crate::on_both_engines!(
    statistics_match_a_generated_history,
    failed_today_succeeded_yesterday_is_right
);

fn instance(workflow: &str, tenant: &str, env: &str, date: &str, status: &str) -> NewInstance {
    NewInstance {
        run_id: format!("{workflow}-{date}"),
        workflow: workflow.to_owned(),
        task: "t0".to_owned(),
        seq: 0,
        command: "true".to_owned(),
        schedule_type: "scheduled".to_owned(),
        tenant: tenant.to_owned(),
        environment: env.to_owned(),
        business_date: date.to_owned(),
        status: status.to_owned(),
        rerun_of: None,
        owner: None,
    }
}

type Key = (String, String, String);

fn rows_to_map(rows: &Value) -> BTreeMap<Key, u64> {
    rows.as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let key = (
                r["business_date"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["tenant"].as_str().unwrap_or_default().to_owned(),
            );
            (key, r["count"].as_u64().unwrap_or(0))
        })
        .collect()
}

async fn statistics_match_a_generated_history(engine: Engine) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let meta = db.metadb().await?;
    meta.prepare(PlatformVersion::V1_0_0).await?;
    // A fixed pseudo-random history; waiting ones live in dev (never dispatched: scheduled).
    let statuses = ["succeeded", "failed", "killed", "succeeded", "waiting"];
    let tenants = ["acme", "globex", "initech"];
    let mut seed: u64 = 7;
    let mut all = Vec::new();
    for _ in 0..120 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let day = 15 + (seed >> 33) % 6;
        let status = statuses[((seed >> 20) % 5) as usize];
        let tenant = tenants[((seed >> 40) % 3) as usize];
        let env = if status == "waiting" || (seed >> 50).is_multiple_of(4) {
            "dev"
        } else {
            "prod"
        };
        let date = format!("2026-11-{day}");
        meta.insert_instance(&instance("w", tenant, env, &date, status))
            .await?;
        all.push((date, status, tenant, env));
    }
    let p = Process::scheduler(&db, "1.0.0").await?;
    let expect = |tenant: Option<&str>, env: Option<&str>| {
        let mut map: BTreeMap<Key, u64> = BTreeMap::new();
        for (date, status, t, e) in &all {
            let in_range = date.as_str() >= "2026-11-16" && date.as_str() <= "2026-11-19";
            if in_range && tenant.is_none_or(|x| x == *t) && env.is_none_or(|x| x == *e) {
                *map.entry((date.clone(), status.to_string(), t.to_string()))
                    .or_default() += 1;
            }
        }
        map
    };
    let base = "/changeover/v1/statistics?from=2026-11-16&to=2026-11-19";
    let (status, rows) = p.get(base).await?;
    assert_eq!(status, 200);
    assert_eq!(rows_to_map(&rows), expect(None, None));
    let (_, rows) = p.get(&format!("{base}&tenant=globex")).await?;
    assert_eq!(rows_to_map(&rows), expect(Some("globex"), None));
    let (_, rows) = p
        .get(&format!("{base}&tenant=acme&environment=prod"))
        .await?;
    assert_eq!(rows_to_map(&rows), expect(Some("acme"), Some("prod")));
    assert!(!expect(Some("acme"), Some("prod")).is_empty());

    let (status, err) = p
        .get("/changeover/v1/statistics?from=2026-13-01&to=2026-11-19")
        .await?;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_date")));
    Ok(())
}

async fn failed_today_succeeded_yesterday_is_right(engine: Engine) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let meta = db.metadb().await?;
    meta.prepare(PlatformVersion::V1_0_0).await?;
    let (y, t) = ("2026-11-21", "2026-11-22");
    // a: succeeded yesterday, failed today -> listed.
    meta.insert_instance(&instance("a", "acme", "prod", y, "succeeded"))
        .await?;
    let a = meta
        .insert_instance(&instance("a", "acme", "prod", t, "failed"))
        .await?;
    // b: succeeded yesterday, failed today, re-run succeeded -> not listed.
    meta.insert_instance(&instance("b", "acme", "prod", y, "succeeded"))
        .await?;
    meta.insert_instance(&instance("b", "acme", "prod", t, "failed"))
        .await?;
    meta.insert_instance(&instance("b", "acme", "prod", t, "succeeded"))
        .await?;
    // c: failed both days -> not listed.
    meta.insert_instance(&instance("c", "acme", "prod", y, "failed"))
        .await?;
    meta.insert_instance(&instance("c", "acme", "prod", t, "failed"))
        .await?;
    // d: succeeded both days; e: failed today, nothing yesterday -> not listed.
    meta.insert_instance(&instance("d", "acme", "prod", y, "succeeded"))
        .await?;
    meta.insert_instance(&instance("d", "acme", "prod", t, "succeeded"))
        .await?;
    meta.insert_instance(&instance("e", "acme", "prod", t, "failed"))
        .await?;
    // f: succeeded two days ago only -> not listed.
    meta.insert_instance(&instance("f", "acme", "prod", "2026-11-20", "succeeded"))
        .await?;
    meta.insert_instance(&instance("f", "acme", "prod", t, "failed"))
        .await?;

    let p = Process::scheduler(&db, "1.0.0").await?;
    let (status, rows) = p
        .get(&format!(
            "/changeover/v1/failed-today-succeeded-yesterday?today={t}"
        ))
        .await?;
    assert_eq!(status, 200);
    let rows = rows.as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["instance_id"], a.to_string());
    assert_eq!(rows[0]["node_id"], "a.t0");
    assert_eq!(rows[0]["status"], "failed");
    assert_eq!(rows[0]["node_type"], "SHELL");
    Ok(())
}
