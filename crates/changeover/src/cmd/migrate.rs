//! `changeover migrate …`: live metadata migration DolphinScheduler 1.3 → 3.2 by change
//! data capture, with `changeover-migrate`.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use changeover_migrate::cutover::{Switch, cutover, revert};
use changeover_migrate::dsapi::{DsApi, Release};
use changeover_migrate::migration::{MigrationConfig, run as run_migration};
use changeover_migrate::runtime::TableProgress;
use changeover_migrate::source_postgres::{cleanup, replication_names};
use changeover_migrate::status::{MigrationStatus, status};
use changeover_migrate::target::Target;
use changeover_migrate::verify::verify;
use clap::Subcommand;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::context::Context;
use crate::failure::{bad_input, failed};
use crate::output;

/// The only conversion implemented.
const FROM: &str = "dolphinscheduler-1.3";
const TO: &str = "dolphinscheduler-3.2";

#[derive(Debug, clap::Args)]
#[command(
    about = "Migrate metadata live from DolphinScheduler 1.3 to 3.2",
    long_about = "Migrate metadata live from DolphinScheduler 1.3 to 3.2.\n\nCopy a DolphinScheduler 1.3 metadata database into a fresh 3.2 database and keep it \
                  in sync by change data capture (MySQL/MariaDB binary log or PostgreSQL logical \
                  replication), so the source keeps running until each project is cut over. The id \
                  map and the stream position are committed in the target with the rows.",
    after_help = "Examples:\n  changeover migrate start --source mysql://root@db/ds13 --target postgres://postgres@db/ds32 --from dolphinscheduler-1.3 --to dolphinscheduler-3.2 --projects canary\n  changeover migrate status --source mysql://root@db/ds13 --target postgres://postgres@db/ds32\n  changeover migrate verify --source mysql://root@db/ds13 --target postgres://postgres@db/ds32"
)]
pub struct Args {
    #[command(subcommand)]
    command: MigrateCommand,
}

#[derive(Debug, clap::Args)]
struct Databases {
    /// The 1.3 source database URL (mysql://, mariadb:// or postgres://).
    #[arg(
        long,
        env = "CHANGEOVER_MIGRATE_SOURCE",
        value_name = "URL",
        hide_env_values = true
    )]
    source: String,
    #[command(flatten)]
    target: TargetDb,
}

/// The 3.2 target database alone (what commands that read or write only the migration's
/// state need).
#[derive(Debug, clap::Args)]
struct TargetDb {
    /// The 3.2 target database URL (mysql://, mariadb:// or postgres://).
    #[arg(
        long = "target",
        env = "CHANGEOVER_MIGRATE_TARGET",
        value_name = "URL",
        hide_env_values = true
    )]
    url: String,
}

#[derive(Debug, Subcommand)]
enum MigrateCommand {
    /// Snapshot the source, then follow its changes until interrupted (Ctrl-C).
    #[command(
        long_about = "Snapshot the source, then follow its changes until interrupted (Ctrl-C).\n\nRun it again after a stop or a crash: it resumes from the position committed in the target. With --projects only those projects are migrated (a canary).",
        after_help = "Examples:\n  changeover migrate start --source mariadb://root@db/ds13 --target postgres://postgres@db/ds32 --from dolphinscheduler-1.3 --to dolphinscheduler-3.2\n  changeover migrate start --source postgres://postgres@db/ds13 --target mysql://root@db/ds32 --from dolphinscheduler-1.3 --to dolphinscheduler-3.2 --projects etl,reports"
    )]
    Start {
        #[command(flatten)]
        db: Databases,
        /// Source version (only dolphinscheduler-1.3).
        #[arg(long, value_name = "VERSION")]
        from: String,
        /// Target version (only dolphinscheduler-3.2).
        #[arg(long, value_name = "VERSION")]
        to: String,
        /// Project names to migrate, comma-separated; all when absent.
        #[arg(long, value_delimiter = ',', value_name = "NAMES")]
        projects: Vec<String>,
    },
    /// Add projects to a running canary migration without stopping it.
    #[command(
        long_about = "Add projects to a running canary migration without stopping it.\n\nThe running `migrate start` snapshots just those projects and merges them into the stream.",
        after_help = "Examples:\n  changeover migrate add-projects --target postgres://postgres@db/ds32 --projects billing"
    )]
    AddProjects {
        #[command(flatten)]
        target: TargetDb,
        /// Project names, comma-separated.
        #[arg(long, value_delimiter = ',', value_name = "NAMES", required = true)]
        projects: Vec<String>,
    },
    /// Show position, lag, migrated definitions and dead letters.
    #[command(
        long_about = "Show position, lag, migrated definitions and dead letters.\n\nLag is in bytes of binary log or WAL not yet applied, and in seconds as the running migrator last recorded it, with events/s and snapshot rows per table (a progress bar each on a terminal).",
        after_help = "Examples:\n  changeover migrate status --source mysql://root@db/ds13 --target postgres://postgres@db/ds32 --json\n  changeover migrate status --source mysql://root@db/ds13 --target postgres://postgres@db/ds32 --watch"
    )]
    Status {
        #[command(flatten)]
        db: Databases,
        /// Refresh every second with a progress bar per snapshot table and the stream's lag,
        /// events/s and dead letters, until the migrator stops (Ctrl-C leaves).
        #[arg(long)]
        watch: bool,
    },
    /// Compare counts per table and a canonical MD5 per definition.
    #[command(
        long_about = "Compare counts per table and a canonical MD5 per definition.\n\nExits with code 1 and lists every difference when source and target differ.",
        after_help = "Examples:\n  changeover migrate verify --source mysql://root@db/ds13 --target postgres://postgres@db/ds32"
    )]
    Verify {
        #[command(flatten)]
        db: Databases,
    },
    /// Ask the running migrator to stop after its current batch.
    #[command(
        long_about = "Ask the running migrator to stop after its current batch.\n\nThe request is saved in the target (`changeover_migration_runtime`); the migrator, on this machine or another, takes it between batches, commits what it has, records phase `stopped` and exits 0. `changeover migrate start` with the same databases resumes from the committed position. With --wait, waits until the migrator has stopped (at most --timeout seconds).",
        after_help = "Examples:\n  changeover migrate stop --target postgres://postgres@db/ds32\n  changeover migrate stop --target postgres://postgres@db/ds32 --wait --timeout 120"
    )]
    Stop {
        #[command(flatten)]
        target: TargetDb,
        /// Wait until the migrator has recorded that it stopped.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this many seconds (exit 1).
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        timeout: u64,
    },
    /// List definitions that could not be migrated, with the reason.
    #[command(
        long_about = "List definitions that could not be migrated, with the reason.\n\nA dead letter goes away when the source row is fixed or deleted.",
        after_help = "Examples:\n  changeover migrate dead-letters --target postgres://postgres@db/ds32"
    )]
    DeadLetters {
        #[command(flatten)]
        target: TargetDb,
    },
    /// Move a project's schedules from the source to the target (or back with --revert).
    #[command(
        long_about = "Move a project's schedules from the source to the target (or back with --revert).\n\nTakes the schedules offline in the source, waits for zero lag, verifies, brings them online in the target. `migrate start` must be running.\n\nThe schedules are switched through both DolphinSchedulers' REST APIs (--source-api, --target-api), as clicks in their UIs would: only the API server makes and removes the Quartz triggers that fire them. The tokens are read from CHANGEOVER_DS_SOURCE_TOKEN and CHANGEOVER_DS_TARGET_TOKEN, never from the command line. A switch that fails part-way is undone: a project is never scheduled in both systems, and if the target refuses, its source schedules go online again. --by-rows updates the schedule rows instead, for when neither scheduler runs (a rehearsal on copies).",
        after_help = "Examples:\n  CHANGEOVER_DS_SOURCE_TOKEN=... CHANGEOVER_DS_TARGET_TOKEN=... changeover migrate cutover --source mysql://root@db/ds13 --target postgres://postgres@db/ds32 --project canary --source-api http://ds13:12345/dolphinscheduler --target-api http://ds32:12345/dolphinscheduler\n  changeover migrate cutover --source mysql://root@db/ds13 --target postgres://postgres@db/ds32 --project canary --revert --source-api http://ds13:12345/dolphinscheduler --target-api http://ds32:12345/dolphinscheduler\n  changeover migrate cutover --source mysql://root@db/ds13 --target postgres://postgres@db/ds32 --project canary --by-rows"
    )]
    Cutover {
        #[command(flatten)]
        db: Databases,
        /// The project name.
        #[arg(long, value_name = "NAME")]
        project: String,
        /// The 1.3 source's API base URL, e.g. http://ds13:12345/dolphinscheduler (token in
        /// CHANGEOVER_DS_SOURCE_TOKEN).
        #[arg(
            long,
            value_name = "URL",
            required_unless_present = "by_rows",
            requires = "target_api"
        )]
        source_api: Option<String>,
        /// The 3.2 target's API base URL, e.g. http://ds32:12345/dolphinscheduler (token in
        /// CHANGEOVER_DS_TARGET_TOKEN).
        #[arg(
            long,
            value_name = "URL",
            required_unless_present = "by_rows",
            requires = "source_api"
        )]
        target_api: Option<String>,
        /// Switch the schedules by updating their rows, not through the APIs: only when
        /// neither scheduler runs (a running 1.3 keeps firing, a running 3.2 makes no trigger).
        #[arg(long, conflicts_with_all = ["source_api", "target_api"])]
        by_rows: bool,
        /// Undo an earlier cutover of the project.
        #[arg(long)]
        revert: bool,
        /// Seconds to wait for zero lag.
        #[arg(long, default_value_t = 120, value_name = "SECONDS")]
        timeout: u64,
    },
    /// Drop the migration's state tables, and the slot and publication of a PostgreSQL source.
    #[command(
        long_about = "Drop the migration's state tables, and the slot and publication of a PostgreSQL source.\n\nThe migrated rows stay in the target.",
        after_help = "Examples:\n  changeover migrate cleanup --source postgres://postgres@db/ds13 --target postgres://postgres@db/ds32"
    )]
    Cleanup {
        #[command(flatten)]
        db: Databases,
    },
}

/// Where a cutover's API tokens are read from (never the command line, where `ps` shows
/// them).
const SOURCE_TOKEN: &str = "CHANGEOVER_DS_SOURCE_TOKEN";
const TARGET_TOKEN: &str = "CHANGEOVER_DS_TARGET_TOKEN";

/// A DolphinScheduler API from its URL flag and the token in `token_var`.
fn ds_api(release: Release, url: &str, token_var: &str) -> Result<DsApi> {
    let token = std::env::var(token_var).map_err(|_| {
        bad_input(
            format!("{release} at {url} needs a token: {token_var} is not set"),
            format!(
                "set {token_var} to a DolphinScheduler user token (Security > Token manage) with rights on the project"
            ),
        )
    })?;
    DsApi::new(release, url, &token).map_err(|e| {
        bad_input(
            e.to_string(),
            "give the API's base URL, e.g. http://host:12345/dolphinscheduler",
        )
    })
}

pub async fn run(args: Args, ctx: &Context) -> Result<()> {
    let hint = "check the URL, that the server is reachable and that the migration was started";
    let to_failure = |e: changeover_migrate::error::MigrateError| failed(e.to_string(), hint);
    match args.command {
        MigrateCommand::Start {
            db,
            from,
            to,
            projects,
        } => {
            if from != FROM || to != TO {
                return Err(bad_input(
                    format!("cannot migrate from {from:?} to {to:?}"),
                    format!("the supported conversion is --from {FROM} --to {TO}"),
                ));
            }
            let config = MigrationConfig {
                source_url: db.source,
                target_url: db.target.url,
                projects,
                machine: u8::try_from(std::process::id() & 0x1f).unwrap_or(0),
                server_id: 0x4000_0000 | (std::process::id() & 0x3fff_ffff),
            };
            eprintln!("migrating; press Ctrl-C to stop (it resumes where it stopped)");
            run_migration(&config, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(to_failure)
        }
        MigrateCommand::AddProjects { target, projects } => {
            let target = Target::connect(&target.url).await.map_err(to_failure)?;
            target.install_state().await.map_err(to_failure)?;
            target
                .request_projects(&projects)
                .await
                .map_err(to_failure)?;
            println!("requested: {}", projects.join(", "));
            Ok(())
        }
        MigrateCommand::Status { db, watch } => {
            let target = Target::connect(&db.target.url).await.map_err(to_failure)?;
            let now = status(&db.source, &target).await.map_err(to_failure)?;
            let view = StatusView::of(&now);
            if ctx.json {
                return output::json(&view);
            }
            if watch {
                return watch_status(&db.source, &target, view, to_failure).await;
            }
            println!("{}", output::table(&["", ""], view.rows()));
            if std::io::stdout().is_terminal() && !view.snapshot.is_empty() {
                let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
                for bar in snapshot_bars(&multi, &view.snapshot) {
                    bar.abandon();
                }
            }
            Ok(())
        }
        MigrateCommand::Verify { db } => {
            let target = Target::connect(&db.target.url).await.map_err(to_failure)?;
            let report = verify(&db.source, &target).await.map_err(to_failure)?;
            if ctx.json {
                let view = VerifyView {
                    clean: report.is_clean(),
                    definitions: report.definitions,
                    counts: report
                        .counts
                        .iter()
                        .map(|c| (c.table.to_owned(), c.source, c.target))
                        .collect(),
                    differences: report.differences.clone(),
                };
                output::json(&view)?;
            } else {
                let rows = report.counts.iter().map(|c| {
                    vec![
                        c.table.to_owned(),
                        c.source.to_string(),
                        c.target.to_string(),
                    ]
                });
                println!("{}", output::table(&["table", "source", "target"], rows));
                println!(
                    "{} definitions compared by canonical MD5",
                    report.definitions
                );
                for d in &report.differences {
                    println!("difference: {d}");
                }
            }
            if report.is_clean() {
                Ok(())
            } else {
                Err(failed(
                    format!(
                        "{} differences between source and target",
                        report.differences.len()
                    ),
                    "wait for zero lag (`migrate status`) and verify again; check `migrate dead-letters`",
                ))
            }
        }
        MigrateCommand::Stop {
            target,
            wait,
            timeout,
        } => {
            let target = Target::connect(&target.url).await.map_err(to_failure)?;
            if !target.request_stop().await.map_err(to_failure)? {
                return Err(failed(
                    "no migrator has ever run against this target: there is nothing to stop",
                    "start one with `changeover migrate start`",
                ));
            }
            println!("stop requested: the migrator stops after its current batch");
            if !wait {
                return Ok(());
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(timeout);
            loop {
                let runtime = target.runtime().await.map_err(to_failure)?;
                let phase = runtime.map(|r| r.progress.phase);
                if matches!(
                    phase,
                    Some(changeover_migrate::runtime::Phase::Stopped)
                        | Some(changeover_migrate::runtime::Phase::Failed)
                ) {
                    println!("migrator {}", phase.map(|p| p.name()).unwrap_or_default());
                    return Ok(());
                }
                if std::time::Instant::now() >= deadline {
                    return Err(failed(
                        format!("the migrator has not stopped within {timeout} s"),
                        "it stops between batches; see `changeover migrate status`, or stop its process",
                    ));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        MigrateCommand::DeadLetters { target } => {
            let target = Target::connect(&target.url).await.map_err(to_failure)?;
            let letters = target.dead_letters().await.map_err(to_failure)?;
            if ctx.json {
                let view: Vec<(String, i64, String)> = letters
                    .iter()
                    .map(|d| (d.table.name().to_owned(), d.id, d.reason.clone()))
                    .collect();
                return output::json(&view);
            }
            let rows = letters.iter().map(|d| {
                vec![
                    d.table.name().to_owned(),
                    d.id.to_string(),
                    d.reason.clone(),
                ]
            });
            println!("{}", output::table(&["table", "id", "reason"], rows));
            Ok(())
        }
        MigrateCommand::Cutover {
            db,
            project,
            revert: undo,
            timeout,
            source_api,
            target_api,
            by_rows,
        } => {
            let switch = match (source_api, target_api) {
                (Some(source), Some(target)) if !by_rows => Switch::Api {
                    source: Box::new(ds_api(Release::V13, &source, SOURCE_TOKEN)?),
                    target: Box::new(ds_api(Release::V32, &target, TARGET_TOKEN)?),
                },
                _ => Switch::Rows,
            };
            let target = Target::connect(&db.target.url).await.map_err(to_failure)?;
            if undo {
                let ids = revert(&db.source, &target, &project, &switch)
                    .await
                    .map_err(to_failure)?;
                println!(
                    "reverted {project}: {} source schedules online again, target schedules offline",
                    ids.len()
                );
            } else {
                let wait = Duration::from_secs(timeout);
                let done = cutover(&db.source, &target, &project, wait, &switch)
                    .await
                    .map_err(to_failure)?;
                println!(
                    "cut over {project}: {} source schedules offline, {} target schedules online{}",
                    done.source_schedules.len(),
                    done.target_definitions.len(),
                    if by_rows {
                        " (rows only: start the 3.2 scheduler's triggers through its API before it runs)"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        MigrateCommand::Cleanup { db } => {
            let target = Target::connect(&db.target.url).await.map_err(to_failure)?;
            if db.source.starts_with("postgres") {
                let (slot, publication) = replication_names(&db.target.url);
                cleanup(&db.source, &slot, &publication)
                    .await
                    .map_err(to_failure)?;
                println!("dropped slot {slot} and publication {publication}");
            }
            target.drop_state().await.map_err(to_failure)?;
            println!("dropped the migration state tables");
            Ok(())
        }
    }
}

#[derive(Serialize)]
struct StatusView {
    position: Option<String>,
    source_position: String,
    lag_bytes: Option<u64>,
    projects: Option<Vec<String>>,
    definitions: usize,
    tasks: usize,
    dead_letters: usize,
    /// What the migrator last recorded (`None`: no migrator ever ran on this target).
    phase: Option<&'static str>,
    /// Snapshot rows per source table: written (`done`) and read (`total`).
    snapshot: Vec<TableProgress>,
    lag_seconds: Option<f64>,
    events_per_second: f64,
    events_behind: u64,
    events_applied: u64,
}

impl StatusView {
    fn of(now: &MigrationStatus) -> StatusView {
        let progress = now.runtime.as_ref().map(|r| &r.progress);
        StatusView {
            position: now.position.clone(),
            source_position: now.source_position.clone(),
            lag_bytes: now.lag_bytes,
            projects: now.projects.clone(),
            definitions: now.definitions,
            tasks: now.tasks,
            dead_letters: now.dead_letters,
            phase: progress.map(|p| p.phase.name()),
            snapshot: progress.map(|p| p.snapshot.clone()).unwrap_or_default(),
            lag_seconds: progress.and_then(|p| p.lag_seconds),
            events_per_second: progress.map_or(0.0, |p| p.events_per_second),
            events_behind: progress.map_or(0, |p| p.events_behind),
            events_applied: progress.map_or(0, |p| p.events_applied),
        }
    }

    /// The stream figures on one line.
    fn stream_line(&self) -> String {
        format!(
            "{} · lag {} · {:.0} events/s · {} behind · {} applied · {} dead letters",
            self.phase.unwrap_or("no migrator"),
            self.lag_seconds
                .map_or("unknown".to_owned(), |s| format!("{s:.1} s")),
            self.events_per_second,
            self.events_behind,
            self.events_applied,
            self.dead_letters
        )
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let lag = self
            .lag_bytes
            .map_or("unknown".to_owned(), |b| format!("{b} bytes"));
        let mut rows = vec![
            vec![
                "phase".to_owned(),
                self.phase.unwrap_or("no migrator").to_owned(),
            ],
            vec![
                "position".to_owned(),
                self.position
                    .clone()
                    .unwrap_or_else(|| "snapshot not committed".to_owned()),
            ],
            vec!["source position".to_owned(), self.source_position.clone()],
            vec!["lag".to_owned(), lag],
            vec![
                "lag (seconds)".to_owned(),
                self.lag_seconds
                    .map_or("unknown".to_owned(), |s| format!("{s:.1}")),
            ],
            vec![
                "events/s".to_owned(),
                format!("{:.1}", self.events_per_second),
            ],
            vec!["events behind".to_owned(), self.events_behind.to_string()],
            vec!["events applied".to_owned(), self.events_applied.to_string()],
            vec![
                "projects".to_owned(),
                self.projects
                    .clone()
                    .map_or("all".to_owned(), |p| p.join(", ")),
            ],
            vec!["definitions".to_owned(), self.definitions.to_string()],
            vec!["tasks".to_owned(), self.tasks.to_string()],
            vec!["dead letters".to_owned(), self.dead_letters.to_string()],
        ];
        for table in &self.snapshot {
            rows.push(vec![
                format!("snapshot {}", table.table),
                format!("{}/{}", table.done, table.total),
            ]);
        }
        rows
    }
}

/// One bar per snapshot table (rows written of rows read).
fn snapshot_bars(multi: &MultiProgress, tables: &[TableProgress]) -> Vec<ProgressBar> {
    let style =
        ProgressStyle::with_template("{prefix:<24} [{bar:32}] {pos:>9}/{len:<9} {percent:>3}%")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    tables
        .iter()
        .map(|t| {
            let bar = multi.add(ProgressBar::new(t.total.max(1)));
            bar.set_style(style.clone());
            bar.set_prefix(t.table.clone());
            bar.set_position(t.done.min(t.total));
            if t.total == 0 {
                bar.set_length(0);
            }
            bar
        })
        .collect()
}

/// `migrate status --watch`: bars per snapshot table and the stream figures, refreshed
/// every second until the migrator stops or fails, or Ctrl-C.
async fn watch_status(
    source: &str,
    target: &Target,
    mut view: StatusView,
    to_failure: impl Fn(changeover_migrate::error::MigrateError) -> anyhow::Error,
) -> Result<()> {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
    let mut bars = snapshot_bars(&multi, &view.snapshot);
    let line = multi.add(ProgressBar::new_spinner());
    line.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    loop {
        if bars.len() != view.snapshot.len() {
            for bar in bars.drain(..) {
                multi.remove(&bar);
            }
            bars = snapshot_bars(&multi, &view.snapshot);
        }
        for (bar, table) in bars.iter().zip(&view.snapshot) {
            bar.set_length(table.total);
            bar.set_position(table.done.min(table.total));
        }
        line.set_message(view.stream_line());
        line.tick();
        if matches!(view.phase, Some("stopped" | "failed")) {
            break;
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let now = status(source, target).await.map_err(&to_failure)?;
        view = StatusView::of(&now);
    }
    for bar in bars {
        bar.abandon();
    }
    line.abandon();
    Ok(())
}

#[derive(Serialize)]
struct VerifyView {
    clean: bool,
    definitions: usize,
    counts: Vec<(String, usize, usize)>,
    differences: Vec<String>,
}
