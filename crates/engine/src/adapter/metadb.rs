//! [`Databases`] over `changeover-metadb`: backups under `<data_dir>/backups/<upgrade>`,
//! restore from them, migrations with history under a lock, data-update tasks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use changeover_metadb as metadb;
use metadb::{
    BackupItem, BackupRequest, BackupSet, DataUpdateTask, DataUpdates, DbTarget, DumpOptions,
    MigrateOptions, Migration, PruneStatement, StopSignal, TaskState,
};
use serde::{Deserialize, Serialize};

use crate::port::{Backup, Databases, PortError, TaskRun};

/// One metadata database of the platform, resolved from the bundle.
#[derive(Debug, Clone)]
pub struct DatabaseSpec {
    pub name: String,
    pub target: DbTarget,
    /// The target version's migrations for this database's engine.
    pub migrations: Vec<Migration>,
    pub prune: Vec<PruneStatement>,
    /// The platform's own schema tool, run after the migrations.
    pub schema: Option<SchemaSpec>,
    /// How it is dumped and restored (`databases[].dump` of the bundle).
    pub dump: DumpOptions,
}

/// A schema command resolved from the bundle (`databases[].schema`).
#[derive(Clone)]
pub struct SchemaSpec {
    pub run: Vec<String>,
    pub check: Option<Vec<String>>,
    /// May hold secrets (database URLs): never logged or shown.
    pub env: std::collections::BTreeMap<String, String>,
}

impl std::fmt::Debug for SchemaSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaSpec")
            .field("run", &self.run)
            .field("check", &self.check)
            .field("env_keys", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The most output of a schema command kept in an error message.
const OUTPUT_TAIL: usize = 2000;

/// Runs one schema command; `Ok(Err(text))` when it ran and exited non-zero.
async fn run_schema_command(
    argv: &[String],
    env: &std::collections::BTreeMap<String, String>,
) -> Result<Result<String, String>, PortError> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| PortError::from("the schema command is empty".to_owned()))?;
    let out = tokio::process::Command::new(program)
        .args(args)
        .envs(env)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run the schema command {program}: {e}"))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let tail: String = {
        let chars: Vec<char> = text.chars().collect();
        chars[chars.len().saturating_sub(OUTPUT_TAIL)..]
            .iter()
            .collect()
    };
    Ok(if out.status.success() {
        Ok(tail)
    } else {
        Err(format!(
            "`{}` exited with {}: {}",
            argv.join(" "),
            out.status,
            tail.trim()
        ))
    })
}

/// The platform's metadata databases.
pub struct Metadb {
    data_dir: PathBuf,
    databases: Vec<DatabaseSpec>,
    tasks: Arc<DataUpdates>,
}

/// The ledger entry of a finished data-update run (`<data_dir>/data-updates/<run>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum Ledger {
    Succeeded,
    Failed { reason: String },
    Stopped,
}

impl Metadb {
    pub fn new(
        data_dir: impl Into<PathBuf>,
        databases: Vec<DatabaseSpec>,
        tasks: Vec<DataUpdateTask>,
    ) -> Result<Self, PortError> {
        Ok(Self {
            data_dir: data_dir.into(),
            databases,
            tasks: DataUpdates::new(tasks, Vec::new())?,
        })
    }

    fn database(&self, name: &str) -> Result<&DatabaseSpec, PortError> {
        self.databases
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| format!("no metadata database `{name}` in the bundle").into())
    }

    fn ledger_path(&self, run_id: &str) -> PathBuf {
        let stem: String = run_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.data_dir
            .join("data-updates")
            .join(format!("{stem}.json"))
    }
}

fn read_ledger(path: &Path) -> Option<Ledger> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn write_ledger(path: &Path, entry: &Ledger) -> Result<(), PortError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, serde_json::to_vec(entry)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[async_trait]
impl Databases for Metadb {
    async fn backup(&self, database: &str, upgrade_id: &str) -> Result<Backup, PortError> {
        let spec = self.database(database)?;
        let dir = metadb::backup_dir(&self.data_dir, Some(upgrade_id))?;
        if let Ok(set) = BackupSet::read(&dir)
            && let Some(manifest) = set.get(database)
            && let Ok(file) = metadb::check_backup(&dir, manifest).await
        {
            return Ok(Backup {
                file: file.display().to_string(),
                size: manifest.size_bytes,
            });
        }
        let prune_names: Vec<String> = spec.prune.iter().map(|p| p.name.clone()).collect();
        let item = BackupItem::new(database, &prune_names);
        let mut request = BackupRequest::new(database, spec.target.clone());
        request.prune = spec.prune.clone();
        request.options = spec.dump.clone();
        let manifest = metadb::backup_database(
            &request,
            &dir,
            Some(upgrade_id),
            &item,
            &StopSignal::default(),
        )
        .await?;
        Ok(Backup {
            file: dir.join(&manifest.file).display().to_string(),
            size: manifest.size_bytes,
        })
    }

    async fn dry_run(&self, database: &str) -> Result<(), PortError> {
        let spec = self.database(database)?;
        metadb::dry_run(&spec.target, &spec.migrations, &MigrateOptions::default()).await?;
        if let Some(schema) = &spec.schema
            && let Some(check) = &schema.check
        {
            // Before the upgrade the check is expected to report pending migrations; it
            // must run (the target version's tool starts and reaches the database).
            match run_schema_command(check, &schema.env).await? {
                Ok(_) => tracing::info!(database, "schema check: nothing pending"),
                Err(pending) => {
                    tracing::info!(database, %pending, "schema check before the upgrade")
                }
            }
        }
        Ok(())
    }

    async fn migrate(&self, database: &str) -> Result<(), PortError> {
        let spec = self.database(database)?;
        let report =
            metadb::migrate(&spec.target, &spec.migrations, &MigrateOptions::default()).await?;
        tracing::info!(
            database,
            applied = report.applied.len(),
            already_applied = report.already_applied.len(),
            "migrations applied"
        );
        if let Some(schema) = &spec.schema {
            run_schema_command(&schema.run, &schema.env)
                .await?
                .map_err(|e| format!("the schema command of `{database}` failed: {e}"))?;
            if let Some(check) = &schema.check {
                run_schema_command(check, &schema.env).await?.map_err(|e| {
                    format!("after the schema command, the check of `{database}` still fails: {e}")
                })?;
            }
            tracing::info!(database, "schema command and check succeeded");
        }
        Ok(())
    }

    async fn restore(&self, database: &str, upgrade_id: &str) -> Result<(), PortError> {
        let spec = self.database(database)?;
        let dir = metadb::backup_dir(&self.data_dir, Some(upgrade_id))?;
        let set = BackupSet::read(&dir)?;
        let manifest = set.get(database).ok_or_else(|| {
            format!(
                "upgrade {upgrade_id} has no backup of `{database}` in {}",
                dir.display()
            )
        })?;
        metadb::restore(&dir, manifest, &spec.target, &spec.dump).await?;
        Ok(())
    }

    /// # Guarantees
    /// - A run id whose outcome is in the ledger is not run again.
    /// # Caveats
    /// - A kill after the task commits and before the ledger is written runs it again on
    ///   resume (the window is the ledger write).
    async fn run_data_update(&self, task: &str, run_id: &str) -> Result<TaskRun, PortError> {
        let ledger = self.ledger_path(run_id);
        if let Some(entry) = read_ledger(&ledger) {
            return Ok(match entry {
                Ledger::Succeeded => TaskRun::Succeeded,
                Ledger::Failed { reason } => TaskRun::Failed(reason),
                Ledger::Stopped => TaskRun::Stopped,
            });
        }
        self.tasks.run(task)?;
        self.tasks.wait().await;
        let record = self.tasks.record(task)?;
        let (entry, run) = match record.state {
            TaskState::Succeeded => (Ledger::Succeeded, TaskRun::Succeeded),
            TaskState::Stopped => (Ledger::Stopped, TaskRun::Stopped),
            other => {
                let reason = record
                    .error
                    .unwrap_or_else(|| format!("ended {other:?}").to_lowercase());
                (
                    Ledger::Failed {
                        reason: reason.clone(),
                    },
                    TaskRun::Failed(reason),
                )
            }
        };
        write_ledger(&ledger, &entry)?;
        Ok(run)
    }

    async fn finished_data_update(&self, run_id: &str) -> Result<Option<TaskRun>, PortError> {
        Ok(
            read_ledger(&self.ledger_path(run_id)).map(|entry| match entry {
                Ledger::Succeeded => TaskRun::Succeeded,
                Ledger::Failed { reason } => TaskRun::Failed(reason),
                Ledger::Stopped => TaskRun::Stopped,
            }),
        )
    }

    async fn stop_data_update(&self, task: &str) -> Result<(), PortError> {
        self.tasks.stop(task)?;
        Ok(())
    }
}
