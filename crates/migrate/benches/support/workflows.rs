//! The generated DolphinScheduler 1.3 workflows both migrate benchmarks use (included by
//! `database.rs` and `transform.rs` as a module).

use serde_json::json;

/// The 1.3 JSON of definition `id`: `5 + id % 16` tasks (5–20) of a few types, each after
/// the task at half its index (a binary tree), with designer locations.
pub fn workflow(id: i64) -> (String, String) {
    let n = 5 + id % 16;
    let mut locations = serde_json::Map::new();
    let tasks: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let pre: Vec<String> = if i == 0 {
                vec![]
            } else {
                vec![format!("t{}", (i - 1) / 2)]
            };
            let (kind, params) = match i % 3 {
                0 => (
                    "SHELL",
                    json!({"rawScript": format!("echo {id} {i}"), "localParams": [], "resourceList": []}),
                ),
                1 => (
                    "SQL",
                    json!({"type": "MYSQL", "datasource": 1, "sql": format!("select {i} from t{id}"), "sqlType": "0", "preStatements": [], "postStatements": [], "localParams": []}),
                ),
                _ => (
                    "PYTHON",
                    json!({"rawScript": format!("print({id}, {i})"), "localParams": [], "resourceList": []}),
                ),
            };
            locations.insert(
                format!("tasks-{id}-{i}"),
                json!({"name": format!("t{i}"), "targetarr": "", "nodenumber": "0", "x": 100 + i * 40, "y": 80}),
            );
            json!({"id": format!("tasks-{id}-{i}"), "name": format!("t{i}"), "type": kind,
                   "params": params, "description": "", "runFlag": "NORMAL",
                   "maxRetryTimes": 0, "retryInterval": 1,
                   "timeout": {"strategy": "", "interval": null, "enable": false},
                   "taskInstancePriority": "MEDIUM", "workerGroup": "default", "preTasks": pre,
                   "conditionResult": {"successNode": [""], "failedNode": [""]}, "dependence": {}})
        })
        .collect();
    (
        json!({"globalParams": [], "tasks": tasks, "tenantId": 1, "timeout": 0}).to_string(),
        serde_json::Value::Object(locations).to_string(),
    )
}
