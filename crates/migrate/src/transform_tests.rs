//! Unit and property tests of the transform against the in-memory target.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::canonical::{NameBook, canonical_md5, from_source, from_target};
use crate::code::{CODE_EPOCH_MS, CodeGenerator};
use crate::event::{
    Change, SourceDefinition, SourceProject, SourceRow, SourceSchedule, SourceTable,
};
use crate::idmap::IdMap;
use crate::memory::{MemoryTarget, int, text};
use crate::rows;
use crate::transform::{
    Scope, parse_definitions, reserve, reserve_sequentially, transform, transform_parsed,
};
use crate::workflow13::{TASK_TYPES_13, parse_workflow};

const NOW: i64 = CODE_EPOCH_MS + 86_400_000;

fn time() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 5, 6)
        .unwrap()
        .and_hms_opt(7, 8, 9)
        .unwrap()
}

fn project(id: i64, name: &str) -> Change {
    Change::Upsert(SourceRow::Project(SourceProject {
        id,
        name: name.to_owned(),
        description: None,
        user_id: Some(1),
        flag: Some(1),
        create_time: Some(time()),
        update_time: Some(time()),
    }))
}

fn definition(
    id: i64,
    project_id: i64,
    name: &str,
    json: Option<String>,
    locations: Option<String>,
) -> SourceDefinition {
    SourceDefinition {
        id,
        name: name.to_owned(),
        release_state: Some(1),
        project_id,
        user_id: Some(1),
        process_definition_json: json,
        description: Some(format!("{name} description")),
        flag: Some(1),
        locations,
        timeout: Some(0),
        tenant_id: -1,
        create_time: Some(time()),
        update_time: Some(time()),
    }
}

fn task(id: &str, name: &str, kind: &str, params: Value, pre: &[&str]) -> Value {
    json!({
        "id": id, "name": name, "type": kind, "params": params, "description": "",
        "runFlag": "NORMAL", "maxRetryTimes": 2, "retryInterval": 3,
        "timeout": {"strategy": "WARN", "interval": 30, "enable": true},
        "taskInstancePriority": "HIGH", "workerGroup": "default", "preTasks": pre,
        "conditionResult": {"successNode": [""], "failedNode": [""]},
        "dependence": {}
    })
}

fn workflow_json(tasks: Vec<Value>) -> String {
    json!({"globalParams": [{"prop": "dt", "direct": "IN", "type": "VARCHAR", "value": "1"}], "tasks": tasks, "tenantId": -1, "timeout": 0}).to_string()
}

fn locations(ids: &[&str]) -> String {
    let map: serde_json::Map<String, Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                (*id).to_owned(),
                json!({"name": id, "targetarr": "", "nodenumber": "0", "x": 100 * i, "y": 50}),
            )
        })
        .collect();
    Value::Object(map).to_string()
}

/// Source-side name book for the canonical form.
fn source_names(projects: &[(i64, &str)], defs: &[&SourceDefinition]) -> NameBook {
    let mut book = NameBook::default();
    for (id, name) in projects {
        book.projects.insert(*id, (*name).to_owned());
    }
    for d in defs {
        let project = projects
            .iter()
            .find(|(id, _)| *id == d.project_id)
            .map_or("", |p| p.1);
        book.definitions
            .insert(d.id, format!("{project}/{}", d.name));
    }
    book
}

fn assert_same(
    map: &IdMap,
    target: &MemoryTarget,
    def: &SourceDefinition,
    project_name: &str,
    names: &NameBook,
) {
    let workflow = parse_workflow(def.process_definition_json.as_deref()).unwrap();
    let source = from_source(def, project_name, &workflow, names).unwrap();
    let code = map.definitions[&def.id].code;
    let assembled = target.definition(code).expect("definition in target");
    let back = from_target(&assembled, &target.names());
    assert_eq!(
        source, back,
        "canonical forms differ for definition {}",
        def.id
    );
    assert_eq!(canonical_md5(&source), canonical_md5(&back));
}

fn params_for(kind: &str) -> Value {
    match kind {
        "SHELL" | "PYTHON" => {
            json!({"rawScript": "echo 1", "localParams": [], "resourceList": [{"res": "a.sh", "name": "a.sh", "id": 7}]})
        }
        "SQL" => {
            json!({"type": "MYSQL", "datasource": 3, "sql": "select 1", "sqlType": "0", "preStatements": [], "postStatements": [], "localParams": []})
        }
        "PROCEDURE" => {
            json!({"type": "MYSQL", "datasource": 3, "method": "call p()", "localParams": []})
        }
        "MR" | "SPARK" | "FLINK" => {
            json!({"mainClass": "Main", "mainJar": {"id": 9}, "resourceList": [{"id": 8}, {"id": 9}], "localParams": []})
        }
        "HTTP" => {
            json!({"url": "http://x", "httpMethod": "GET", "httpParams": [], "localParams": []})
        }
        "DATAX" => {
            json!({"customConfig": 0, "dsType": "MYSQL", "dataSource": 1, "dtType": "MYSQL", "dataTarget": 2, "sql": "select 1", "targetTable": "t"})
        }
        "SQOOP" => {
            json!({"jobName": "j", "modelType": "import", "sourceType": "MYSQL", "targetType": "HDFS"})
        }
        "WATERDROP" => json!({"deployMode": "client", "resourceList": [], "localParams": []}),
        _ => json!({}),
    }
}

/// A workflow with one task of every 1.3 type; SUB_PROCESS and DEPENDENT refer to `other`.
fn every_type_workflow(other_id: i64) -> (String, String) {
    let mut tasks = Vec::new();
    for (i, kind) in TASK_TYPES_13.iter().enumerate() {
        let id = format!("tasks-{i}");
        let name = format!("t{i}-{kind}");
        let mut t = match *kind {
            "SUB_PROCESS" => task(
                &id,
                &name,
                kind,
                json!({"processDefinitionId": other_id}),
                &[],
            ),
            _ => task(&id, &name, kind, params_for(kind), &[]),
        };
        if *kind == "DEPENDENT" {
            t["dependence"] = json!({"relation": "AND", "dependTaskList": [{"relation": "AND", "dependItemList": [
                {"projectId": 1, "definitionId": other_id, "depTasks": "ALL", "cycle": "day", "dateValue": "today"},
                {"projectId": 1, "definitionId": other_id, "depTasks": "b", "cycle": "day", "dateValue": "last1Days"}]}]});
        }
        if *kind == "CONDITIONS" {
            t["preTasks"] = json!(["t0-SHELL"]);
            t["conditionResult"] =
                json!({"successNode": ["t1-SQL"], "failedNode": ["t3-PROCEDURE"]});
            t["dependence"] = json!({"relation": "AND", "dependTaskList": [{"relation": "AND", "dependItemList": [{"depTasks": "t0-SHELL", "status": "SUCCESS"}]}]});
        }
        if *kind == "SQL" || *kind == "PROCEDURE" {
            t["preTasks"] = json!(["t11-CONDITIONS"]);
        }
        tasks.push(t);
    }
    let ids: Vec<String> = (0..TASK_TYPES_13.len())
        .map(|i| format!("tasks-{i}"))
        .collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    (workflow_json(tasks), locations(&ids))
}

fn chain_workflow(names: &[&str]) -> String {
    let tasks = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let pre: Vec<&str> = if i == 0 { vec![] } else { vec![names[i - 1]] };
            task(
                &format!("tasks-{n}"),
                n,
                "SHELL",
                json!({"rawScript": format!("echo {n}"), "localParams": []}),
                &pre,
            )
        })
        .collect();
    workflow_json(tasks)
}

fn new_map() -> IdMap {
    IdMap::new(CodeGenerator::new(1, 0))
}

#[test]
fn every_task_type_is_split_and_reads_back_identically() {
    let other = definition(2, 1, "other", Some(chain_workflow(&["a", "b"])), None);
    let (json, locs) = every_type_workflow(2);
    let main = definition(1, 1, "main", Some(json), Some(locs));
    let mut map = new_map();
    let changes = vec![
        project(1, "p"),
        Change::Upsert(SourceRow::Definition(main.clone())),
        Change::Upsert(SourceRow::Definition(other.clone())),
    ];
    let batch = transform(&mut map, &Scope::all(), &changes, NOW);
    assert!(batch.dead_letters.is_empty(), "{:?}", batch.dead_letters);
    let mut target = MemoryTarget::default();
    target.apply(&batch.writes);
    assert_eq!(target.rows(rows::TASK).len(), 16);
    assert_eq!(target.rows(rows::TASK_LOG).len(), 16);
    assert_eq!(target.rows(rows::DEFINITION_LOG).len(), 2);
    // 14 tasks: 11 roots, CONDITIONS after SHELL, SQL and PROCEDURE after CONDITIONS; 2 for the chain.
    assert_eq!(target.rows(rows::RELATION).len(), 16);
    let names = source_names(&[(1, "p")], &[&main, &other]);
    assert_same(&map, &target, &main, "p", &names);
    assert_same(&map, &target, &other, "p", &names);

    let entry = &map.definitions[&1];
    let other_entry = &map.definitions[&2];
    let by_name = |n: &str| {
        target
            .rows(rows::TASK)
            .iter()
            .find(|r| text(r, "name").as_deref() == Some(n))
            .unwrap()
            .clone()
    };
    let params = |n: &str| -> Value {
        serde_json::from_str(&text(&by_name(n), "task_params").unwrap()).unwrap()
    };
    let sub = params("t2-SUB_PROCESS");
    assert_eq!(sub["processDefinitionCode"], json!(other_entry.code));
    assert!(sub.get("processDefinitionId").is_none());
    assert_eq!(int(&by_name("t2-SUB_PROCESS"), "fail_retry_times"), Some(0));
    assert_eq!(
        int(&by_name("t2-SUB_PROCESS"), "fail_retry_interval"),
        Some(1)
    );
    let dep = params("t8-DEPENDENT");
    let items = &dep["dependence"]["dependTaskList"][0]["dependItemList"];
    assert_eq!(items[0]["depTaskCode"], json!(0));
    assert_eq!(
        items[1]["depTaskCode"],
        json!(other_entry.task_by_name("b").unwrap().code)
    );
    assert_eq!(items[1]["definitionCode"], json!(other_entry.code));
    assert_eq!(items[1]["projectCode"], json!(map.projects[&1].code));
    assert_eq!(items[1]["cycle"], json!("day"));
    assert!(items[1].get("definitionId").is_none() && items[1].get("depTasks").is_none());
    let cond = params("t11-CONDITIONS");
    assert_eq!(
        cond["conditionResult"]["successNode"],
        json!([entry.task_by_name("t1-SQL").unwrap().code])
    );
    assert_eq!(
        cond["conditionResult"]["failedNode"],
        json!([entry.task_by_name("t3-PROCEDURE").unwrap().code])
    );
    assert_eq!(
        cond["dependence"]["dependTaskList"][0]["dependItemList"][0]["depTaskCode"],
        json!(entry.task_by_name("t0-SHELL").unwrap().code)
    );
    assert_eq!(
        text(&by_name("t4-MR"), "resource_ids").as_deref(),
        Some("8,9")
    );
    assert_eq!(
        text(&by_name("t0-SHELL"), "resource_ids").as_deref(),
        Some("7")
    );
    assert_eq!(int(&by_name("t0-SHELL"), "task_priority"), Some(1));
    assert_eq!(int(&by_name("t0-SHELL"), "timeout_flag"), Some(1));
    assert_eq!(
        int(&by_name("t0-SHELL"), "timeout_notify_strategy"),
        Some(0)
    );
    assert_eq!(int(&by_name("t0-SHELL"), "timeout"), Some(30));
    // Locations are re-keyed by task code, in task order.
    let def_row = target
        .rows(rows::DEFINITION)
        .iter()
        .find(|r| int(r, "code") == Some(entry.code))
        .unwrap();
    let locs: Value = serde_json::from_str(&text(def_row, "locations").unwrap()).unwrap();
    assert_eq!(
        locs[0],
        json!({"taskCode": entry.task_by_name("t0-SHELL").unwrap().code, "x": 0, "y": 50})
    );
    assert_eq!(locs.as_array().unwrap().len(), 14);
}

#[test]
fn codes_are_unique_across_projects_definitions_and_tasks() {
    let mut map = new_map();
    let mut changes = vec![project(1, "p"), project(2, "q")];
    for id in 1..=20 {
        changes.push(Change::Upsert(SourceRow::Definition(definition(
            id,
            1 + id % 2,
            &format!("d{id}"),
            Some(chain_workflow(&["a", "b", "c"])),
            None,
        ))));
    }
    let batch = transform(&mut map, &Scope::all(), &changes, NOW);
    assert!(batch.dead_letters.is_empty());
    let mut codes: Vec<i64> = map.projects.values().map(|p| p.code).collect();
    for d in map.definitions.values() {
        codes.push(d.code);
        codes.extend(d.tasks.values().map(|t| t.code));
    }
    let count = codes.len();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), count);
    assert_eq!(count, 2 + 20 * 4);
}

#[test]
fn an_edit_makes_a_new_version_and_a_replay_changes_nothing() {
    let mut map = new_map();
    let mut target = MemoryTarget::default();
    let v1 = definition(1, 1, "d", Some(chain_workflow(&["a", "b", "c"])), None);
    target.apply(
        &transform(
            &mut map,
            &Scope::all(),
            &[
                project(1, "p"),
                Change::Upsert(SourceRow::Definition(v1.clone())),
            ],
            NOW,
        )
        .writes,
    );
    let replay = transform(
        &mut map,
        &Scope::all(),
        &[Change::Upsert(SourceRow::Definition(v1.clone()))],
        NOW,
    );
    assert!(
        replay.writes.is_empty(),
        "a replayed row must not write: {:?}",
        replay.writes
    );

    // Edit task b's script and add task d after c.
    let mut json: Value =
        serde_json::from_str(v1.process_definition_json.as_deref().unwrap()).unwrap();
    json["tasks"][1]["params"]["rawScript"] = json!("echo changed");
    json["tasks"].as_array_mut().unwrap().push(task(
        "tasks-d",
        "d",
        "SHELL",
        json!({"rawScript": "echo d"}),
        &["c"],
    ));
    let v2 = SourceDefinition {
        process_definition_json: Some(json.to_string()),
        ..v1.clone()
    };
    let batch = transform(
        &mut map,
        &Scope::all(),
        &[Change::Upsert(SourceRow::Definition(v2.clone()))],
        NOW,
    );
    target.apply(&batch.writes);
    let entry = &map.definitions[&1];
    assert_eq!(entry.version, 2);
    assert_eq!(entry.tasks["tasks-a"].version, 1);
    assert_eq!(entry.tasks["tasks-b"].version, 2);
    assert_eq!(entry.tasks["tasks-d"].version, 1);
    assert_eq!(target.rows(rows::DEFINITION).len(), 1);
    assert_eq!(target.rows(rows::DEFINITION_LOG).len(), 2);
    assert_eq!(target.rows(rows::TASK).len(), 4);
    assert_eq!(target.rows(rows::TASK_LOG).len(), 5);
    assert_eq!(target.rows(rows::RELATION).len(), 4);
    assert_eq!(target.rows(rows::RELATION_LOG).len(), 7);
    assert!(
        target
            .rows(rows::RELATION)
            .iter()
            .all(|r| int(r, "process_definition_version") == Some(2))
    );
    let b_code = entry.tasks["tasks-b"].code;
    let c_rel = target
        .rows(rows::RELATION)
        .iter()
        .find(|r| int(r, "pre_task_code") == Some(b_code))
        .unwrap();
    assert_eq!(int(c_rel, "pre_task_version"), Some(2));
    let names = source_names(&[(1, "p")], &[&v2]);
    assert_same(&map, &target, &v2, "p", &names);

    // Removing a task deletes its definition row but keeps its logs.
    let v3 = SourceDefinition {
        process_definition_json: Some(chain_workflow(&["a", "b"])),
        ..v1
    };
    target.apply(
        &transform(
            &mut map,
            &Scope::all(),
            &[Change::Upsert(SourceRow::Definition(v3.clone()))],
            NOW,
        )
        .writes,
    );
    assert_eq!(target.rows(rows::TASK).len(), 2);
    assert_eq!(map.definitions[&1].version, 3);
    assert_same(&map, &target, &v3, "p", &source_names(&[(1, "p")], &[&v3]));
}

#[test]
fn a_delete_removes_the_definition_its_tasks_relations_and_schedule() {
    let mut map = new_map();
    let mut target = MemoryTarget::default();
    let def = definition(1, 1, "d", Some(chain_workflow(&["a", "b"])), None);
    let schedule = SourceSchedule {
        id: 5,
        process_definition_id: 1,
        start_time: time(),
        end_time: time(),
        crontab: "0 0 * * * ? *".into(),
        failure_strategy: 1,
        user_id: 1,
        release_state: 1,
        warning_type: 0,
        warning_group_id: None,
        process_instance_priority: Some(2),
        worker_group: Some("default".into()),
        create_time: time(),
        update_time: time(),
    };
    let changes = [
        project(1, "p"),
        Change::Upsert(SourceRow::Definition(def)),
        Change::Upsert(SourceRow::Schedule(schedule)),
    ];
    target.apply(&transform(&mut map, &Scope::all(), &changes, NOW).writes);
    assert_eq!(target.rows(rows::SCHEDULE).len(), 1);
    assert_eq!(
        text(&target.rows(rows::SCHEDULE)[0], "tenant_code").as_deref(),
        Some("default")
    );
    target.apply(
        &transform(
            &mut map,
            &Scope::all(),
            &[Change::Delete {
                table: SourceTable::Definition,
                id: 1,
            }],
            NOW,
        )
        .writes,
    );
    for table in [
        rows::DEFINITION,
        rows::DEFINITION_LOG,
        rows::TASK,
        rows::TASK_LOG,
        rows::RELATION,
        rows::RELATION_LOG,
        rows::SCHEDULE,
    ] {
        assert!(target.rows(table).is_empty(), "{table} still has rows");
    }
    assert_eq!(target.rows(rows::PROJECT).len(), 1);
    assert!(map.definitions.is_empty() && map.schedules.is_empty());
}

#[test]
fn bad_definitions_go_to_dead_letters_and_the_rest_goes_on() {
    let mut map = new_map();
    let bad_ref = workflow_json(vec![task(
        "tasks-1",
        "s",
        "SUB_PROCESS",
        json!({"processDefinitionId": 99}),
        &[],
    )]);
    let bad_dep = {
        let mut t = task("tasks-1", "d", "DEPENDENT", json!({}), &[]);
        t["dependence"] = json!({"dependTaskList": [{"dependItemList": [{"projectId": 1, "definitionId": 5, "depTasks": "nope"}]}]});
        workflow_json(vec![t])
    };
    let changes = vec![
        project(1, "p"),
        Change::Upsert(SourceRow::Definition(definition(1, 1, "empty", None, None))),
        Change::Upsert(SourceRow::Definition(definition(
            2,
            1,
            "broken",
            Some("{\"tasks\": [".into()),
            None,
        ))),
        Change::Upsert(SourceRow::Definition(definition(
            3,
            1,
            "bad-ref",
            Some(bad_ref),
            None,
        ))),
        Change::Upsert(SourceRow::Definition(definition(
            4,
            1,
            "bad-dep",
            Some(bad_dep),
            None,
        ))),
        Change::Upsert(SourceRow::Definition(definition(
            5,
            1,
            "good",
            Some(chain_workflow(&["a"])),
            None,
        ))),
        Change::Upsert(SourceRow::Definition(definition(
            6,
            42,
            "orphan",
            Some(chain_workflow(&["a"])),
            None,
        ))),
    ];
    let batch = transform(&mut map, &Scope::all(), &changes, NOW);
    let reasons: BTreeMap<i64, String> = batch
        .dead_letters
        .iter()
        .map(|d| (d.id, d.reason.clone()))
        .collect();
    assert_eq!(reasons[&1], "process_definition_json is empty");
    assert!(reasons[&2].starts_with("process_definition_json is not valid JSON"));
    assert_eq!(
        reasons[&3],
        "task s: sub-process refers to definition 99, which is not migrated"
    );
    assert_eq!(
        reasons[&4],
        "task d: dependent item refers to task nope of definition 5, which does not exist"
    );
    assert_eq!(reasons[&6], "refers to project 42, which is missing");
    assert_eq!(reasons.len(), 5);
    assert_eq!(map.definitions[&5].version, 1);
}

#[test]
fn a_project_scope_migrates_only_the_named_projects() {
    let mut map = new_map();
    let changes = vec![
        project(1, "canary"),
        project(2, "other"),
        Change::Upsert(SourceRow::Definition(definition(
            1,
            1,
            "in",
            Some(chain_workflow(&["a"])),
            None,
        ))),
        Change::Upsert(SourceRow::Definition(definition(
            2,
            2,
            "out",
            Some(chain_workflow(&["a"])),
            None,
        ))),
    ];
    let batch = transform(&mut map, &Scope::projects(["canary"]), &changes, NOW);
    assert!(batch.dead_letters.is_empty());
    assert_eq!(map.projects.len(), 1);
    assert_eq!(map.definitions.keys().copied().collect::<Vec<_>>(), vec![1]);
}

/// A random DAG: task i may follow any earlier task.
fn dag_strategy() -> impl Strategy<Value = Vec<Vec<usize>>> {
    (1usize..20).prop_flat_map(|n| {
        (0..n)
            .map(|i| proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i.min(3)))
            .collect::<Vec<_>>()
    })
}

fn dag_workflow(preds: &[Vec<usize>], kinds: &[usize]) -> (String, String) {
    let names: Vec<String> = (0..preds.len()).map(|i| format!("n{i}")).collect();
    let tasks = preds
        .iter()
        .enumerate()
        .map(|(i, pre)| {
            let pre: Vec<&str> = pre.iter().map(|p| names[*p].as_str()).collect();
            let kind =
                ["SHELL", "SQL", "PYTHON", "HTTP", "SPARK", "DATAX"][kinds[i % kinds.len()] % 6];
            task(
                &format!("tasks-{i}"),
                &names[i],
                kind,
                params_for(kind),
                &pre,
            )
        })
        .collect();
    let ids: Vec<String> = (0..preds.len()).map(|i| format!("tasks-{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    (workflow_json(tasks), locations(&ids))
}

proptest! {
    #[test]
    fn any_dag_splits_into_one_relation_per_edge_or_root_and_reads_back(preds in dag_strategy(), kinds in proptest::collection::vec(0usize..6, 1..6)) {
        let (json, locs) = dag_workflow(&preds, &kinds);
        let def = definition(1, 1, "dag", Some(json), Some(locs));
        let mut map = new_map();
        let batch = transform(&mut map, &Scope::all(), &[project(1, "p"), Change::Upsert(SourceRow::Definition(def.clone()))], NOW);
        prop_assert!(batch.dead_letters.is_empty());
        let mut target = MemoryTarget::default();
        target.apply(&batch.writes);
        let expected: usize = preds.iter().map(|p| p.len().max(1)).sum();
        prop_assert_eq!(target.rows(rows::RELATION).len(), expected);
        let roots = preds.iter().filter(|p| p.is_empty()).count();
        prop_assert_eq!(target.rows(rows::RELATION).iter().filter(|r| int(r, "pre_task_code") == Some(0)).count(), roots);
        prop_assert_eq!(target.rows(rows::TASK).len(), preds.len());
        let names = source_names(&[(1, "p")], &[&def]);
        let workflow = parse_workflow(def.process_definition_json.as_deref()).unwrap();
        let source = from_source(&def, "p", &workflow, &names).unwrap();
        let back = from_target(&target.definition(map.definitions[&1].code).unwrap(), &target.names());
        prop_assert_eq!(source, back);
    }

    #[test]
    fn any_sequence_of_edits_and_deletes_ends_equal_to_the_source(ops in proptest::collection::vec((0i64..4, 0usize..4, any::<bool>()), 1..25)) {
        let mut map = new_map();
        let mut target = MemoryTarget::default();
        let mut live: BTreeMap<i64, SourceDefinition> = BTreeMap::new();
        target.apply(&transform(&mut map, &Scope::all(), &[project(1, "p")], NOW).writes);
        for (id, shape, delete) in ops {
            let change = if delete {
                live.remove(&id);
                Change::Delete { table: SourceTable::Definition, id }
            } else {
                let names: Vec<String> = (0..=shape).map(|i| format!("s{i}")).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let def = definition(id, 1, &format!("d{id}"), Some(chain_workflow(&names)), None);
                live.insert(id, def.clone());
                Change::Upsert(SourceRow::Definition(def))
            };
            let batch = transform(&mut map, &Scope::all(), &[change], NOW);
            prop_assert!(batch.dead_letters.is_empty());
            target.apply(&batch.writes);
        }
        prop_assert_eq!(target.rows(rows::DEFINITION).len(), live.len());
        let defs: Vec<&SourceDefinition> = live.values().collect();
        let names = source_names(&[(1, "p")], &defs);
        for def in live.values() {
            let workflow = parse_workflow(def.process_definition_json.as_deref()).unwrap();
            let source = from_source(def, "p", &workflow, &names).unwrap();
            let back = from_target(&target.definition(map.definitions[&def.id].code).unwrap(), &target.names());
            prop_assert_eq!(source, back);
        }
        let tasks: usize = live.values().map(|d| parse_workflow(d.process_definition_json.as_deref()).unwrap().tasks.len()).sum();
        prop_assert_eq!(target.rows(rows::TASK).len(), tasks);
    }
}

/// Projects 1–3, then definitions of good, bad and unknown-project JSON in a mix (a few
/// thousand, so `reserve` parses them on several threads), project 4 after its definitions.
fn snapshot_mix() -> Vec<Change> {
    let mut changes = vec![project(1, "one"), project(2, "two"), project(3, "three")];
    for id in 1..=5_000 {
        let project_id = [1, 2, 3, 42, 4][usize::try_from(id % 5).unwrap()];
        let json = match id % 7 {
            0 => None,
            1 => Some("{\"tasks\": [".to_owned()),
            2 => Some(workflow_json(vec![
                task("tasks-1", "same", "SHELL", json!({}), &[]),
                task("tasks-2", "same", "SHELL", json!({}), &[]),
            ])),
            3 => Some(workflow_json(vec![task(
                "tasks-1",
                "k",
                "KUBERNETES",
                json!({}),
                &[],
            )])),
            _ => Some(chain_workflow(
                &["a", "b", "c"][..usize::try_from(1 + id % 3).unwrap()],
            )),
        };
        let row = definition(id, project_id, &format!("wf{id}"), json, None);
        changes.push(Change::Upsert(SourceRow::Definition(row)));
    }
    changes.push(project(4, "four"));
    changes
}

#[test]
fn the_parallel_reservation_gives_the_codes_of_the_sequential_one() {
    let changes = snapshot_mix();
    for scope in [Scope::all(), Scope::projects(["two", "four"])] {
        let (mut parallel, mut sequential) = (new_map(), new_map());
        reserve(&mut parallel, &scope, &changes, NOW);
        reserve_sequentially(&mut sequential, &scope, &changes, NOW);
        assert!(sequential.definitions.len() > 300);
        assert_eq!(parallel, sequential);
    }
}

#[test]
fn transforming_pre_parsed_chunks_equals_transforming_them() {
    let changes = snapshot_mix();
    let scope = Scope::all();
    let (mut parsed_map, mut plain_map) = (new_map(), new_map());
    reserve(&mut parsed_map, &scope, &changes, NOW);
    reserve(&mut plain_map, &scope, &changes, NOW);
    let mut written = 0;
    for chunk in changes.chunks(700) {
        let parsed = parse_definitions(chunk);
        let a = transform_parsed(&mut parsed_map, &scope, chunk, parsed, NOW);
        let b = transform(&mut plain_map, &scope, chunk, NOW);
        written += a.writes.len();
        assert_eq!(a, b);
    }
    assert!(written > 10_000);
    assert_eq!(parsed_map, plain_map);
    // Missing parse results are parsed by the transform itself.
    let (mut short_map, mut full_map) = (new_map(), new_map());
    let short = transform_parsed(&mut short_map, &scope, &changes, Vec::new(), NOW);
    let full = transform(&mut full_map, &scope, &changes, NOW);
    assert_eq!(short, full);
}
