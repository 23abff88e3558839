//! Airflow's JSON (DAG runs of 2.x and 3.x) mapped to the scheduler model. Pure.
//!
//! An instance is one **DAG run**, id `"<dag_id>/<run_id>"` (a DAG id never holds `/`;
//! a run id may, so the id is split at the first `/`). Its business date is the run's
//! logical date (3.x: `logical_date`, else `run_after`; 2.x: `execution_date`).

use changeover_drivers::scheduler::{Environment, Instance, InstanceStatus, ScheduleType};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// The node type reported for a DAG run.
pub const NODE_TYPE: &str = "dag_run";

/// `"<dag_id>/<run_id>"`.
pub fn instance_id(dag_id: &str, run_id: &str) -> String {
    format!("{dag_id}/{run_id}")
}

/// The DAG id and run id of an instance id, or why it is not one.
pub fn split_id(id: &str) -> Result<(&str, &str), String> {
    match id.split_once('/') {
        Some((dag, run)) if !dag.is_empty() && !run.is_empty() => Ok((dag, run)),
        _ => Err(format!(
            "{id:?} is not an Airflow instance id: expected <dag_id>/<run_id>"
        )),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn time(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    text(v, key)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The run's logical time: `logical_date`, else `execution_date`, else `run_after`.
pub fn logical_time(run: &Value) -> Option<DateTime<Utc>> {
    time(run, "logical_date")
        .or_else(|| time(run, "execution_date"))
        .or_else(|| time(run, "run_after"))
}

/// A DAG run's state as an instance status (`None` for states changeover does not count).
pub fn status(state: &str) -> Option<InstanceStatus> {
    match state {
        "queued" => Some(InstanceStatus::Waiting),
        "running" => Some(InstanceStatus::Running),
        "success" => Some(InstanceStatus::Succeeded),
        "failed" => Some(InstanceStatus::Failed),
        _ => None,
    }
}

/// Whether a run in this state has finished.
pub fn finished(state: &str) -> bool {
    matches!(state, "success" | "failed")
}

/// `scheduled` → scheduled, `backfill` → backfill, anything else (manual, dataset or asset
/// triggered) → ad hoc.
pub fn schedule_type(run_type: &str) -> ScheduleType {
    match run_type {
        "scheduled" => ScheduleType::Scheduled,
        "backfill" => ScheduleType::Backfill,
        _ => ScheduleType::Adhoc,
    }
}

/// A DAG run as an instance; `task` is the first running task's id (or empty), `tenant`
/// the DAG's first owner.
pub fn instance(run: &Value, running_task: Option<&str>, owner: &str) -> Result<Instance, String> {
    let dag = text(run, "dag_id").ok_or("a DAG run without dag_id")?;
    let run_id = text(run, "dag_run_id").ok_or("a DAG run without dag_run_id")?;
    let state = text(run, "state").unwrap_or("queued");
    let logical = logical_time(run)
        .ok_or_else(|| format!("DAG run {dag}/{run_id} has no logical date nor run_after"))?;
    Ok(Instance {
        id: instance_id(dag, run_id),
        workflow: dag.to_owned(),
        task: running_task.unwrap_or_default().to_owned(),
        node_id: run_id.to_owned(),
        node_type: NODE_TYPE.to_owned(),
        schedule_type: schedule_type(text(run, "run_type").unwrap_or("manual")),
        tenant: owner.to_owned(),
        environment: Environment::Prod,
        business_date: logical.date_naive(),
        status: status(state).unwrap_or(InstanceStatus::Waiting),
        started_at: time(run, "start_date"),
        updated_at: time(run, "end_date").or_else(|| time(run, "start_date")),
    })
}

/// The first owner of a DAG (`owners` list), or `airflow`.
pub fn owner(dag: &Value) -> String {
    dag.get("owners")
        .and_then(Value::as_array)
        .and_then(|o| o.first())
        .and_then(Value::as_str)
        .filter(|o| !o.is_empty())
        .unwrap_or("airflow")
        .to_owned()
}

/// Start (inclusive) and end (exclusive) of `day` in RFC 3339, for date filters.
pub fn day_bounds(from: NaiveDate, to: NaiveDate) -> (String, String) {
    let start = from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let end = to
        .succ_opt()
        .unwrap_or(to)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    (
        start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_round_trip_and_run_ids_may_hold_slashes() {
        let id = instance_id("etl", "manual__2026-11-23T06:37:06+00:00/x");
        assert_eq!(
            split_id(&id).unwrap(),
            ("etl", "manual__2026-11-23T06:37:06+00:00/x")
        );
        for bad in ["", "etl", "/run", "etl/"] {
            assert!(split_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_2x_run_uses_execution_date() {
        let run = json!({"dag_id": "etl", "dag_run_id": "scheduled__2026-11-22T00:00:00+00:00",
            "state": "running", "run_type": "scheduled",
            "execution_date": "2026-11-22T00:00:00+00:00", "start_date": "2026-11-23T00:00:05+00:00"});
        let i = instance(&run, Some("slow"), "ops").unwrap();
        assert_eq!(i.id, "etl/scheduled__2026-11-22T00:00:00+00:00");
        assert_eq!(i.business_date.to_string(), "2026-11-22");
        assert_eq!(i.status, InstanceStatus::Running);
        assert_eq!(i.schedule_type, ScheduleType::Scheduled);
        assert_eq!(i.task, "slow");
        assert_eq!(i.tenant, "ops");
    }

    #[test]
    fn a_3x_run_without_logical_date_uses_run_after() {
        let run = json!({"dag_id": "etl", "dag_run_id": "manual__x", "state": "queued",
            "run_type": "manual", "logical_date": null, "run_after": "2026-11-23T06:37:06.884358Z"});
        let i = instance(&run, None, "airflow").unwrap();
        assert_eq!(i.business_date.to_string(), "2026-11-23");
        assert_eq!(i.status, InstanceStatus::Waiting);
        assert_eq!(i.schedule_type, ScheduleType::Adhoc);
        let err = instance(&json!({"dag_id": "etl", "dag_run_id": "r"}), None, "a").unwrap_err();
        assert!(err.contains("etl/r"), "{err}");
    }

    #[test]
    fn owners_and_day_bounds() {
        assert_eq!(owner(&json!({"owners": ["data-eng", "x"]})), "data-eng");
        assert_eq!(owner(&json!({"owners": []})), "airflow");
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(
            day_bounds(d, d),
            (
                "2026-11-23T00:00:00Z".to_owned(),
                "2026-11-24T00:00:00Z".to_owned()
            )
        );
    }
}
