//! The 1.3 `process_definition_json`, parsed and checked. Everything the split needs is
//! validated here, so a definition either parses into a `Workflow13` whose task names are
//! unique and whose predecessors exist, or is rejected with a reason for the dead letters.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// A 1.3 workflow: the parsed `process_definition_json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow13 {
    pub global_params: Value,
    pub tenant_id: Option<i64>,
    pub timeout: i64,
    pub tasks: Vec<Task13>,
}

/// One task of a 1.3 workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Task13 {
    /// The designer's id, `tasks-12345`; stable across edits, keys `locations`.
    pub id: String,
    pub name: String,
    pub task_type: String,
    pub params: Map<String, Value>,
    pub description: String,
    pub run_flag: String,
    pub max_retry_times: i64,
    pub retry_interval: i64,
    pub timeout: Value,
    pub priority: String,
    pub worker_group: String,
    pub pre_tasks: Vec<String>,
    pub condition_result: Value,
    pub dependence: Value,
    pub delay_time: i64,
}

/// The task types of 1.3.
pub const TASK_TYPES_13: [&str; 14] = [
    "SHELL",
    "SQL",
    "SUB_PROCESS",
    "PROCEDURE",
    "MR",
    "SPARK",
    "FLINK",
    "PYTHON",
    "DEPENDENT",
    "HTTP",
    "DATAX",
    "CONDITIONS",
    "SQOOP",
    "WATERDROP",
];

/// Parses and checks a definition's JSON; the error is the dead-letter reason.
pub fn parse_workflow(json: Option<&str>) -> Result<Workflow13, String> {
    let text = json.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err("process_definition_json is empty".to_owned());
    }
    let root: Value = serde_json::from_str(text)
        .map_err(|e| format!("process_definition_json is not valid JSON: {e}"))?;
    let Value::Object(mut root) = root else {
        return Err("process_definition_json is not a JSON object".to_owned());
    };
    let Some(Value::Array(tasks)) = root.remove("tasks") else {
        return Err("process_definition_json has no `tasks` array".to_owned());
    };
    let mut parsed = Vec::with_capacity(tasks.len());
    for (index, task) in tasks.into_iter().enumerate() {
        parsed.push(parse_task(task).map_err(|e| format!("tasks[{index}]: {e}"))?);
    }
    check_names(&parsed)?;
    Ok(Workflow13 {
        global_params: parse_embedded(root.remove("globalParams")),
        tenant_id: root.get("tenantId").and_then(as_i64),
        timeout: root.get("timeout").and_then(as_i64).unwrap_or(0),
        tasks: parsed,
    })
}

/// 1.3 writes `globalParams` as an array, sometimes as a JSON string of one.
fn parse_embedded(value: Option<Value>) -> Value {
    match value {
        None | Some(Value::Null) => Value::Array(Vec::new()),
        Some(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        Some(v) => v,
    }
}

fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Takes `key` out of `task` as text (a non-string value as its JSON).
fn text(task: &mut Map<String, Value>, key: &str) -> Option<String> {
    match task.remove(key)? {
        Value::String(s) => Some(s),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn parse_task(task: Value) -> Result<Task13, String> {
    let Value::Object(mut task) = task else {
        return Err("task is not a JSON object".to_owned());
    };
    let task = &mut task;
    let id = text(task, "id")
        .filter(|s| !s.is_empty())
        .ok_or("task has no id")?;
    let name = text(task, "name")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("task {id} has no name"))?;
    let task_type = text(task, "type").ok_or_else(|| format!("task {name} has no type"))?;
    if !TASK_TYPES_13.contains(&task_type.as_str()) {
        return Err(format!("task {name} has unknown type {task_type}"));
    }
    let params = match task.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(format!("task {name}: params is not a JSON object")),
    };
    let pre_tasks = match task.remove("preTasks") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("task {name}: preTasks holds a non-string"))?,
        Some(_) => return Err(format!("task {name}: preTasks is not an array")),
    };
    // `description` wins over `desc` (both are taken, so `desc` never leaks elsewhere).
    let description = text(task, "description");
    let desc = text(task, "desc");
    Ok(Task13 {
        description: description.or(desc).unwrap_or_default(),
        run_flag: text(task, "runFlag").unwrap_or_else(|| "NORMAL".to_owned()),
        max_retry_times: task.get("maxRetryTimes").and_then(as_i64).unwrap_or(0),
        retry_interval: task.get("retryInterval").and_then(as_i64).unwrap_or(1),
        timeout: task.remove("timeout").unwrap_or(Value::Null),
        priority: text(task, "taskInstancePriority").unwrap_or_else(|| "MEDIUM".to_owned()),
        worker_group: text(task, "workerGroup").unwrap_or_else(|| "default".to_owned()),
        condition_result: task.remove("conditionResult").unwrap_or(Value::Null),
        dependence: task.remove("dependence").unwrap_or(Value::Null),
        delay_time: task.get("delayTime").and_then(as_i64).unwrap_or(0),
        id,
        name,
        task_type,
        params,
        pre_tasks,
    })
}

fn check_names(tasks: &[Task13]) -> Result<(), String> {
    let mut names = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for task in tasks {
        if !names.insert(task.name.as_str()) {
            return Err(format!("task name {} appears twice", task.name));
        }
        if !ids.insert(task.id.as_str()) {
            return Err(format!("task id {} appears twice", task.id));
        }
    }
    for task in tasks {
        for pre in &task.pre_tasks {
            if !names.contains(pre.as_str()) {
                return Err(format!(
                    "task {} names predecessor {pre}, which is not in the workflow",
                    task.name
                ));
            }
        }
        if task.task_type == "CONDITIONS" {
            for branch in ["successNode", "failedNode"] {
                for node in condition_branch(&task.condition_result, branch) {
                    if !names.contains(node.as_str()) {
                        return Err(format!(
                            "conditions task {} names {branch} {node}, which is not in the workflow",
                            task.name
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The task names listed in a CONDITIONS task's `conditionResult.<branch>` (the 1.3
/// designer writes `[""]` for an empty branch).
pub fn condition_branch(condition_result: &Value, branch: &str) -> Vec<String> {
    condition_result
        .get(branch)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_malformed_json_are_rejected_with_a_reason() {
        assert_eq!(
            parse_workflow(None).unwrap_err(),
            "process_definition_json is empty"
        );
        assert_eq!(
            parse_workflow(Some("  ")).unwrap_err(),
            "process_definition_json is empty"
        );
        assert!(
            parse_workflow(Some("{\"tasks\": ["))
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            parse_workflow(Some("[]"))
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(
            parse_workflow(Some("{}"))
                .unwrap_err()
                .contains("no `tasks` array")
        );
    }

    #[test]
    fn a_missing_predecessor_is_rejected() {
        let json = r#"{"tasks":[{"id":"tasks-1","name":"a","type":"SHELL","preTasks":["ghost"]}]}"#;
        let err = parse_workflow(Some(json)).unwrap_err();
        assert_eq!(
            err,
            "task a names predecessor ghost, which is not in the workflow"
        );
    }

    #[test]
    fn duplicate_names_and_unknown_types_are_rejected() {
        let json = r#"{"tasks":[{"id":"tasks-1","name":"a","type":"SHELL"},{"id":"tasks-2","name":"a","type":"SHELL"}]}"#;
        assert_eq!(
            parse_workflow(Some(json)).unwrap_err(),
            "task name a appears twice"
        );
        let json = r#"{"tasks":[{"id":"tasks-1","name":"a","type":"KUBERNETES"}]}"#;
        assert_eq!(
            parse_workflow(Some(json)).unwrap_err(),
            "tasks[0]: task a has unknown type KUBERNETES"
        );
    }
}
