//! Throughput of the pure transform (split + versions + id map) on generated 1.3 workflows,
//! No database: this is the CPU side of a snapshot.
//!
//! `cargo bench -p changeover-migrate --bench transform -- 10000` (default 10000 definitions).

use std::time::Instant;

use changeover_migrate::code::{CODE_EPOCH_MS, CodeGenerator};
use changeover_migrate::event::{Change, SourceDefinition, SourceProject, SourceRow};
use changeover_migrate::idmap::IdMap;
use changeover_migrate::transform::{Scope, transform};
use serde_json::json;

fn workflow(id: i64) -> String {
    let n = 5 + (id % 16) as usize;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let pre: Vec<String> = if i == 0 {
                vec![]
            } else {
                vec![format!("t{}", (i - 1) / 2)]
            };
            json!({"id": format!("tasks-{i}"), "name": format!("t{i}"), "type": "SHELL",
                   "params": {"rawScript": format!("echo {id} {i}"), "localParams": []},
                   "runFlag": "NORMAL", "preTasks": pre, "taskInstancePriority": "MEDIUM"})
        })
        .collect();
    json!({"globalParams": [], "tasks": tasks, "timeout": 0}).to_string()
}

fn main() {
    let count: i64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let mut changes = vec![Change::Upsert(SourceRow::Project(SourceProject {
        id: 1,
        name: "bench".into(),
        description: None,
        user_id: Some(1),
        flag: Some(1),
        create_time: None,
        update_time: None,
    }))];
    for id in 1..=count {
        changes.push(Change::Upsert(SourceRow::Definition(SourceDefinition {
            id,
            name: format!("wf{id}"),
            release_state: Some(1),
            project_id: 1,
            user_id: Some(1),
            process_definition_json: Some(workflow(id)),
            description: None,
            flag: Some(1),
            locations: None,
            timeout: Some(0),
            tenant_id: -1,
            create_time: None,
            update_time: None,
        })));
    }
    let mut map = IdMap::new(CodeGenerator::new(1, 0));
    let started = Instant::now();
    let batch = transform(&mut map, &Scope::all(), &changes, CODE_EPOCH_MS + 1);
    let transformed = started.elapsed();
    let rows = batch.writes.len();
    println!(
        "definitions={count} writes={rows} transform={:.3}s ({:.0} definitions/s, {:.0} writes/s) dead_letters={}",
        transformed.as_secs_f64(),
        count as f64 / transformed.as_secs_f64(),
        rows as f64 / transformed.as_secs_f64(),
        batch.dead_letters.len()
    );
}
