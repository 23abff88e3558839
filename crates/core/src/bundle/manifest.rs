//! The manifest of a version bundle (`bundle.yaml`, or the whole YAML bundle).
//! Field reference with examples: `docs/bundle-format.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compat::CompatibilityRules;
use crate::version::Version;

/// The only `format:` this reader understands.
pub const FORMAT_V1: &str = "changeover/v1";

/// A configuration value (any YAML value).
pub type ConfigValue = serde_json::Value;

/// Configuration values by dotted key (`metadb.url`).
pub type ConfigValues = BTreeMap<String, ConfigValue>;

/// `Debug` prints the configuration keys only: values may be secrets.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `changeover/v1`.
    pub format: String,
    /// The platform this bundle belongs to (`sample`).
    pub platform: String,
    /// The target version this bundle describes.
    pub version: Version,
    #[serde(default)]
    pub compatibility: CompatibilityRules,
    /// The configuration items the platform needs.
    pub template: Template,
    /// Configuration values. A ZIP bundle's values live in `values.yaml` and `overlays/`.
    #[serde(default)]
    pub config: ConfigValues,
    #[serde(default)]
    pub applications: Vec<Application>,
    #[serde(default)]
    pub databases: Vec<Database>,
    #[serde(default)]
    pub data_updates: Vec<DataUpdate>,
    #[serde(default)]
    pub hooks: Hooks,
    #[serde(default)]
    pub verification: Verification,
    /// Which adapter drives the platform's scheduler (default: the changeover contract).
    #[serde(default)]
    pub scheduler: SchedulerSection,
}

/// The scheduler adapter of a platform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerKind {
    /// The changeover scheduler contract (`docs/scheduler-contract.openapi.yaml`) at the
    /// runtime settings' contract URL.
    #[default]
    Contract,
    /// Apache Airflow's REST API (2.x `/api/v1`, 3.x `/api/v2`).
    Airflow,
}

/// `scheduler:` — how changeover reaches the platform's scheduler.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSection {
    #[serde(default)]
    pub adapter: SchedulerKind,
    /// The scheduler's API address (Airflow: the webserver or api-server); placeholders
    /// allowed. The contract adapter takes it from the runtime settings instead.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// A `{config.KEY}` placeholder of a **secret** template item, never a literal.
    #[serde(default)]
    pub password: Option<String>,
}

/// `schema:` of a database — the platform's own schema tool instead of (or after) SQL
/// migrations, run by the target version: e.g. `airflow db migrate`, checked with
/// `airflow db check-migrations` before (reported) and after (must succeed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaCommand {
    /// Program and arguments that bring the schema to the target version; idempotent.
    pub run: Vec<String>,
    /// Program and arguments that exit 0 when the schema is the target version's.
    #[serde(default)]
    pub check: Option<Vec<String>>,
    /// Environment of both commands; values may hold placeholders.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifest")
            .field("format", &self.format)
            .field("platform", &self.platform)
            .field("version", &self.version)
            .field("compatibility", &self.compatibility)
            .field("template", &self.template)
            .field("config_keys", &self.config.keys().collect::<Vec<_>>())
            .field("applications", &self.applications)
            .field("databases", &self.databases)
            .field("data_updates", &self.data_updates)
            .field("hooks", &self.hooks)
            .field("verification", &self.verification)
            .field("scheduler", &self.scheduler)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub items: Vec<TemplateItem>,
}

/// One configuration item of the template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateItem {
    /// Dotted key, e.g. `metadb.url`.
    pub key: String,
    /// A required item without a default must have a value.
    #[serde(default)]
    pub required: bool,
    /// The value is a secret: never printed, logged or returned by an API.
    #[serde(default)]
    pub secret: bool,
    /// The value used when none is given.
    #[serde(default)]
    pub default: Option<ConfigValue>,
    /// The value's type; when absent, any value is accepted.
    #[serde(default, rename = "type")]
    pub kind: Option<ValueKind>,
}

/// The type a configuration value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    String,
    Integer,
    Number,
    Boolean,
    List,
    Map,
}

impl ValueKind {
    /// Whether `value` has this type (`null` never does).
    pub fn accepts(self, value: &ConfigValue) -> bool {
        match self {
            ValueKind::String => value.is_string(),
            ValueKind::Integer => value.is_i64() || value.is_u64(),
            ValueKind::Number => value.is_number(),
            ValueKind::Boolean => value.is_boolean(),
            ValueKind::List => value.is_array(),
            ValueKind::Map => value.is_object(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ValueKind::String => "a string",
            ValueKind::Integer => "an integer",
            ValueKind::Number => "a number",
            ValueKind::Boolean => "a boolean",
            ValueKind::List => "a list",
            ValueKind::Map => "a map",
        }
    }
}

/// One service of the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub name: String,
    /// Program and arguments; placeholders are expanded by the driver.
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub workdir: Option<String>,
    /// The port the application listens on (1-65535), substituted for `{port}`.
    #[serde(default, deserialize_with = "port")]
    pub port: Option<u16>,
    pub health: HealthCheck,
    #[serde(default)]
    pub strategy: Strategy,
    /// Keeps serving through every mode (never stopped for downtime).
    #[serde(default)]
    pub always_on: bool,
    /// How long a stop waits after SIGTERM before SIGKILL (default: the driver's).
    #[serde(default)]
    pub stop_grace_ms: Option<u64>,
    /// SIGTERM to the main process only, so it drains its child processes (running tasks
    /// of a local executor) before exiting; the group is killed after `stop_grace_ms`.
    #[serde(default)]
    pub stop_main_first: bool,
    /// Signal that makes the application print its threads' stacks, e.g. `SIGQUIT`.
    #[serde(default)]
    pub stack_dump_signal: Option<String>,
}

fn port<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u16>, D::Error> {
    let value = Option::<i64>::deserialize(deserializer)?;
    value
        .map(|p| {
            u16::try_from(p).map_err(|_| {
                serde::de::Error::custom(format!("port {p} is out of range; use 1 to 65535"))
            })
        })
        .transpose()
}

/// Default health-check timeout per attempt, long enough for a loaded local service.
pub const DEFAULT_HEALTH_TIMEOUT_MS: u64 = 2000;
/// Default attempts: with the default interval, 15 s for a service to come up.
pub const DEFAULT_HEALTH_RETRIES: u32 = 60;
/// Default pause between attempts.
pub const DEFAULT_HEALTH_INTERVAL_MS: u64 = 250;

/// How to tell an application is up: an HTTP GET of `http` answering 2xx, a TCP connect,
/// or (`process: true`, for a worker that listens on nothing) its process still running
/// one interval after start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Path to GET on the application's port, e.g. `/health`.
    #[serde(default)]
    pub http: Option<String>,
    /// Connect to the application's port.
    #[serde(default)]
    pub tcp: bool,
    /// The process is alive one interval after start (no port needed).
    #[serde(default)]
    pub process: bool,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_interval")]
    pub interval_ms: u64,
}

fn default_timeout() -> u64 {
    DEFAULT_HEALTH_TIMEOUT_MS
}
fn default_retries() -> u32 {
    DEFAULT_HEALTH_RETRIES
}
fn default_interval() -> u64 {
    DEFAULT_HEALTH_INTERVAL_MS
}

/// How an application moves to the new version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Stop the old, start the new.
    #[default]
    Recreate,
    /// Start the new, then retire the old.
    Rolling,
}

/// The engine of a metadata database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Sqlite,
    Postgres,
    Mysql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }

    pub fn parse(name: &str) -> Option<Engine> {
        match name {
            "sqlite" => Some(Engine::Sqlite),
            "postgres" => Some(Engine::Postgres),
            "mysql" => Some(Engine::Mysql),
            _ => None,
        }
    }
}

/// SQL text per engine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSql {
    #[serde(default)]
    pub sqlite: Option<String>,
    #[serde(default)]
    pub postgres: Option<String>,
    #[serde(default)]
    pub mysql: Option<String>,
}

impl EngineSql {
    /// The SQL for `engine`, if the bundle gives one.
    pub fn for_engine(&self, engine: Engine) -> Option<&str> {
        match engine {
            Engine::Sqlite => self.sqlite.as_deref(),
            Engine::Postgres => self.postgres.as_deref(),
            Engine::Mysql => self.mysql.as_deref(),
        }
    }

    pub(crate) fn slot(&mut self, engine: Engine) -> &mut Option<String> {
        match engine {
            Engine::Sqlite => &mut self.sqlite,
            Engine::Postgres => &mut self.postgres,
            Engine::Mysql => &mut self.mysql,
        }
    }
}

/// A metadata database of the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub name: String,
    pub engine: Engine,
    /// Connection URL; usually `{config.metadb.url}`.
    pub url: String,
    /// Ordered by strictly increasing `version`.
    #[serde(default)]
    pub migrations: Vec<Migration>,
    /// Statements run before the backup to make it smaller.
    #[serde(default)]
    pub prune_before_backup: Vec<NamedSql>,
    /// The platform's own schema tool, run after the SQL migrations (if any).
    #[serde(default)]
    pub schema: Option<SchemaCommand>,
    /// How the backup dumps this database; the engine's defaults when absent.
    #[serde(default)]
    pub dump: Option<DumpSettings>,
}

/// The most parallel jobs a `dump.jobs` may ask for: each job is one more connection to
/// the server (PostgreSQL's default `max_connections` is 100, shared with the platform).
pub const MAX_DUMP_JOBS: u32 = 32;

/// `dump:` of a database — how its backup is taken and restored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpSettings {
    /// PostgreSQL: `custom` (one file, the default) or `directory` (one file per table,
    /// dumped by `jobs` parallel connections).
    #[serde(default)]
    pub format: Option<DumpFormat>,
    /// PostgreSQL: parallel jobs of `pg_restore` and, in the directory format, of
    /// `pg_dump`; 1 to [`MAX_DUMP_JOBS`].
    #[serde(default)]
    pub jobs: Option<u32>,
    /// MySQL/MariaDB: dump the triggers (default true; seed 003 turns them off).
    #[serde(default)]
    pub triggers: Option<bool>,
}

/// The format of a PostgreSQL dump (`pg_dump --format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DumpFormat {
    Custom,
    Directory,
}

/// One schema migration (Flyway-style: once applied, its SQL must never change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    pub version: u32,
    pub name: String,
    pub sql: EngineSql,
}

impl Migration {
    /// SHA-256 (lowercase hex) of this migration's SQL for `engine`: the checksum recorded
    /// when it is applied and compared on every later run.
    pub fn checksum(&self, engine: Engine) -> Option<String> {
        self.sql
            .for_engine(engine)
            .map(|sql| super::digest::sha256_hex(sql.as_bytes()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedSql {
    pub name: String,
    pub sql: EngineSql,
}

/// A data-update task run after the applications are upgraded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataUpdate {
    pub name: String,
    /// Maintenance mode ends only when every blocking task is done.
    #[serde(default)]
    pub blocking: bool,
    /// The operator may skip it.
    #[serde(default = "yes")]
    pub skippable: bool,
    /// Must be started by hand.
    #[serde(default)]
    pub manual_start: bool,
    /// The database the `sql` runs in (a `databases[].name`).
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub sql: Option<EngineSql>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    #[serde(default)]
    pub before: Vec<Hook>,
    #[serde(default)]
    pub after: Vec<Hook>,
}

/// A pre- or post-upgrade action: a command (with an optional undo) or an HTTP call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    pub name: String,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub undo: Option<Vec<String>>,
    #[serde(default)]
    pub http: Option<HttpCall>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCall {
    pub method: String,
    pub url: String,
}

/// Default tolerated deviation of today's instance count from the 7-day average.
pub const DEFAULT_MAX_COUNT_DEVIATION_PCT: u32 = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    #[serde(default = "default_deviation")]
    pub max_count_deviation_pct: u32,
    #[serde(default)]
    pub allow_failed_today_succeeded_yesterday: u32,
}

fn default_deviation() -> u32 {
    DEFAULT_MAX_COUNT_DEVIATION_PCT
}

impl Default for Verification {
    fn default() -> Self {
        Verification {
            max_count_deviation_pct: DEFAULT_MAX_COUNT_DEVIATION_PCT,
            allow_failed_today_succeeded_yesterday: 0,
        }
    }
}
