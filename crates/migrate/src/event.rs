//! The change event model: rows of the 1.3 source as the snapshot and the change stream
//! deliver them. Inserts and updates are both `Upsert`: the transform decides from the id
//! map whether a row is new or a new version of a migrated one.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// A 1.3 `t_ds_project` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceProject {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub user_id: Option<i64>,
    pub flag: Option<i64>,
    pub create_time: Option<NaiveDateTime>,
    pub update_time: Option<NaiveDateTime>,
}

/// A 1.3 `t_ds_process_definition` row (the columns the migration reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceDefinition {
    pub id: i64,
    pub name: String,
    pub release_state: Option<i64>,
    pub project_id: i64,
    pub user_id: Option<i64>,
    pub process_definition_json: Option<String>,
    pub description: Option<String>,
    pub flag: Option<i64>,
    pub locations: Option<String>,
    pub timeout: Option<i64>,
    pub tenant_id: i64,
    pub create_time: Option<NaiveDateTime>,
    pub update_time: Option<NaiveDateTime>,
}

/// A 1.3 `t_ds_schedules` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSchedule {
    pub id: i64,
    pub process_definition_id: i64,
    pub start_time: NaiveDateTime,
    pub end_time: NaiveDateTime,
    pub crontab: String,
    pub failure_strategy: i64,
    pub user_id: i64,
    pub release_state: i64,
    pub warning_type: i64,
    pub warning_group_id: Option<i64>,
    pub process_instance_priority: Option<i64>,
    pub worker_group: Option<String>,
    pub create_time: NaiveDateTime,
    pub update_time: NaiveDateTime,
}

/// A 1.3 `t_ds_tenant` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceTenant {
    pub id: i64,
    pub tenant_code: String,
    pub description: Option<String>,
    pub queue_id: Option<i64>,
    pub create_time: Option<NaiveDateTime>,
    pub update_time: Option<NaiveDateTime>,
}

/// A 1.3 row copied with its id into the 3.2 table of the same name (users, data sources,
/// resources): definitions refer to these rows by id, and the ids stay valid. The values
/// are text in the order of `decode::columns(table)`; they may hold secrets (password
/// hashes, connection parameters), so `Debug` shows only the id.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopiedRow {
    pub id: i64,
    pub values: Vec<Option<String>>,
}

impl std::fmt::Debug for CopiedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopiedRow")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// One source row of a table the migration follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceRow {
    Tenant(SourceTenant),
    User(CopiedRow),
    DataSource(CopiedRow),
    Resource(CopiedRow),
    Project(SourceProject),
    Definition(SourceDefinition),
    Schedule(SourceSchedule),
}

/// The source tables the migration follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SourceTable {
    Tenant,
    User,
    DataSource,
    Resource,
    Project,
    Definition,
    Schedule,
}

impl SourceTable {
    /// In snapshot order: rows others refer to first.
    pub const ALL: [SourceTable; 7] = [
        SourceTable::Tenant,
        SourceTable::User,
        SourceTable::DataSource,
        SourceTable::Resource,
        SourceTable::Project,
        SourceTable::Definition,
        SourceTable::Schedule,
    ];

    /// The 1.3 table name.
    pub fn name(self) -> &'static str {
        match self {
            SourceTable::Tenant => "t_ds_tenant",
            SourceTable::User => "t_ds_user",
            SourceTable::DataSource => "t_ds_datasource",
            SourceTable::Resource => "t_ds_resources",
            SourceTable::Project => "t_ds_project",
            SourceTable::Definition => "t_ds_process_definition",
            SourceTable::Schedule => "t_ds_schedules",
        }
    }

    /// Whether rows of this table are copied as they are (see `CopiedRow`).
    pub fn is_copied(self) -> bool {
        matches!(
            self,
            SourceTable::User | SourceTable::DataSource | SourceTable::Resource
        )
    }

    pub fn from_name(name: &str) -> Option<SourceTable> {
        SourceTable::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl SourceRow {
    pub fn table(&self) -> SourceTable {
        match self {
            SourceRow::Tenant(_) => SourceTable::Tenant,
            SourceRow::User(_) => SourceTable::User,
            SourceRow::DataSource(_) => SourceTable::DataSource,
            SourceRow::Resource(_) => SourceTable::Resource,
            SourceRow::Project(_) => SourceTable::Project,
            SourceRow::Definition(_) => SourceTable::Definition,
            SourceRow::Schedule(_) => SourceTable::Schedule,
        }
    }

    pub fn id(&self) -> i64 {
        match self {
            SourceRow::Tenant(r) => r.id,
            SourceRow::User(r) | SourceRow::DataSource(r) | SourceRow::Resource(r) => r.id,
            SourceRow::Project(r) => r.id,
            SourceRow::Definition(r) => r.id,
            SourceRow::Schedule(r) => r.id,
        }
    }
}

/// One change of the source: a row inserted or updated, or a row deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Upsert(SourceRow),
    Delete { table: SourceTable, id: i64 },
}

impl Change {
    pub fn table(&self) -> SourceTable {
        match self {
            Change::Upsert(row) => row.table(),
            Change::Delete { table, .. } => *table,
        }
    }

    pub fn id(&self) -> i64 {
        match self {
            Change::Upsert(row) => row.id(),
            Change::Delete { id, .. } => *id,
        }
    }
}
