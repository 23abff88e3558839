//! An in-memory target: applies writes to tables of rows and reads definitions back in
//! canonical form. It is what the unit and property tests of the transform check against,
//! with the same re-assembly rules `verify` uses on a real database.

use std::collections::BTreeMap;

use crate::canonical::{DefinitionHeader, NameBook, TargetDefinition};
use crate::rows;
use crate::split::TaskContent;
use crate::write::{Columns, SqlValue, Write};

#[derive(Debug, Clone, Default)]
pub struct MemoryTarget {
    pub tables: BTreeMap<&'static str, Vec<Columns>>,
}

fn matches(row: &Columns, key: &Columns) -> bool {
    key.iter()
        .all(|(k, v)| row.iter().any(|(c, x)| c == k && x == v))
}

/// The value of `column` in `row`.
pub fn get<'a>(row: &'a Columns, column: &str) -> &'a SqlValue {
    row.iter()
        .find(|(c, _)| *c == column)
        .map_or(&SqlValue::Null, |(_, v)| v)
}

pub fn int(row: &Columns, column: &str) -> Option<i64> {
    match get(row, column) {
        SqlValue::Int(v) => Some(*v),
        _ => None,
    }
}

pub fn text(row: &Columns, column: &str) -> Option<String> {
    match get(row, column) {
        SqlValue::Text(v) => Some(v.to_string()),
        _ => None,
    }
}

impl MemoryTarget {
    pub fn apply(&mut self, writes: &[Write]) {
        for write in writes {
            match write {
                Write::Insert { table, row } => {
                    self.tables.entry(table).or_default().push(row.clone())
                }
                Write::Delete { table, key } => self
                    .tables
                    .entry(table)
                    .or_default()
                    .retain(|r| !matches(r, key)),
                Write::Update { table, set, key } => {
                    for row in self
                        .tables
                        .entry(table)
                        .or_default()
                        .iter_mut()
                        .filter(|r| matches(r, key))
                    {
                        for (column, value) in set {
                            if let Some(slot) = row.iter_mut().find(|(c, _)| c == column) {
                                slot.1 = value.clone();
                            }
                        }
                    }
                }
            }
        }
    }

    pub fn rows(&self, table: &str) -> &[Columns] {
        self.tables.get(table).map_or(&[], Vec::as_slice)
    }

    /// Names by code, for re-assembling references.
    pub fn names(&self) -> NameBook {
        let mut book = NameBook::default();
        let projects: BTreeMap<i64, String> = self
            .rows(rows::PROJECT)
            .iter()
            .filter_map(|r| Some((int(r, "code")?, text(r, "name")?)))
            .collect();
        for r in self.rows(rows::DEFINITION) {
            let (Some(code), Some(project)) = (int(r, "code"), int(r, "project_code")) else {
                continue;
            };
            let project = projects.get(&project).cloned().unwrap_or_default();
            book.definitions.insert(
                code,
                format!("{project}/{}", text(r, "name").unwrap_or_default()),
            );
        }
        for r in self.rows(rows::TASK) {
            if let (Some(code), Some(name)) = (int(r, "code"), text(r, "name")) {
                book.tasks.insert(code, name);
            }
        }
        book.projects = projects;
        book
    }

    /// The definition with `code` re-assembled from its rows, or `None`.
    pub fn definition(&self, code: i64) -> Option<TargetDefinition> {
        let def = self
            .rows(rows::DEFINITION)
            .iter()
            .find(|r| int(r, "code") == Some(code))?;
        let project_code = int(def, "project_code")?;
        let project = self
            .rows(rows::PROJECT)
            .iter()
            .find(|r| int(r, "code") == Some(project_code))
            .and_then(|r| text(r, "name"))
            .unwrap_or_default();
        let relations: Vec<(i64, i64)> = self
            .rows(rows::RELATION)
            .iter()
            .filter(|r| int(r, "process_definition_code") == Some(code))
            .filter_map(|r| Some((int(r, "pre_task_code")?, int(r, "post_task_code")?)))
            .collect();
        let mut task_codes: Vec<i64> = relations
            .iter()
            .flat_map(|(a, b)| [*a, *b])
            .filter(|c| *c != 0)
            .collect();
        task_codes.sort_unstable();
        task_codes.dedup();
        let tasks = task_codes
            .iter()
            .filter_map(|c| {
                self.rows(rows::TASK)
                    .iter()
                    .find(|r| int(r, "code") == Some(*c))
                    .map(|r| (*c, task_content(r)))
            })
            .collect();
        Some(TargetDefinition {
            header: DefinitionHeader {
                project,
                name: text(def, "name").unwrap_or_default(),
                description: text(def, "description"),
                release_state: int(def, "release_state"),
                flag: int(def, "flag"),
            },
            timeout: int(def, "timeout").unwrap_or(0),
            global_params: text(def, "global_params"),
            locations: text(def, "locations"),
            tasks,
            relations,
        })
    }
}

fn task_content(r: &Columns) -> TaskContent {
    TaskContent {
        name: text(r, "name").unwrap_or_default(),
        task_type: text(r, "task_type").unwrap_or_default(),
        description: text(r, "description").unwrap_or_default(),
        flag: int(r, "flag").unwrap_or(0),
        fail_retry_times: int(r, "fail_retry_times").unwrap_or(0),
        fail_retry_interval: int(r, "fail_retry_interval").unwrap_or(0),
        task_priority: int(r, "task_priority").unwrap_or(2),
        worker_group: text(r, "worker_group").unwrap_or_default(),
        timeout_flag: int(r, "timeout_flag").unwrap_or(0),
        timeout_notify_strategy: int(r, "timeout_notify_strategy"),
        timeout: int(r, "timeout").unwrap_or(0),
        delay_time: int(r, "delay_time").unwrap_or(0),
        resource_ids: text(r, "resource_ids").unwrap_or_default(),
        task_params: text(r, "task_params").unwrap_or_default(),
    }
}
