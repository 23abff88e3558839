//! The two toggles with the seeds' semantics.

use serde_json::json;

use crate::harness::{Engine, Process, TestDb};

crate::on_both_engines!(
    scheduling_off_holds_scheduled_but_runs_backfill_adhoc_and_running,
    execution_off_dispatches_nothing_but_running_continues,
    dev_scheduling_cannot_be_turned_on_and_toggles_persist,
);

async fn scheduling_off_holds_scheduled_but_runs_backfill_adhoc_and_running(
    engine: Engine,
) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let p = Process::scheduler(&db, "1.0.0").await?;
    p.add_workflow("long", "prod", &["sleep 1"]).await?;
    p.add_workflow("quick", "prod", &["true"]).await?;
    let long = p.trigger("long", "scheduled").await?;
    p.wait_status(&long, "running").await?;

    p.set_toggles("prod", json!({"scheduling": false})).await?;
    let scheduled = p.trigger("quick", "scheduled").await?;
    let backfill = p.trigger("quick", "backfill").await?;
    let adhoc = p.trigger("quick", "adhoc").await?;
    p.wait_status(&backfill, "succeeded").await?;
    p.wait_status(&adhoc, "succeeded").await?;
    p.wait_status(&long, "succeeded").await?;
    assert_eq!(p.status_of(&scheduled).await?, "waiting");

    p.set_toggles("prod", json!({"scheduling": true})).await?;
    p.wait_status(&scheduled, "succeeded").await?;
    Ok(())
}

async fn execution_off_dispatches_nothing_but_running_continues(
    engine: Engine,
) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let p = Process::scheduler(&db, "1.0.0").await?;
    p.add_workflow("long", "prod", &["sleep 1"]).await?;
    p.add_workflow("quick", "prod", &["true"]).await?;
    let long = p.trigger("long", "adhoc").await?;
    p.wait_status(&long, "running").await?;

    p.set_toggles("prod", json!({"execution": false})).await?;
    let held = [
        p.trigger("quick", "scheduled").await?,
        p.trigger("quick", "backfill").await?,
        p.trigger("quick", "adhoc").await?,
    ];
    p.wait_status(&long, "succeeded").await?;
    for id in &held {
        assert_eq!(p.status_of(id).await?, "waiting", "instance {id}");
    }
    p.set_toggles("prod", json!({"execution": true})).await?;
    for id in &held {
        p.wait_status(id, "succeeded").await?;
    }
    Ok(())
}

async fn dev_scheduling_cannot_be_turned_on_and_toggles_persist(
    engine: Engine,
) -> anyhow::Result<()> {
    let db = TestDb::new(engine)?;
    let mut p = Process::scheduler(&db, "1.0.0").await?;
    let (status, body) = p
        .put("/changeover/v1/toggles/dev", &json!({"scheduling": true}))
        .await?;
    assert_eq!(status, 409);
    assert_eq!(body["code"], "dev_scheduling_always_off");
    let (status, body) = p
        .put(
            "/changeover/v1/toggles/staging",
            &json!({"execution": false}),
        )
        .await?;
    assert_eq!(status, 404, "{body}");

    p.set_toggles("prod", json!({"scheduling": false, "execution": false}))
        .await?;
    p.set_toggles("dev", json!({"execution": false})).await?;
    p.kill();
    let p = Process::scheduler(&db, "1.0.0").await?;
    let (_, toggles) = p.get("/changeover/v1/toggles").await?;
    assert_eq!(
        toggles,
        json!([
            {"environment": "dev", "scheduling": false, "execution": false},
            {"environment": "prod", "scheduling": false, "execution": false},
        ])
    );

    // A dev workflow's scheduled runs never dispatch; its ad-hoc runs do.
    p.set_toggles("dev", json!({"execution": true})).await?;
    p.add_workflow("devflow", "dev", &["true"]).await?;
    let scheduled = p.trigger("devflow", "scheduled").await?;
    let adhoc = p.trigger("devflow", "adhoc").await?;
    p.wait_status(&adhoc, "succeeded").await?;
    assert_eq!(p.status_of(&scheduled).await?, "waiting");
    Ok(())
}
