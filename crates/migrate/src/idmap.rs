//! The id map: what the migration knows about every source row it has seen — the 3.2 code
//! given to it, its current version, and a content hash that tells an edit from a replay.
//! It is committed in the target in the same transaction as the rows it produced.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::code::CodeGenerator;
use crate::event::SourceTable;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantEntry {
    pub tenant_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectEntry {
    pub code: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEntry {
    pub code: i64,
    pub name: String,
    /// 0 while the code is reserved but no row was written yet.
    pub version: i64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionEntry {
    pub code: i64,
    pub project_id: i64,
    pub name: String,
    /// 0 while the code is reserved but no row was written yet.
    pub version: i64,
    pub hash: String,
    pub tenant_code: String,
    /// Keyed by the 1.3 task id (`tasks-12345`), which survives renames.
    pub tasks: BTreeMap<String, TaskEntry>,
}

impl DefinitionEntry {
    pub fn task_by_name(&self, name: &str) -> Option<&TaskEntry> {
        self.tasks.values().find(|t| t.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleEntry {
    pub definition_id: i64,
}

/// One persisted entry of the map, as stored in `changeover_id_map`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MapEntry {
    Tenant(TenantEntry),
    Project(ProjectEntry),
    Definition(DefinitionEntry),
    Schedule(ScheduleEntry),
}

/// Old id -> new code, per source table, plus the code generator's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMap {
    pub tenants: BTreeMap<i64, TenantEntry>,
    pub projects: BTreeMap<i64, ProjectEntry>,
    pub definitions: BTreeMap<i64, DefinitionEntry>,
    pub schedules: BTreeMap<i64, ScheduleEntry>,
    pub codes: CodeGenerator,
    dirty: BTreeSet<(SourceTable, i64)>,
}

impl IdMap {
    pub fn new(codes: CodeGenerator) -> IdMap {
        IdMap {
            tenants: BTreeMap::new(),
            projects: BTreeMap::new(),
            definitions: BTreeMap::new(),
            schedules: BTreeMap::new(),
            codes,
            dirty: BTreeSet::new(),
        }
    }

    /// Marks an entry as changed so the sink persists it (or deletes it when absent).
    pub fn touch(&mut self, table: SourceTable, id: i64) {
        self.dirty.insert((table, id));
    }

    /// The entries changed since the last call, each with its current value (`None`: removed).
    pub fn take_changes(&mut self) -> Vec<(SourceTable, i64, Option<MapEntry>)> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .map(|(table, id)| (table, id, self.entry(table, id)))
            .collect()
    }

    pub fn entry(&self, table: SourceTable, id: i64) -> Option<MapEntry> {
        match table {
            SourceTable::Tenant => self.tenants.get(&id).cloned().map(MapEntry::Tenant),
            SourceTable::Project => self.projects.get(&id).cloned().map(MapEntry::Project),
            SourceTable::Definition => self.definitions.get(&id).cloned().map(MapEntry::Definition),
            SourceTable::Schedule => self.schedules.get(&id).cloned().map(MapEntry::Schedule),
            // Copied rows keep their ids: nothing to map.
            SourceTable::User | SourceTable::DataSource | SourceTable::Resource => None,
        }
    }

    /// Restores one persisted entry (on start).
    pub fn restore(&mut self, id: i64, entry: MapEntry) {
        match entry {
            MapEntry::Tenant(e) => {
                self.tenants.insert(id, e);
            }
            MapEntry::Project(e) => {
                self.projects.insert(id, e);
            }
            MapEntry::Definition(e) => {
                self.definitions.insert(id, e);
            }
            MapEntry::Schedule(e) => {
                self.schedules.insert(id, e);
            }
        }
    }
}
