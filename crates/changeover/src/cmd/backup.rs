//! `changeover backup …`: back up, list, verify and restore metadata databases
//! (PostgreSQL, MySQL/MariaDB, SQLite) with `changeover-metadb`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use changeover_core::bundle::MAX_DUMP_JOBS;
use changeover_metadb::{
    BackupItemView, BackupRequest, BackupSession, BackupSet, BackupStatus, DbTarget, DumpOptions,
    Engine, MANIFEST_FILE, PgFormat, TableChecksum, list_backups, restore_set, verify,
};
use clap::{Subcommand, ValueHint};
use serde::Serialize;

use crate::context::Context;
use crate::failure::{bad_input, failed};
use crate::output;

/// Where backups go when `--dir` is not given (relative to the working directory).
const DEFAULT_BACKUP_ROOT: &str = ".changeover/backups";
/// How often a running backup prints its progress to stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, clap::Args)]
#[command(
    about = "Back up, list, verify and restore metadata databases",
    long_about = "Back up, list, verify and restore the platform's metadata databases \
                  (PostgreSQL with pg_dump, MySQL/MariaDB with mariadb-dump, SQLite online). Each \
                  backup directory holds one dump per database and a manifest.json with sizes, \
                  SHA-256 checksums, server and tool versions. Passwords never appear on command \
                  lines, in logs or in manifests.",
    after_help = "Examples:\n  changeover backup run --db postgres://app:secret@127.0.0.1/meta --upgrade up-42\n  changeover backup list\n  changeover backup verify up-42 --db meta=postgres://app:secret@127.0.0.1/meta\n  changeover backup restore up-42 --db meta=postgres://app:secret@127.0.0.1/meta --yes"
)]
pub struct Args {
    #[command(subcommand)]
    command: BackupCommand,
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Back up one or more databases into a new backup directory.
    #[command(
        after_help = "Examples:\n  changeover backup run --db sqlite:///var/lib/platform/meta.db\n  changeover backup run --db meta=postgres://app@db/meta --db jobs=mysql://root@db/jobs --upgrade up-42\n  changeover backup run --db meta=postgres://app@db/meta --format directory --jobs 4"
    )]
    Run {
        /// A database: URL or NAME=URL (postgres://, mysql://, mariadb://, sqlite://). Repeatable.
        #[arg(long = "db", required = true, value_name = "URL")]
        db: Vec<String>,
        /// Root directory of backups.
        #[arg(long, value_hint = ValueHint::DirPath)]
        dir: Option<PathBuf>,
        /// The upgrade this backup belongs to (names the directory); ad-hoc when absent.
        #[arg(long, value_name = "ID")]
        upgrade: Option<String>,
        /// MySQL/MariaDB: leave triggers out of the dump.
        #[arg(long)]
        skip_triggers: bool,
        /// PostgreSQL: `custom` (one file) or `directory` (one file per table, dumped by
        /// --jobs parallel connections).
        #[arg(long, value_enum, default_value_t = PgDumpFormat::Custom)]
        format: PgDumpFormat,
        /// PostgreSQL: parallel jobs of a directory dump (each is a connection to the server).
        #[arg(long, value_name = "N", default_value_t = DumpOptions::default().jobs,
              value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DUMP_JOBS)))]
        jobs: u32,
    },
    /// List backup directories, newest first.
    #[command(
        after_help = "Examples:\n  changeover backup list\n  changeover backup list --dir /srv/changeover/backups --json"
    )]
    List {
        /// Root directory of backups.
        #[arg(long, value_hint = ValueHint::DirPath)]
        dir: Option<PathBuf>,
    },
    /// Restore a backup into scratch databases and compare every table with the source.
    #[command(
        after_help = "Examples:\n  changeover backup verify up-42\n  changeover backup verify ./.changeover/backups/up-42 --db meta=postgres://app:secret@db/meta"
    )]
    Verify {
        /// Backup id (directory name under the root) or path to its directory or manifest.json.
        backup: String,
        /// NAME=URL of a source to compare with (needed when the manifest's URL had a password).
        #[arg(long = "db", value_name = "NAME=URL")]
        db: Vec<String>,
        /// Root directory of backups.
        #[arg(long, value_hint = ValueHint::DirPath)]
        dir: Option<PathBuf>,
    },
    /// Replace databases with a backup (every dump is checked before any database is touched).
    #[command(
        after_help = "Examples:\n  changeover backup restore up-42 --yes\n  changeover backup restore up-42 --db meta=postgres://app:secret@db/meta --yes"
    )]
    Restore {
        /// Backup id (directory name under the root) or path to its directory or manifest.json.
        backup: String,
        /// NAME=URL: where to restore database NAME (default: where it was backed up from).
        #[arg(long = "db", value_name = "NAME=URL")]
        db: Vec<String>,
        /// Root directory of backups.
        #[arg(long, value_hint = ValueHint::DirPath)]
        dir: Option<PathBuf>,
        /// Confirm that the databases' current content is replaced.
        #[arg(long)]
        yes: bool,
    },
}

/// `backup run --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PgDumpFormat {
    Custom,
    Directory,
}

fn root(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| PathBuf::from(DEFAULT_BACKUP_ROOT))
}

/// `URL` or `NAME=URL` → (name, target). The default name is the database name (SQLite: file stem).
fn parse_db(spec: &str) -> Result<(String, DbTarget)> {
    let (name, url) = match spec.split_once('=') {
        Some((n, u)) if !n.contains(':') && !n.contains('/') => (Some(n.to_owned()), u),
        _ => (None, spec),
    };
    let target = DbTarget::parse(url).map_err(|e| {
        bad_input(
            e.to_string(),
            "use postgres://user:pass@host:5432/db, mysql://user:pass@host:3306/db or sqlite:///path/file.db, optionally as NAME=URL",
        )
    })?;
    let name = name.unwrap_or_else(|| match target.engine {
        Engine::Sqlite => target
            .sqlite_path()
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sqlite".into()),
        _ => target.database.clone(),
    });
    Ok((name, target))
}

/// A backup id or a path → its directory.
fn resolve(backup: &str, dir: Option<PathBuf>) -> Result<PathBuf> {
    let p = Path::new(backup);
    let d = if p.file_name().is_some_and(|f| f == MANIFEST_FILE) && p.is_file() {
        p.parent().map(Path::to_path_buf).unwrap_or_default()
    } else if p.is_dir() {
        p.to_path_buf()
    } else {
        root(dir).join(backup)
    };
    if !d.join(MANIFEST_FILE).is_file() {
        return Err(bad_input(
            format!(
                "no backup `{backup}`: {} has no {MANIFEST_FILE}",
                d.display()
            ),
            "see `changeover backup list` (add --dir if the backups are elsewhere)",
        ));
    }
    Ok(d)
}

/// The targets of a backup set: `--db NAME=URL` overrides, else the manifest's source URL
/// (refused when it was redacted: the password is not stored).
fn targets(set: &BackupSet, overrides: &[String]) -> Result<Vec<(String, DbTarget)>> {
    let mut given = Vec::new();
    for o in overrides {
        let (n, t) = parse_db(o)?;
        if set.get(&n).is_none() {
            return Err(bad_input(
                format!(
                    "the backup has no database `{n}`; it has: {}",
                    set.databases
                        .iter()
                        .map(|m| m.database.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "name a database of the backup in --db NAME=URL",
            ));
        }
        given.push((n, t));
    }
    let mut out = Vec::new();
    for m in &set.databases {
        if let Some((_, t)) = given.iter().find(|(n, _)| *n == m.database) {
            out.push((m.database.clone(), t.clone()));
        } else if m.source.contains(":***@") {
            return Err(bad_input(
                format!(
                    "the URL of `{}` had a password, which backups never store",
                    m.database
                ),
                format!("pass --db {}=URL with the password", m.database),
            ));
        } else {
            out.push(parse_db(&format!("{}={}", m.database, m.source))?);
        }
    }
    Ok(out)
}

#[derive(Serialize)]
struct RunOutput {
    dir: PathBuf,
    databases: Vec<BackupItemView>,
}

/// A library error of a backup operation, with what to do next.
fn metadb_failure(e: changeover_metadb::Error) -> anyhow::Error {
    use changeover_metadb::Error as E;
    let hint = match &e {
        E::Url { .. } | E::Unknown { .. } | E::Manifest { .. } => {
            "check the backup id and the --db arguments"
        }
        E::DumpInvalid { .. } => {
            "this backup cannot be used; take a new one with `changeover backup run`"
        }
        E::ToolMissing { .. } => {
            "install the PostgreSQL or MariaDB client tools (pg_dump, pg_restore, mariadb-dump, mariadb)"
        }
        E::Connect { .. } => {
            "check that the database server runs and that the URL, user and password are right"
        }
        _ => "run again with -v for details",
    };
    failed(e.to_string(), hint)
}

pub async fn run(args: Args, ctx: &Context) -> Result<()> {
    let json = ctx.json;
    match args.command {
        BackupCommand::Run {
            db,
            dir,
            upgrade,
            skip_triggers,
            format,
            jobs,
        } => {
            let mut requests = Vec::new();
            for spec in &db {
                let (name, target) = parse_db(spec)?;
                if format == PgDumpFormat::Directory && target.engine != Engine::Postgres {
                    return Err(bad_input(
                        format!(
                            "--format directory is a PostgreSQL option but `{name}` is {}",
                            target.engine
                        ),
                        "back up PostgreSQL and other databases in separate runs, or leave --format out",
                    ));
                }
                let mut r = BackupRequest::new(name, target);
                r.options = DumpOptions {
                    triggers: !skip_triggers,
                    jobs,
                    pg_format: match format {
                        PgDumpFormat::Custom => PgFormat::Custom,
                        PgDumpFormat::Directory => PgFormat::Directory { jobs },
                    },
                };
                requests.push(r);
            }
            let leaf = changeover_metadb::backup_leaf(upgrade.as_deref()).map_err(|e| {
                bad_input(
                    e.to_string(),
                    "use an upgrade id of letters, digits, `_`, `-` or `.`",
                )
            })?;
            let out_dir = root(dir).join(leaf);
            let session = BackupSession::new(&out_dir, upgrade.as_deref(), requests)
                .map_err(|e| bad_input(e.to_string(), "give each --db a distinct NAME=URL"))?;
            session.start_all();
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                let items = session.items();
                if items.iter().all(|i| !i.status.is_running()) {
                    break;
                }
                for i in items.iter().filter(|i| i.status.is_running()) {
                    eprintln!(
                        "{}: {} ({} bytes written)",
                        i.database,
                        i.status.label(),
                        i.bytes
                    );
                }
            }
            session.wait().await;
            let items = session.items();
            let bad: Vec<String> = items
                .iter()
                .filter(|i| i.status != BackupStatus::Complete)
                .map(|i| {
                    format!(
                        "{}: {}",
                        i.database,
                        i.error.clone().unwrap_or_else(|| i.status.label().into())
                    )
                })
                .collect();
            if json {
                output::json(&RunOutput {
                    dir: out_dir.clone(),
                    databases: items,
                })?;
            } else {
                println!("backup directory: {}", out_dir.display());
                let rows = items.iter().map(|i| {
                    let sha = i
                        .manifest
                        .as_ref()
                        .map(|m| output::short_digest(&m.sha256).to_owned())
                        .unwrap_or_default();
                    vec![
                        i.database.clone(),
                        i.status.label().to_owned(),
                        i.bytes.to_string(),
                        sha,
                    ]
                });
                println!(
                    "{}",
                    output::table(&["database", "status", "bytes", "sha256"], rows)
                );
            }
            if !bad.is_empty() {
                return Err(failed(
                    format!("backup failed for {}", bad.join("; ")),
                    "fix the cause, then run the backup again (completed databases are kept)",
                ));
            }
            Ok(())
        }
        BackupCommand::List { dir } => {
            let sets = list_backups(&root(dir)).map_err(metadb_failure)?;
            if json {
                let v: Vec<_> = sets
                    .iter()
                    .map(|(d, s)| serde_json::json!({ "dir": d, "backup": s }))
                    .collect();
                output::json(&v)?;
            } else {
                let mut rows = Vec::new();
                for (d, s) in &sets {
                    let id = d
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    for m in &s.databases {
                        rows.push(vec![
                            id.clone(),
                            m.database.clone(),
                            m.engine.as_str().to_owned(),
                            m.size_bytes.to_string(),
                            output::short_digest(&m.sha256).to_owned(),
                            output::when(m.finished_at),
                        ]);
                    }
                }
                println!(
                    "{}",
                    output::table(
                        &["id", "database", "engine", "bytes", "sha256", "finished"],
                        rows
                    )
                );
            }
            Ok(())
        }
        BackupCommand::Verify { backup, db, dir } => {
            let d = resolve(&backup, dir)?;
            let set = BackupSet::read(&d).map_err(metadb_failure)?;
            let mut reports = Vec::new();
            for (name, target) in targets(&set, &db)? {
                let Some(m) = set.get(&name) else { continue };
                reports.push(
                    verify(&d, m, &target, &DumpOptions::default())
                        .await
                        .map_err(metadb_failure)?,
                );
            }
            let bad: Vec<String> = reports
                .iter()
                .flat_map(|r| {
                    r.differences()
                        .into_iter()
                        .map(move |x| format!("{}: {x}", r.database))
                })
                .collect();
            if json {
                output::json(&reports)?;
            } else {
                let count = |c: &Option<TableChecksum>| {
                    c.as_ref().map_or("-".into(), |c| c.rows.to_string())
                };
                let rows = reports.iter().flat_map(|r| {
                    r.tables.iter().map(move |t| {
                        vec![
                            r.database.clone(),
                            t.table.clone(),
                            count(&t.source),
                            count(&t.restored),
                            if t.equal() { "same" } else { "DIFFERENT" }.to_owned(),
                        ]
                    })
                });
                println!(
                    "{}",
                    output::table(
                        &["database", "table", "source rows", "backup rows", "result"],
                        rows
                    )
                );
            }
            if !bad.is_empty() {
                return Err(failed(
                    format!("the backup differs from the source: {}", bad.join("; ")),
                    "the source changed since the backup, or the backup is not what it should be; take a new backup",
                ));
            }
            Ok(())
        }
        BackupCommand::Restore {
            backup,
            db,
            dir,
            yes,
        } => {
            let d = resolve(&backup, dir)?;
            let set = BackupSet::read(&d).map_err(metadb_failure)?;
            let targets = targets(&set, &db)?;
            if !yes {
                return Err(bad_input(
                    format!(
                        "restore replaces the content of {}",
                        targets
                            .iter()
                            .map(|(n, t)| format!("{n} ({t})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "add --yes to confirm",
                ));
            }
            restore_set(&d, &targets, &DumpOptions::default())
                .await
                .map_err(metadb_failure)?;
            if json {
                let v: Vec<_> = targets
                    .iter()
                    .map(|(n, t)| serde_json::json!({ "database": n, "target": t.redacted() }))
                    .collect();
                output::json(&v)?;
            } else {
                for (n, t) in &targets {
                    println!("restored {n} into {t}");
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message and the hint of a command error.
    fn explain(e: &anyhow::Error) -> String {
        match e.downcast_ref::<crate::failure::Failure>() {
            Some(f) => format!("{} / hint: {}", f.what, f.hint),
            None => e.to_string(),
        }
    }

    #[test]
    fn parses_db_specs_with_and_without_names() {
        let (n, t) = parse_db("postgres://u:pw@h/meta").unwrap();
        assert_eq!((n.as_str(), t.engine), ("meta", Engine::Postgres));
        let (n, _) = parse_db("jobs=mysql://root@h/j").unwrap();
        assert_eq!(n, "jobs");
        let (n, t) = parse_db("sqlite:///var/lib/x/meta.db").unwrap();
        assert_eq!((n.as_str(), t.engine), ("meta", Engine::Sqlite));
        let e = parse_db("oracle://h/x").unwrap_err().to_string();
        assert!(e.contains("unknown scheme"), "{e}");
    }

    #[tokio::test]
    async fn run_list_verify_restore_a_sqlite_database() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("meta.db");
        let url = format!("sqlite://{}", db.display());
        {
            use std::process::Command;
            let ok = Command::new("sqlite3")
                .arg(&db)
                .arg("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b');")
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let root_dir = Some(tmp.path().join("backups"));
        let cmd = |command| Args { command };
        let ctx = Context::new(&crate::cli::Global {
            config: None,
            store: None,
            json: true,
            server: None,
            token: None,
            verbose: 0,
        })
        .unwrap();
        run(
            cmd(BackupCommand::Run {
                db: vec![url.clone()],
                dir: root_dir.clone(),
                upgrade: Some("up-7".into()),
                skip_triggers: false,
                format: PgDumpFormat::Custom,
                jobs: DumpOptions::default().jobs,
            }),
            &ctx,
        )
        .await
        .unwrap();
        let set = BackupSet::read(&tmp.path().join("backups/up-7")).unwrap();
        assert_eq!(set.databases[0].database, "meta");
        run(
            cmd(BackupCommand::List {
                dir: root_dir.clone(),
            }),
            &ctx,
        )
        .await
        .unwrap();
        run(
            cmd(BackupCommand::Verify {
                backup: "up-7".into(),
                db: vec![],
                dir: root_dir.clone(),
            }),
            &ctx,
        )
        .await
        .unwrap();
        std::process::Command::new("sqlite3")
            .arg(&db)
            .arg("DELETE FROM t")
            .status()
            .unwrap();
        let refused = run(
            cmd(BackupCommand::Restore {
                backup: "up-7".into(),
                db: vec![],
                dir: root_dir.clone(),
                yes: false,
            }),
            &ctx,
        )
        .await
        .unwrap_err();
        assert!(explain(&refused).contains("add --yes"), "{refused}");
        run(
            cmd(BackupCommand::Restore {
                backup: "up-7".into(),
                db: vec![],
                dir: root_dir.clone(),
                yes: true,
            }),
            &ctx,
        )
        .await
        .unwrap();
        let out = std::process::Command::new("sqlite3")
            .arg(&db)
            .arg("SELECT count(*) FROM t")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
        let missing = run(
            cmd(BackupCommand::Verify {
                backup: "nope".into(),
                db: vec![],
                dir: root_dir,
            }),
            &ctx,
        )
        .await
        .unwrap_err();
        assert!(
            missing.to_string().contains("no backup `nope`"),
            "{missing}"
        );
    }

    #[test]
    fn a_redacted_source_needs_an_explicit_url() {
        let set: BackupSet = serde_json::from_value(serde_json::json!({
            "format": "changeover-backup/v1", "upgrade_id": null,
            "databases": [{
                "database": "meta", "engine": "postgres", "source": "postgres://app:***@h:5432/meta",
                "server_version": "15", "file": "meta.dump", "size_bytes": 1, "sha256": "00",
                "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:00Z",
                "upgrade_id": null, "tool": "pg_dump", "tool_version": "15", "pruned": []
            }]
        }))
        .unwrap();
        let e = explain(&targets(&set, &[]).unwrap_err());
        assert!(e.contains("pass --db meta=URL"), "{e}");
        let t = targets(&set, &["meta=postgres://app:pw@h/meta".into()]).unwrap();
        assert_eq!(t[0].1.password.as_ref().map(|p| p.expose()), Some("pw"));
    }
}
