//! The 1.3 → 3.2 split of one workflow: `process_definition_json` becomes a definition,
//! task definitions and relations, with every reference rewritten through the id map.
//! The rules follow upstream's 2.0 upgrader (read, not copied), with two deliberate
//! differences: a reference that cannot be resolved is an error (upstream drops it or
//! writes null), and locations keep the order of the tasks.

use std::fmt::Write as _;

use md5::{Digest, Md5};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::idmap::{DefinitionEntry, IdMap};
use crate::workflow13::{Task13, Workflow13, condition_branch};

/// One task definition's 3.2 content, without code version and timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskContent {
    pub name: String,
    pub task_type: String,
    pub description: String,
    pub flag: i64,
    pub fail_retry_times: i64,
    pub fail_retry_interval: i64,
    pub task_priority: i64,
    pub worker_group: String,
    pub timeout_flag: i64,
    pub timeout_notify_strategy: Option<i64>,
    pub timeout: i64,
    pub delay_time: i64,
    pub resource_ids: String,
    pub task_params: String,
}

impl TaskContent {
    pub fn hash(&self) -> String {
        content_hash(self)
    }
}

/// MD5 (hex) of a value's JSON form.
pub fn content_hash<T: Serialize>(value: &T) -> String {
    // Serialized straight into the hasher: the same bytes as `to_string`, no copy.
    let mut hasher = HashWriter(Md5::new());
    if serde_json::to_writer(&mut hasher, value).is_err() {
        return hex::encode(Md5::digest(b""));
    }
    hex::encode(hasher.0.finalize())
}

/// An `io::Write` that feeds an MD5.
struct HashWriter(Md5);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A workflow after the split, tasks keyed by their 1.3 id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitWorkflow {
    pub global_params: String,
    pub timeout: i64,
    pub locations: Option<String>,
    /// (1.3 task id, code, content), in the order of the 1.3 JSON.
    pub tasks: Vec<(String, i64, TaskContent)>,
    /// (predecessor task id or None for a root, task id), in task order.
    pub edges: Vec<(Option<String>, String)>,
}

/// 3.2's `Priority` ordinal of a 1.3 `taskInstancePriority`.
pub fn priority_ordinal(priority: &str) -> Result<i64, String> {
    match priority {
        "HIGHEST" => Ok(0),
        "HIGH" => Ok(1),
        "MEDIUM" | "" => Ok(2),
        "LOW" => Ok(3),
        "LOWEST" => Ok(4),
        other => Err(format!("unknown task priority {other}")),
    }
}

/// (timeout_flag, timeout_notify_strategy, timeout) of a 1.3 task `timeout` object.
pub fn task_timeout(timeout: &Value) -> Result<(i64, Option<i64>, i64), String> {
    if timeout.is_null() {
        return Ok((0, None, 0));
    }
    let enable = timeout
        .get("enable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let strategy = match timeout
        .get("strategy")
        .and_then(Value::as_str)
        .unwrap_or("")
    {
        "" => None,
        "WARN" => Some(0),
        "FAILED" => Some(1),
        "WARNFAILED" => Some(2),
        other => return Err(format!("unknown timeout strategy {other}")),
    };
    let interval = timeout.get("interval").and_then(Value::as_i64).unwrap_or(0);
    Ok((i64::from(enable), strategy, interval))
}

/// `resource_ids` of a 1.3 task: the ids of its `resourceList`, comma-separated.
pub fn split_resource_ids(params: &Map<String, Value>) -> String {
    params
        .get("resourceList")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|r| r.get("id").and_then(Value::as_i64))
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// Splits `workflow`; `entry` must already hold a code for every task (see `reserve_codes`).
/// The parameters are moved out of `workflow` into the split, not copied.
pub fn split(
    mut workflow: Workflow13,
    entry: &DefinitionEntry,
    map: &IdMap,
    locations: Option<&str>,
) -> Result<SplitWorkflow, String> {
    let moved: Vec<(Map<String, Value>, Value, Value)> = workflow
        .tasks
        .iter_mut()
        .map(|t| {
            (
                std::mem::take(&mut t.params),
                std::mem::take(&mut t.condition_result),
                std::mem::take(&mut t.dependence),
            )
        })
        .collect();
    let workflow = &workflow;
    let code_of = |task: &Task13| entry.tasks.get(&task.id).map(|t| t.code);
    let name_code = |name: &str| -> Option<i64> {
        workflow
            .tasks
            .iter()
            .find(|t| t.name == name)
            .and_then(code_of)
    };
    let mut tasks = Vec::with_capacity(workflow.tasks.len());
    let mut edges = Vec::new();
    for (task, (params, condition_result, dependence)) in workflow.tasks.iter().zip(moved) {
        let code =
            code_of(task).ok_or_else(|| format!("task {} has no reserved code", task.name))?;
        let resource_ids = split_resource_ids(&params);
        let params = task_params(task, params, condition_result, dependence, map, &name_code)
            .map_err(|e| format!("task {}: {e}", task.name))?;
        let sub_process = task.task_type == "SUB_PROCESS";
        let (timeout_flag, timeout_notify_strategy, timeout) =
            task_timeout(&task.timeout).map_err(|e| format!("task {}: {e}", task.name))?;
        let content = TaskContent {
            name: task.name.clone(),
            task_type: task.task_type.clone(),
            description: task.description.clone(),
            flag: i64::from(task.run_flag == "NORMAL"),
            fail_retry_times: if sub_process { 0 } else { task.max_retry_times },
            fail_retry_interval: if sub_process { 1 } else { task.retry_interval },
            task_priority: priority_ordinal(&task.priority)
                .map_err(|e| format!("task {}: {e}", task.name))?,
            worker_group: task.worker_group.clone(),
            timeout_flag,
            timeout_notify_strategy,
            timeout,
            delay_time: task.delay_time,
            resource_ids,
            // `to_string` of a `Value` (compact) without `Display`'s formatter adapter.
            task_params: serde_json::to_string(&Value::Object(params)).unwrap_or_default(),
        };
        tasks.push((task.id.clone(), code, content));
        if task.pre_tasks.is_empty() {
            edges.push((None, task.id.clone()));
        }
        for pre in &task.pre_tasks {
            let pre_id = workflow
                .tasks
                .iter()
                .find(|t| &t.name == pre)
                .map(|t| t.id.clone());
            edges.push((pre_id, task.id.clone()));
        }
    }
    Ok(SplitWorkflow {
        global_params: serde_json::to_string(&workflow.global_params).unwrap_or_default(),
        timeout: workflow.timeout,
        locations: rekey_locations(locations, workflow, |id| {
            entry.tasks.get(id).map(|t| t.code)
        }),
        tasks,
        edges,
    })
}

/// 1.3 locations `{taskId: {x, y, ...}}` as 3.2's `[{taskCode, x, y}]`, in task order;
/// entries of tasks no longer in the workflow are dropped. Blank stays blank.
pub fn rekey_locations(
    locations: Option<&str>,
    workflow: &Workflow13,
    code_of: impl Fn(&str) -> Option<i64>,
) -> Option<String> {
    let text = locations?;
    if text.trim().is_empty() {
        return Some(text.to_owned());
    }
    let parsed: Map<String, Value> = serde_json::from_str(text).ok()?;
    // Written out directly: what serde_json gives for `[{"taskCode": code, "x": x, "y": y}]`.
    let mut out = String::from("[");
    for task in &workflow.tasks {
        let (Some(place), Some(code)) = (parsed.get(&task.id), code_of(&task.id)) else {
            continue;
        };
        let coordinate = |key: &str| {
            place
                .get(key)
                .and_then(Value::as_f64)
                .map_or(0, |v| v as i64)
        };
        if out.len() > 1 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"taskCode\":{code},\"x\":{},\"y\":{}}}",
            coordinate("x"),
            coordinate("y")
        );
    }
    out.push(']');
    Some(out)
}

/// The 3.2 `task_params` of `task`: its 1.3 `params` (moved out of it by `split`) with
/// `conditionResult` and `dependence` put in and references rewritten.
fn task_params(
    task: &Task13,
    mut params: Map<String, Value>,
    mut condition_result: Value,
    mut dependence: Value,
    map: &IdMap,
    name_code: &dyn Fn(&str) -> Option<i64>,
) -> Result<Map<String, Value>, String> {
    if task.task_type == "SUB_PROCESS"
        && let Some(id) = params.remove("processDefinitionId")
    {
        let id = json_i64(&id).ok_or("processDefinitionId is not a number")?;
        let code = map.definitions.get(&id).map(|d| d.code).ok_or_else(|| {
            format!("sub-process refers to definition {id}, which is not migrated")
        })?;
        params.insert("processDefinitionCode".to_owned(), json!(code));
    }
    match task.task_type.as_str() {
        "CONDITIONS" => {
            // Each branch only replaces itself, so reading the half-rewritten value is safe.
            for branch in ["successNode", "failedNode"] {
                let codes: Vec<i64> = condition_branch(&condition_result, branch)
                    .iter()
                    .map(|n| {
                        name_code(n).ok_or_else(|| format!("{branch} {n} is not in the workflow"))
                    })
                    .collect::<Result<_, _>>()?;
                if let Some(obj) = condition_result.as_object_mut() {
                    obj.insert(branch.to_owned(), json!(codes));
                }
            }
            rewrite_items(&mut dependence, |item| {
                let name = item
                    .remove("depTasks")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let code = name_code(&name).ok_or_else(|| {
                    format!("condition depends on task {name}, which is not in the workflow")
                })?;
                item.insert("depTaskCode".to_owned(), json!(code));
                Ok(())
            })?;
        }
        "DEPENDENT" => rewrite_items(&mut dependence, |item| rewrite_dependent_item(item, map))?,
        _ => {}
    }
    params.insert("conditionResult".to_owned(), condition_result);
    params.insert("dependence".to_owned(), dependence);
    Ok(params)
}

fn rewrite_dependent_item(item: &mut Map<String, Value>, map: &IdMap) -> Result<(), String> {
    let project_id = item
        .remove("projectId")
        .as_ref()
        .and_then(json_i64)
        .ok_or("dependent item has no projectId")?;
    let definition_id = item
        .remove("definitionId")
        .as_ref()
        .and_then(json_i64)
        .ok_or("dependent item has no definitionId")?;
    let dep_tasks = item
        .remove("depTasks")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "ALL".to_owned());
    let project = map.projects.get(&project_id).ok_or_else(|| {
        format!("dependent item refers to project {project_id}, which is not migrated")
    })?;
    let definition = map.definitions.get(&definition_id).ok_or_else(|| {
        format!("dependent item refers to definition {definition_id}, which is not migrated")
    })?;
    let task_code = if dep_tasks == "ALL" {
        0
    } else {
        definition.task_by_name(&dep_tasks).map(|t| t.code).ok_or_else(|| {
            format!("dependent item refers to task {dep_tasks} of definition {definition_id}, which does not exist")
        })?
    };
    item.insert("projectCode".to_owned(), json!(project.code));
    item.insert("definitionCode".to_owned(), json!(definition.code));
    item.insert("depTaskCode".to_owned(), json!(task_code));
    Ok(())
}

/// Applies `rewrite` to every `dependence.dependTaskList[].dependItemList[]` item.
pub fn rewrite_items(
    dependence: &mut Value,
    mut rewrite: impl FnMut(&mut Map<String, Value>) -> Result<(), String>,
) -> Result<(), String> {
    let Some(list) = dependence
        .get_mut("dependTaskList")
        .and_then(Value::as_array_mut)
    else {
        return Ok(());
    };
    for task in list {
        let Some(items) = task.get_mut("dependItemList").and_then(Value::as_array_mut) else {
            continue;
        };
        for item in items {
            let item = item
                .as_object_mut()
                .ok_or("dependItemList holds a non-object")?;
            rewrite(item)?;
        }
    }
    Ok(())
}

pub fn json_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow13::parse_workflow;

    #[test]
    fn rekeyed_locations_are_what_serde_json_writes_for_them() {
        let workflow = parse_workflow(Some(
            r#"{"tasks":[{"id":"tasks-1","name":"a","type":"SHELL"},{"id":"tasks-2","name":"b","type":"SHELL"},{"id":"tasks-3","name":"c","type":"SHELL"}]}"#,
        ))
        .unwrap();
        let locations =
            r#"{"tasks-2":{"x":-12.7,"y":"7"},"tasks-1":{"x":100,"y":80},"gone":{"x":1,"y":1}}"#;
        let codes = |id: &str| {
            id.strip_prefix("tasks-")?
                .parse::<i64>()
                .ok()
                .map(|n| n << 40)
        };
        let out = rekey_locations(Some(locations), &workflow, codes).unwrap();
        let expected = Value::Array(vec![
            json!({"taskCode": 1_i64 << 40, "x": 100, "y": 80}),
            json!({"taskCode": 2_i64 << 40, "x": -12, "y": 0}),
        ])
        .to_string();
        assert_eq!(out, expected);
        assert_eq!(rekey_locations(Some("{}"), &workflow, codes).unwrap(), "[]");
        assert_eq!(rekey_locations(Some(" "), &workflow, codes).unwrap(), " ");
        assert_eq!(rekey_locations(Some("[1]"), &workflow, codes), None);
    }
}
