//! A bundle resolved for one platform: placeholders expanded with the runtime settings and
//! the bundle's configuration, into the driver's, metadb's and hooks' own types.

use std::collections::BTreeMap;

use changeover_core::bundle::{self, Bundle, EngineSql, Hook};
use changeover_drivers::Strategy;
use changeover_drivers::process::{AppSpec, HealthCheck, Probe};
use changeover_metadb::{
    DataUpdateTask, DbTarget, DumpOptions, Migration, PgFormat, PruneStatement, TaskKind,
};

use crate::adapter::hooks::{HookAction, HookSpec};
use crate::adapter::metadb::{DatabaseSpec, SchemaSpec};
use crate::placeholder::Placeholders;
use crate::settings::PlatformSettings;
use crate::setup::{Resolved, SchedulerSpec};
use crate::upgrade::verify::VerdictRule;

/// The configuration key of the metadata database URL, set from the runtime settings.
pub const METADB_URL_KEY: &str = "metadb.url";

/// The bundle's effective configuration as text, the settings' metadb URL winning.
pub fn configuration(bundle: &Bundle, settings: &PlatformSettings) -> BTreeMap<String, String> {
    let mut config: BTreeMap<String, String> = bundle
        .effective_config()
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    if let Some(url) = &settings.metadb_url {
        config.insert(METADB_URL_KEY.to_owned(), url.clone());
    }
    config
}

fn bundle_engine(e: changeover_metadb::Engine) -> bundle::Engine {
    match e {
        changeover_metadb::Engine::Sqlite => bundle::Engine::Sqlite,
        changeover_metadb::Engine::Postgres => bundle::Engine::Postgres,
        changeover_metadb::Engine::Mysql => bundle::Engine::Mysql,
    }
}

fn sql_for(sql: &EngineSql, engine: bundle::Engine, what: &str) -> Result<String, String> {
    sql.for_engine(engine)
        .map(str::to_owned)
        .ok_or_else(|| format!("{what} has no SQL for {}", engine.name()))
}

fn hook_spec(hook: &Hook, p: &Placeholders) -> Result<HookSpec, String> {
    let what = format!("hook `{}`", hook.name);
    let argv = |v: &Vec<String>| -> Result<Vec<String>, String> {
        v.iter().map(|a| p.expand(a, &what)).collect()
    };
    let run = match (&hook.command, &hook.http) {
        (Some(command), _) => HookAction::Command(argv(command)?),
        (None, Some(http)) => HookAction::Http {
            method: http.method.clone(),
            url: p.expand(&http.url, &what)?,
        },
        (None, None) => return Err(format!("{what} has neither a command nor an http call")),
    };
    let undo = hook
        .undo
        .as_ref()
        .map(argv)
        .transpose()?
        .map(HookAction::Command);
    Ok(HookSpec {
        name: hook.name.clone(),
        run,
        undo,
    })
}

fn scheduler_spec(
    section: &bundle::SchedulerSection,
    p: &Placeholders,
) -> Result<SchedulerSpec, String> {
    match section.adapter {
        bundle::SchedulerKind::Contract => Ok(SchedulerSpec::Contract),
        bundle::SchedulerKind::Airflow => {
            let field = |value: &Option<String>, name: &str| -> Result<String, String> {
                let text = value.as_deref().ok_or_else(|| {
                    format!("scheduler.{name} is required for the airflow adapter")
                })?;
                p.expand(text, &format!("scheduler.{name}"))
            };
            Ok(SchedulerSpec::Airflow {
                url: field(&section.url, "url")?,
                username: field(&section.username, "username")?,
                password: changeover_airflow::Password::new(field(&section.password, "password")?),
            })
        }
    }
}

/// Resolves `bundle` for the platform described by `settings`.
pub fn resolve(bundle: &Bundle, settings: &PlatformSettings) -> Result<Resolved, String> {
    let manifest = bundle.manifest();
    let version = manifest.version.to_string();
    let p = Placeholders {
        bin_dir: settings.bin_dir.display().to_string(),
        data_dir: settings.data_dir.display().to_string(),
        config: configuration(bundle, settings),
    };
    let mut applications = Vec::new();
    for app in &manifest.applications {
        let what = format!("application `{}`", app.name);
        let command = app
            .command
            .iter()
            .map(|a| p.expand(a, &what))
            .collect::<Result<Vec<_>, _>>()?;
        let mut spec = AppSpec::new(&app.name, &version, command);
        for (k, v) in &app.env {
            spec.env.insert(k.clone(), p.expand(v, &what)?);
        }
        spec.working_dir = app
            .workdir
            .as_ref()
            .map(|w| p.expand(w, &what).map(Into::into))
            .transpose()?;
        spec.port = app.port;
        let probe = match (&app.health.http, app.health.tcp) {
            (Some(path), _) => Probe::Http { path: path.clone() },
            (None, true) => Probe::Tcp,
            (None, false) => Probe::Alive,
        };
        spec.health = HealthCheck {
            probe,
            timeout_ms: app.health.timeout_ms,
            retries: app.health.retries,
            interval_ms: app.health.interval_ms,
        };
        spec.strategy = match app.strategy {
            bundle::Strategy::Recreate => Strategy::Recreate,
            bundle::Strategy::Rolling => Strategy::Rolling,
        };
        spec.always_on = app.always_on;
        if let Some(ms) = app.stop_grace_ms {
            spec.stop_grace_ms = ms;
        }
        spec.stop_main_first = app.stop_main_first;
        if let Some(signal) = &app.stack_dump_signal {
            spec.stack_dump_signal = signal.clone();
        }
        applications.push(spec);
    }
    let mut databases = Vec::new();
    let mut targets: BTreeMap<String, (DbTarget, bundle::Engine)> = BTreeMap::new();
    for db in &manifest.databases {
        let what = format!("database `{}`", db.name);
        let url = p.expand(&db.url, &what)?;
        let target = DbTarget::parse(&url).map_err(|e| format!("{what}: {e}"))?;
        // the URL decides the engine (an installation may put the metadata on PostgreSQL
        // although the bundle's example says SQLite); the bundle must carry its SQL
        let engine = bundle_engine(target.engine);
        if engine != db.engine {
            tracing::debug!(database = %db.name, declared = db.engine.name(), url = %target.engine, "engine taken from the URL");
        }
        let migrations = db
            .migrations
            .iter()
            .map(|m| {
                let sql = sql_for(
                    &m.sql,
                    engine,
                    &format!("migration V{} `{}` of {what}", m.version, m.name),
                )?;
                Ok(Migration::new(i64::from(m.version), &m.name, sql))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let prune = db
            .prune_before_backup
            .iter()
            .map(|n| {
                Ok(PruneStatement {
                    name: n.name.clone(),
                    sql: sql_for(&n.sql, engine, &format!("prune `{}` of {what}", n.name))?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let schema = db
            .schema
            .as_ref()
            .map(|sc| -> Result<SchemaSpec, String> {
                let what = format!("the schema command of {what}");
                let argv = |v: &Vec<String>| -> Result<Vec<String>, String> {
                    v.iter().map(|a| p.expand(a, &what)).collect()
                };
                Ok(SchemaSpec {
                    run: argv(&sc.run)?,
                    check: sc.check.as_ref().map(argv).transpose()?,
                    env: sc
                        .env
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), p.expand(v, &what)?)))
                        .collect::<Result<_, String>>()?,
                })
            })
            .transpose()?;
        targets.insert(db.name.clone(), (target.clone(), engine));
        databases.push(DatabaseSpec {
            name: db.name.clone(),
            target,
            migrations,
            prune,
            schema,
            dump: dump_options(db.dump.as_ref()),
        });
    }
    let mut data_updates = Vec::new();
    for task in &manifest.data_updates {
        let what = format!("data-update task `{}`", task.name);
        let kind = match (&task.sql, &task.command) {
            (Some(sql), _) => {
                let db = task
                    .database
                    .as_deref()
                    .or(manifest.databases.first().map(|d| d.name.as_str()));
                let (target, engine) = db
                    .and_then(|d| targets.get(d))
                    .ok_or_else(|| format!("{what} names no database of the bundle"))?;
                TaskKind::Sql {
                    target: target.clone(),
                    sql: sql_for(sql, *engine, &what)?,
                }
            }
            (None, Some(argv)) => TaskKind::Command {
                argv: argv
                    .iter()
                    .map(|a| p.expand(a, &what))
                    .collect::<Result<_, _>>()?,
                env: BTreeMap::new(),
                workdir: None,
            },
            (None, None) => return Err(format!("{what} has neither sql nor a command")),
        };
        data_updates.push(DataUpdateTask {
            name: task.name.clone(),
            blocking: task.blocking,
            skippable: task.skippable,
            manual_start: task.manual_start,
            kind,
        });
    }
    let scheduler = scheduler_spec(&manifest.scheduler, &p)?;
    Ok(Resolved {
        scheduler,
        version,
        applications,
        databases,
        data_updates,
        before_hooks: manifest
            .hooks
            .before
            .iter()
            .map(|h| hook_spec(h, &p))
            .collect::<Result<_, _>>()?,
        after_hooks: manifest
            .hooks
            .after
            .iter()
            .map(|h| hook_spec(h, &p))
            .collect::<Result<_, _>>()?,
        rule: VerdictRule {
            max_count_deviation_pct: manifest.verification.max_count_deviation_pct,
            allow_failed_today_succeeded_yesterday: manifest
                .verification
                .allow_failed_today_succeeded_yesterday,
        },
    })
}

/// `databases[].dump` of the bundle (validated: PostgreSQL options only on PostgreSQL) as
/// the options of changeover-metadb; what it leaves out keeps the library's default.
fn dump_options(dump: Option<&bundle::DumpSettings>) -> DumpOptions {
    let mut options = DumpOptions::default();
    let Some(dump) = dump else {
        return options;
    };
    if let Some(jobs) = dump.jobs {
        options.jobs = jobs;
    }
    if let Some(triggers) = dump.triggers {
        options.triggers = triggers;
    }
    options.pg_format = match dump.format {
        Some(bundle::DumpFormat::Directory) => PgFormat::Directory { jobs: options.jobs },
        Some(bundle::DumpFormat::Custom) | None => PgFormat::Custom,
    };
    options
}
