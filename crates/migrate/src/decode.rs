//! Source rows from column-name → text maps. Every source delivers text: the snapshot casts
//! each column to text, pgoutput sends text, and binlog values are rendered to text first.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use crate::event::{
    CopiedRow, SourceDefinition, SourceProject, SourceRow, SourceSchedule, SourceTable,
    SourceTenant,
};

/// Column name → value as text (`None` for SQL NULL).
pub type Fields = BTreeMap<String, Option<String>>;

/// The type of a copied column in the 3.2 table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
    Time,
    /// `int`/`tinyint` in 1.3, `boolean` in 3.2 on PostgreSQL and `tinyint` on MySQL.
    Bool,
}

/// The columns of a copied table (the 1.3 columns, which 3.2 has under the same names) and
/// their kinds.
pub fn copied_columns(table: SourceTable) -> &'static [(&'static str, Kind)] {
    use Kind::{Bool, Int, Text, Time};
    match table {
        SourceTable::User => &[
            ("id", Int),
            ("user_name", Text),
            ("user_password", Text),
            ("user_type", Int),
            ("email", Text),
            ("phone", Text),
            ("tenant_id", Int),
            ("create_time", Time),
            ("update_time", Time),
            ("queue", Text),
        ],
        SourceTable::DataSource => &[
            ("id", Int),
            ("name", Text),
            ("note", Text),
            ("type", Int),
            ("user_id", Int),
            ("connection_params", Text),
            ("create_time", Time),
            ("update_time", Time),
        ],
        SourceTable::Resource => &[
            ("id", Int),
            ("alias", Text),
            ("file_name", Text),
            ("description", Text),
            ("user_id", Int),
            ("type", Int),
            ("size", Int),
            ("create_time", Time),
            ("update_time", Time),
            ("pid", Int),
            ("full_name", Text),
            ("is_directory", Bool),
        ],
        _ => &[],
    }
}

/// The columns each source table is read with.
pub fn columns(table: SourceTable) -> &'static [&'static str] {
    match table {
        SourceTable::User => &[
            "id",
            "user_name",
            "user_password",
            "user_type",
            "email",
            "phone",
            "tenant_id",
            "create_time",
            "update_time",
            "queue",
        ],
        SourceTable::DataSource => &[
            "id",
            "name",
            "note",
            "type",
            "user_id",
            "connection_params",
            "create_time",
            "update_time",
        ],
        SourceTable::Resource => &[
            "id",
            "alias",
            "file_name",
            "description",
            "user_id",
            "type",
            "size",
            "create_time",
            "update_time",
            "pid",
            "full_name",
            "is_directory",
        ],
        SourceTable::Tenant => &[
            "id",
            "tenant_code",
            "description",
            "queue_id",
            "create_time",
            "update_time",
        ],
        SourceTable::Project => &[
            "id",
            "name",
            "description",
            "user_id",
            "flag",
            "create_time",
            "update_time",
        ],
        SourceTable::Definition => &[
            "id",
            "name",
            "release_state",
            "project_id",
            "user_id",
            "process_definition_json",
            "description",
            "flag",
            "locations",
            "timeout",
            "tenant_id",
            "create_time",
            "update_time",
        ],
        SourceTable::Schedule => &[
            "id",
            "process_definition_id",
            "start_time",
            "end_time",
            "crontab",
            "failure_strategy",
            "user_id",
            "release_state",
            "warning_type",
            "warning_group_id",
            "process_instance_priority",
            "worker_group",
            "create_time",
            "update_time",
        ],
    }
}

/// Columns holding timestamps (rendered as `YYYY-MM-DD HH:MM:SS`).
pub fn is_time(column: &str) -> bool {
    column.ends_with("_time")
}

struct Reader<'a> {
    table: SourceTable,
    fields: &'a Fields,
}

impl Reader<'_> {
    fn text(&self, column: &str) -> Option<String> {
        self.fields.get(column).cloned().flatten()
    }

    fn required_text(&self, column: &str) -> Result<String, String> {
        self.text(column)
            .ok_or_else(|| format!("{}.{column} is missing or NULL", self.table.name()))
    }

    fn int(&self, column: &str) -> Result<Option<i64>, String> {
        self.text(column)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("{}.{column} is not an integer: {v:?}", self.table.name()))
            })
            .transpose()
    }

    fn required_int(&self, column: &str) -> Result<i64, String> {
        self.int(column)?
            .ok_or_else(|| format!("{}.{column} is missing or NULL", self.table.name()))
    }

    fn time(&self, column: &str) -> Result<Option<NaiveDateTime>, String> {
        self.text(column)
            .map(|v| {
                parse_time(&v).ok_or_else(|| {
                    format!("{}.{column} is not a timestamp: {v:?}", self.table.name())
                })
            })
            .transpose()
    }

    fn required_time(&self, column: &str) -> Result<NaiveDateTime, String> {
        self.time(column)?
            .ok_or_else(|| format!("{}.{column} is missing or NULL", self.table.name()))
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]` (MySQL, PostgreSQL) or with a `T`.
pub fn parse_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

/// Decodes one source row.
pub fn decode(table: SourceTable, fields: &Fields) -> Result<SourceRow, String> {
    let r = Reader { table, fields };
    Ok(match table {
        SourceTable::User | SourceTable::DataSource | SourceTable::Resource => {
            let row = CopiedRow {
                id: r.required_int("id")?,
                values: columns(table).iter().map(|c| r.text(c)).collect(),
            };
            match table {
                SourceTable::User => SourceRow::User(row),
                SourceTable::DataSource => SourceRow::DataSource(row),
                _ => SourceRow::Resource(row),
            }
        }
        SourceTable::Tenant => SourceRow::Tenant(SourceTenant {
            id: r.required_int("id")?,
            tenant_code: r.required_text("tenant_code")?,
            description: r.text("description"),
            queue_id: r.int("queue_id")?,
            create_time: r.time("create_time")?,
            update_time: r.time("update_time")?,
        }),
        SourceTable::Project => SourceRow::Project(SourceProject {
            id: r.required_int("id")?,
            name: r.text("name").unwrap_or_default(),
            description: r.text("description"),
            user_id: r.int("user_id")?,
            flag: r.int("flag")?,
            create_time: r.time("create_time")?,
            update_time: r.time("update_time")?,
        }),
        SourceTable::Definition => SourceRow::Definition(SourceDefinition {
            id: r.required_int("id")?,
            name: r.text("name").unwrap_or_default(),
            release_state: r.int("release_state")?,
            project_id: r.int("project_id")?.unwrap_or(0),
            user_id: r.int("user_id")?,
            process_definition_json: r.text("process_definition_json"),
            description: r.text("description"),
            flag: r.int("flag")?,
            locations: r.text("locations"),
            timeout: r.int("timeout")?,
            tenant_id: r.int("tenant_id")?.unwrap_or(-1),
            create_time: r.time("create_time")?,
            update_time: r.time("update_time")?,
        }),
        SourceTable::Schedule => SourceRow::Schedule(SourceSchedule {
            id: r.required_int("id")?,
            process_definition_id: r.required_int("process_definition_id")?,
            start_time: r.required_time("start_time")?,
            end_time: r.required_time("end_time")?,
            crontab: r.required_text("crontab")?,
            failure_strategy: r.required_int("failure_strategy")?,
            user_id: r.required_int("user_id")?,
            release_state: r.required_int("release_state")?,
            warning_type: r.required_int("warning_type")?,
            warning_group_id: r.int("warning_group_id")?,
            process_instance_priority: r.int("process_instance_priority")?,
            worker_group: r.text("worker_group"),
            create_time: r.required_time("create_time")?,
            update_time: r.required_time("update_time")?,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copied_tables_list_the_same_columns_with_kinds() {
        for table in SourceTable::ALL.into_iter().filter(|t| t.is_copied()) {
            let names: Vec<&str> = copied_columns(table).iter().map(|(c, _)| *c).collect();
            assert_eq!(names, columns(table), "{}", table.name());
        }
    }
}
