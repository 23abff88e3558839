//! The 3.2 rows the transform writes, built from source rows and split content.

use chrono::NaiveDateTime;

use crate::event::{SourceDefinition, SourceProject, SourceSchedule, SourceTenant};
use crate::split::TaskContent;
use crate::write::{Columns, SqlValue, Write};

pub const PROJECT: &str = "t_ds_project";
pub const TENANT: &str = "t_ds_tenant";
pub const DEFINITION: &str = "t_ds_process_definition";
pub const DEFINITION_LOG: &str = "t_ds_process_definition_log";
pub const TASK: &str = "t_ds_task_definition";
pub const TASK_LOG: &str = "t_ds_task_definition_log";
pub const RELATION: &str = "t_ds_process_task_relation";
pub const RELATION_LOG: &str = "t_ds_process_task_relation_log";
pub const SCHEDULE: &str = "t_ds_schedules";
/// Copied from 1.3 with their ids (see `event::CopiedRow`).
pub const USER: &str = "t_ds_user";
pub const DATASOURCE: &str = "t_ds_datasource";
pub const RESOURCES: &str = "t_ds_resources";

/// The target tables the migration writes, in the order `verify` reports them.
pub const TARGET_TABLES: [&str; 12] = [
    TENANT,
    USER,
    DATASOURCE,
    RESOURCES,
    PROJECT,
    DEFINITION,
    DEFINITION_LOG,
    TASK,
    TASK_LOG,
    RELATION,
    RELATION_LOG,
    SCHEDULE,
];

/// A copy of `row` with room for the two columns a `_log` row adds (no growth by doubling).
fn log_of(row: &Columns) -> Columns {
    let mut log = Vec::with_capacity(row.len() + 2);
    log.extend_from_slice(row);
    log
}

pub fn key(column: &'static str, value: impl Into<SqlValue>) -> Columns {
    vec![(column, value.into())]
}

pub fn tenant(row: &SourceTenant, now: NaiveDateTime) -> Write {
    Write::Insert {
        table: TENANT,
        row: vec![
            ("tenant_code", row.tenant_code.as_str().into()),
            ("description", row.description.clone().into()),
            ("queue_id", row.queue_id.into()),
            ("create_time", row.create_time.unwrap_or(now).into()),
            ("update_time", row.update_time.unwrap_or(now).into()),
        ],
    }
}

pub fn project(row: &SourceProject, code: i64, now: NaiveDateTime) -> Write {
    Write::Insert {
        table: PROJECT,
        row: vec![
            ("name", row.name.as_str().into()),
            ("code", code.into()),
            ("description", row.description.clone().into()),
            ("user_id", row.user_id.into()),
            ("flag", row.flag.unwrap_or(1).into()),
            ("create_time", row.create_time.unwrap_or(now).into()),
            ("update_time", row.update_time.into()),
        ],
    }
}

/// The definition at `version`: its main row and its log row.
pub struct DefinitionRow<'a> {
    pub source: &'a SourceDefinition,
    pub code: i64,
    pub project_code: i64,
    pub version: i64,
    pub global_params: &'a str,
    pub locations: Option<&'a str>,
    pub timeout: i64,
    pub now: NaiveDateTime,
}

impl DefinitionRow<'_> {
    fn columns(&self) -> Columns {
        let s = self.source;
        vec![
            ("code", self.code.into()),
            ("name", s.name.as_str().into()),
            ("version", self.version.into()),
            ("description", s.description.clone().into()),
            ("project_code", self.project_code.into()),
            ("release_state", s.release_state.into()),
            ("user_id", s.user_id.into()),
            ("global_params", self.global_params.into()),
            ("flag", s.flag.into()),
            ("locations", self.locations.into()),
            ("timeout", self.timeout.into()),
            ("execution_type", 0.into()),
            ("create_time", self.create_time().into()),
            ("update_time", self.update_time().into()),
        ]
    }

    fn create_time(&self) -> NaiveDateTime {
        self.source
            .create_time
            .or(self.source.update_time)
            .unwrap_or(self.now)
    }

    fn update_time(&self) -> NaiveDateTime {
        self.source
            .update_time
            .unwrap_or_else(|| self.create_time())
    }

    pub fn writes(&self) -> [Write; 2] {
        let row = self.columns();
        let mut log = log_of(&row);
        log.push(("operator", self.source.user_id.into()));
        log.push(("operate_time", self.update_time().into()));
        [
            Write::Insert {
                table: DEFINITION,
                row,
            },
            Write::Insert {
                table: DEFINITION_LOG,
                row: log,
            },
        ]
    }

    /// A task of this definition at `version`: main row and log row (its texts move in).
    pub fn task_writes(&self, code: i64, version: i64, task: TaskContent) -> [Write; 2] {
        let row: Columns = vec![
            ("code", code.into()),
            ("name", task.name.into()),
            ("version", version.into()),
            ("description", task.description.into()),
            ("project_code", self.project_code.into()),
            ("user_id", self.source.user_id.into()),
            ("task_type", task.task_type.into()),
            ("task_params", task.task_params.into()),
            ("flag", task.flag.into()),
            ("task_priority", task.task_priority.into()),
            ("worker_group", task.worker_group.into()),
            ("environment_code", (-1).into()),
            ("fail_retry_times", task.fail_retry_times.into()),
            ("fail_retry_interval", task.fail_retry_interval.into()),
            ("timeout_flag", task.timeout_flag.into()),
            (
                "timeout_notify_strategy",
                task.timeout_notify_strategy.into(),
            ),
            ("timeout", task.timeout.into()),
            ("delay_time", task.delay_time.into()),
            ("resource_ids", task.resource_ids.into()),
            ("create_time", self.create_time().into()),
            ("update_time", self.update_time().into()),
        ];
        let mut log = log_of(&row);
        log.push(("operator", self.source.user_id.into()));
        log.push(("operate_time", self.update_time().into()));
        [
            Write::Insert { table: TASK, row },
            Write::Insert {
                table: TASK_LOG,
                row: log,
            },
        ]
    }

    /// A relation of this definition's version: main row and log row.
    pub fn relation_writes(&self, pre: (i64, i64), post: (i64, i64)) -> [Write; 2] {
        let row: Columns = vec![
            ("name", "".into()),
            ("project_code", self.project_code.into()),
            ("process_definition_code", self.code.into()),
            ("process_definition_version", self.version.into()),
            ("pre_task_code", pre.0.into()),
            ("pre_task_version", pre.1.into()),
            ("post_task_code", post.0.into()),
            ("post_task_version", post.1.into()),
            ("condition_type", 0.into()),
            ("condition_params", "{}".into()),
            ("create_time", self.create_time().into()),
            ("update_time", self.update_time().into()),
        ];
        let mut log = log_of(&row);
        log.push(("operator", self.source.user_id.into()));
        log.push(("operate_time", self.update_time().into()));
        [
            Write::Insert {
                table: RELATION,
                row,
            },
            Write::Insert {
                table: RELATION_LOG,
                row: log,
            },
        ]
    }
}

pub fn schedule(row: &SourceSchedule, definition_code: i64, tenant_code: &str) -> Write {
    Write::Insert {
        table: SCHEDULE,
        row: vec![
            ("process_definition_code", definition_code.into()),
            ("start_time", row.start_time.into()),
            ("end_time", row.end_time.into()),
            ("crontab", row.crontab.as_str().into()),
            ("failure_strategy", row.failure_strategy.into()),
            ("user_id", row.user_id.into()),
            // Offline until the project is cut over: a schedule online in both
            // schedulers would run every workflow twice.
            ("release_state", 0.into()),
            ("warning_type", row.warning_type.into()),
            ("warning_group_id", row.warning_group_id.into()),
            (
                "process_instance_priority",
                row.process_instance_priority.unwrap_or(2).into(),
            ),
            (
                "worker_group",
                row.worker_group.clone().unwrap_or_default().into(),
            ),
            ("tenant_code", tenant_code.into()),
            ("environment_code", (-1).into()),
            ("create_time", row.create_time.into()),
            ("update_time", row.update_time.into()),
        ],
    }
}
