//! The canonical form of a workflow definition, built either from the 1.3 source (row +
//! JSON) or from the 3.2 target (definition + task + relation rows), with every reference
//! expressed by name instead of id or code. Equal forms mean an exact migration; `verify`
//! compares their MD5.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use crate::event::SourceDefinition;
use crate::split::{TaskContent, json_i64, priority_ordinal, rewrite_items, task_timeout};
use crate::workflow13::{Workflow13, condition_branch};

/// Names of projects, definitions (`project/definition`) and tasks, by source id or target code.
#[derive(Debug, Clone, Default)]
pub struct NameBook {
    pub projects: BTreeMap<i64, String>,
    pub definitions: BTreeMap<i64, String>,
    pub tasks: BTreeMap<i64, String>,
}

impl NameBook {
    fn project(&self, key: i64) -> String {
        self.projects
            .get(&key)
            .cloned()
            .unwrap_or_else(|| format!("missing project {key}"))
    }

    fn definition(&self, key: i64) -> String {
        self.definitions
            .get(&key)
            .cloned()
            .unwrap_or_else(|| format!("missing definition {key}"))
    }

    fn task(&self, key: i64) -> String {
        self.tasks
            .get(&key)
            .cloned()
            .unwrap_or_else(|| format!("missing task {key}"))
    }
}

/// The definition-level fields both sides share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionHeader {
    pub project: String,
    pub name: String,
    pub description: Option<String>,
    pub release_state: Option<i64>,
    pub flag: Option<i64>,
}

/// MD5 (hex) of a canonical form.
pub fn canonical_md5(form: &Value) -> String {
    hex::encode(Md5::digest(form.to_string().as_bytes()))
}

fn assemble(
    header: &DefinitionHeader,
    timeout: i64,
    global_params: Value,
    mut tasks: Vec<Value>,
    mut edges: Vec<(String, String)>,
    locations: Value,
) -> Value {
    tasks.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    edges.sort();
    json!({
        "project": header.project,
        "name": header.name,
        "description": header.description.clone().unwrap_or_default(),
        "release_state": header.release_state,
        "flag": header.flag,
        "timeout": timeout,
        "global_params": global_params,
        "tasks": tasks,
        "edges": edges,
        "locations": locations,
    })
}

fn task_form(content: &TaskContent, params: Value) -> Value {
    json!({
        "name": content.name,
        "type": content.task_type,
        "description": content.description,
        "flag": content.flag,
        "retry_times": content.fail_retry_times,
        "retry_interval": content.fail_retry_interval,
        "priority": content.task_priority,
        "worker_group": content.worker_group,
        "timeout_flag": content.timeout_flag,
        "timeout_strategy": content.timeout_notify_strategy,
        "timeout": content.timeout,
        "delay_time": content.delay_time,
        "resource_ids": content.resource_ids,
        "params": params,
    })
}

fn sorted_locations(mut places: Vec<(String, i64, i64)>) -> Value {
    places.sort();
    json!(places)
}

/// The canonical form of a 1.3 definition; `Err` is the reason it cannot be migrated.
pub fn from_source(
    row: &SourceDefinition,
    project: &str,
    workflow: &Workflow13,
    names: &NameBook,
) -> Result<Value, String> {
    let header = DefinitionHeader {
        project: project.to_owned(),
        name: row.name.clone(),
        description: row.description.clone(),
        release_state: row.release_state,
        flag: row.flag,
    };
    let mut tasks = Vec::new();
    let mut edges = Vec::new();
    for task in &workflow.tasks {
        let sub_process = task.task_type == "SUB_PROCESS";
        let (timeout_flag, timeout_notify_strategy, timeout) = task_timeout(&task.timeout)?;
        let content = TaskContent {
            name: task.name.clone(),
            task_type: task.task_type.clone(),
            description: task.description.clone(),
            flag: i64::from(task.run_flag == "NORMAL"),
            fail_retry_times: if sub_process { 0 } else { task.max_retry_times },
            fail_retry_interval: if sub_process { 1 } else { task.retry_interval },
            task_priority: priority_ordinal(&task.priority)?,
            worker_group: task.worker_group.clone(),
            timeout_flag,
            timeout_notify_strategy,
            timeout,
            delay_time: task.delay_time,
            resource_ids: String::new(),
            task_params: String::new(),
        };
        let mut params = task.params.clone();
        if sub_process
            && let Some(id) = params
                .remove("processDefinitionId")
                .as_ref()
                .and_then(json_i64)
        {
            params.insert("processDefinition".to_owned(), json!(names.definition(id)));
        }
        let mut dependence = task.dependence.clone();
        let mut condition_result = task.condition_result.clone();
        if task.task_type == "CONDITIONS"
            && let Some(result) = condition_result.as_object_mut()
        {
            for branch in ["successNode", "failedNode"] {
                result.insert(
                    branch.to_owned(),
                    json!(condition_branch(&task.condition_result, branch)),
                );
            }
        }
        rewrite_items(&mut dependence, |item| {
            if let Some(t) = item.remove("depTasks") {
                item.insert("depTask".to_owned(), t);
            }
            if let Some(p) = item.remove("projectId").as_ref().and_then(json_i64) {
                item.insert("project".to_owned(), json!(names.project(p)));
            }
            if let Some(d) = item.remove("definitionId").as_ref().and_then(json_i64) {
                item.insert("definition".to_owned(), json!(names.definition(d)));
            }
            Ok(())
        })?;
        params.insert("conditionResult".to_owned(), condition_result);
        params.insert("dependence".to_owned(), dependence);
        let mut content = content;
        content.resource_ids = crate::split::split_resource_ids(&task.params);
        tasks.push(task_form(&content, Value::Object(params)));
        if task.pre_tasks.is_empty() {
            edges.push((String::new(), task.name.clone()));
        }
        edges.extend(
            task.pre_tasks
                .iter()
                .map(|p| (p.clone(), task.name.clone())),
        );
    }
    let locations = match row.locations.as_deref() {
        Some(text) if !text.trim().is_empty() => {
            match serde_json::from_str::<Map<String, Value>>(text) {
                Ok(parsed) => sorted_locations(
                    workflow
                        .tasks
                        .iter()
                        .filter_map(|t| {
                            let place = parsed.get(&t.id)?;
                            let c = |k: &str| {
                                place.get(k).and_then(Value::as_f64).map_or(0, |v| v as i64)
                            };
                            Some((t.name.clone(), c("x"), c("y")))
                        })
                        .collect(),
                ),
                Err(_) => Value::Null,
            }
        }
        _ => Value::Null,
    };
    Ok(assemble(
        &header,
        workflow.timeout,
        workflow.global_params.clone(),
        tasks,
        edges,
        locations,
    ))
}

/// A 3.2 definition as read back from the target.
#[derive(Debug, Clone)]
pub struct TargetDefinition {
    pub header: DefinitionHeader,
    pub timeout: i64,
    pub global_params: Option<String>,
    pub locations: Option<String>,
    /// (code, content) of each task of the current version.
    pub tasks: Vec<(i64, TaskContent)>,
    /// (pre_task_code, post_task_code) of each relation of the current version.
    pub relations: Vec<(i64, i64)>,
}

/// The canonical form of a 3.2 definition re-assembled from its rows.
pub fn from_target(def: &TargetDefinition, names: &NameBook) -> Value {
    let own: BTreeMap<i64, String> = def
        .tasks
        .iter()
        .map(|(c, t)| (*c, t.name.clone()))
        .collect();
    let own_name = |code: i64| {
        own.get(&code)
            .cloned()
            .unwrap_or_else(|| format!("missing task {code}"))
    };
    let mut tasks = Vec::new();
    for (_, content) in &def.tasks {
        let mut params: Map<String, Value> =
            serde_json::from_str(&content.task_params).unwrap_or_default();
        if let Some(code) = params
            .remove("processDefinitionCode")
            .as_ref()
            .and_then(json_i64)
        {
            params.insert(
                "processDefinition".to_owned(),
                json!(names.definition(code)),
            );
        }
        let conditions = content.task_type == "CONDITIONS";
        if let Some(result) = params
            .get_mut("conditionResult")
            .and_then(Value::as_object_mut)
            .filter(|_| conditions)
        {
            for branch in ["successNode", "failedNode"] {
                if let Some(codes) = result.get(branch).and_then(Value::as_array) {
                    let named: Vec<String> =
                        codes.iter().filter_map(json_i64).map(own_name).collect();
                    result.insert(branch.to_owned(), json!(named));
                }
            }
        }
        if let Some(dependence) = params.get_mut("dependence") {
            let _ = rewrite_items(dependence, |item| {
                if let Some(code) = item.remove("depTaskCode").as_ref().and_then(json_i64) {
                    let name = match code {
                        0 if !conditions => "ALL".to_owned(),
                        c if conditions => own_name(c),
                        c => names.task(c),
                    };
                    item.insert("depTask".to_owned(), json!(name));
                }
                if let Some(p) = item.remove("projectCode").as_ref().and_then(json_i64) {
                    item.insert("project".to_owned(), json!(names.project(p)));
                }
                if let Some(d) = item.remove("definitionCode").as_ref().and_then(json_i64) {
                    item.insert("definition".to_owned(), json!(names.definition(d)));
                }
                Ok(())
            });
        }
        tasks.push(task_form(content, Value::Object(params)));
    }
    let edges = def
        .relations
        .iter()
        .map(|(pre, post)| {
            (
                if *pre == 0 {
                    String::new()
                } else {
                    own_name(*pre)
                },
                own_name(*post),
            )
        })
        .collect();
    let locations = match def.locations.as_deref() {
        Some(text) if !text.trim().is_empty() => match serde_json::from_str::<Vec<Value>>(text) {
            Ok(list) => sorted_locations(
                list.iter()
                    .map(|p| {
                        let c = |k: &str| p.get(k).and_then(Value::as_i64).unwrap_or(0);
                        (own_name(c("taskCode")), c("x"), c("y"))
                    })
                    .collect(),
            ),
            Err(_) => Value::Null,
        },
        _ => Value::Null,
    };
    let global_params = def
        .global_params
        .as_deref()
        .map_or(Value::Array(Vec::new()), |g| {
            serde_json::from_str(g).unwrap_or(Value::String(g.to_owned()))
        });
    assemble(
        &def.header,
        def.timeout,
        global_params,
        tasks,
        edges,
        locations,
    )
}
