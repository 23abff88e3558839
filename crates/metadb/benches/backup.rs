//! Backup/restore benchmark: changeover versus the dump tools called directly.
//!
//! ```text
//! cargo bench -p changeover-metadb --bench backup -- --size-mb 100 [--engine postgres|mysql] [--runs 2] [--backup-runs N]
//! ```
//! Creates a database of about `--size-mb` MB (default 1024) on the machine's server
//! (generated server-side), backs it up and restores it through changeover (dump +
//! size/structure/SHA-256 checks + manifest; restore re-checks before loading) and with
//! `pg_dump`/`pg_restore` or `mariadb-dump`/`mariadb` directly, then prints durations
//! and changeover's overhead: of the best runs, of the medians, and the median of each
//! run's own ratio (its two sides run back to back, alternating which goes first). Each
//! run also reports the CPU the tools used and the CPU the bench process used (on the
//! changeover side: changeover's own work); the table ends with their medians. On a shared
//! host the tools' CPU time for the same dump moves by 10% between runs, and the wall time
//! with it: that, not changeover, is most of what separates two single runs. The
//! databases are dropped at the end.
//!
//! It needs free disk space for the database, its dumps and (PostgreSQL) the scratch copy
//! a changeover restore builds next to the target: it refuses to start with less than
//! [`DISK_FACTOR`] × `--size-mb` free in the temporary directory, plus, on a MariaDB that
//! writes a binary log, 2 × `--runs` × `--size-mb` for what the restores add to that log
//! (the server keeps it until `PURGE BINARY LOGS`; the generated rows are kept out of it).

use std::process::Command;
use std::time::{Duration, Instant};

use changeover_metadb::{
    BackupRequest, BackupSession, BackupStatus, DbTarget, DumpOptions, Engine,
    finish_background_drops, restore,
};

const DEFAULT_SIZE_MB: u64 = 1024;
/// Bytes per generated row (id + 4 md5 hex strings + overhead), to size the table.
const ROW_BYTES: u64 = 190;
/// Free disk space needed, in multiples of the database size: the database, two dumps,
/// the restore's scratch copy and the server's write-ahead log (the server's data
/// directory and the temporary directory are assumed to share a disk).
const DISK_FACTOR: u64 = 5;

/// Free bytes on the file system holding `dir` (`df`).
fn free_bytes(dir: &std::path::Path) -> Result<u64, String> {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run df: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("cannot read df's output: {text:?}"))
}

struct Args {
    size_mb: u64,
    engine: Engine,
    /// Each phase runs this many times, alternating direct and changeover; the best counts.
    runs: u32,
    /// The backup phase's runs, when not `runs` (to repeat only the restores).
    backup_runs: Option<u32>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        size_mb: DEFAULT_SIZE_MB,
        engine: Engine::Postgres,
        runs: 2,
        backup_runs: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--size-mb" => {
                let v = it.next().ok_or("--size-mb needs a number")?;
                a.size_mb = v
                    .parse()
                    .map_err(|_| format!("--size-mb `{v}` is not a number"))?;
            }
            "--runs" => {
                let v = it.next().ok_or("--runs needs a number")?;
                a.runs = v
                    .parse::<u32>()
                    .map_err(|_| format!("--runs `{v}` is not a number"))?
                    .max(1);
            }
            "--backup-runs" => {
                let v = it.next().ok_or("--backup-runs needs a number")?;
                a.backup_runs = Some(
                    v.parse::<u32>()
                        .map_err(|_| format!("--backup-runs `{v}` is not a number"))?
                        .max(1),
                );
            }
            "--engine" => match it.next().as_deref() {
                Some("postgres") => a.engine = Engine::Postgres,
                Some("mysql" | "mariadb") => a.engine = Engine::Mysql,
                other => return Err(format!("--engine {other:?}: use postgres or mysql")),
            },
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    Ok(a)
}

fn sh(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn psql(db: &str, sql: &str) -> Result<(), String> {
    sh(Command::new("psql").args([
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-qAt",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        db,
        "-c",
        sql,
    ]))
}

fn mariadb(db: &str, sql: &str) -> Result<(), String> {
    sh(Command::new("mariadb").args(["-h127.0.0.1", "-uroot", "--protocol=tcp", db, "-e", sql]))
}

/// Whether the local MariaDB writes a binary log (`@@log_bin`).
fn mariadb_binlog_on() -> bool {
    Command::new("mariadb")
        .args([
            "-h127.0.0.1",
            "-uroot",
            "--protocol=tcp",
            "-N",
            "-B",
            "-e",
            "SELECT @@log_bin",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "1")
        .unwrap_or(false)
}

/// Creates the bench database. PostgreSQL's table has autovacuum off (a storage parameter,
/// so every restored copy has it off too): a freshly restored copy of 5.6 million rows is
/// vacuumed and analysed by autovacuum a little later, inside the next timed run (a direct
/// restore drops the copy first, which ends the vacuum; changeover replaces it at the end).
fn create(engine: Engine, name: &str, size_mb: u64) -> Result<(), String> {
    let rows = size_mb * 1024 * 1024 / ROW_BYTES;
    match engine {
        Engine::Postgres => {
            psql("postgres", &format!("CREATE DATABASE {name}"))?;
            psql(
                name,
                &format!(
                    "CREATE TABLE bench (id BIGINT PRIMARY KEY, a TEXT, b TEXT, c TEXT, d TEXT) WITH (autovacuum_enabled = false); \
                 INSERT INTO bench SELECT g, md5(g || 'a'), md5(g || 'b'), md5(g || 'c'), md5(g || 'd') \
                 FROM generate_series(1, {rows}) g"
                ),
            )
        }
        _ => {
            mariadb("", &format!("CREATE DATABASE {name}"))?;
            mariadb(
                name,
                "CREATE TABLE bench (id BIGINT PRIMARY KEY, a CHAR(32), b CHAR(32), c CHAR(32), d CHAR(32))",
            )?;
            // Doublings from one row: INSERT … SELECT until the row count is reached.
            mariadb(
                name,
                "INSERT INTO bench VALUES (1, MD5('1a'), MD5('1b'), MD5('1c'), MD5('1d'))",
            )?;
            let mut have = 1u64;
            while have < rows {
                let add = have.min(rows - have);
                // The generated rows stay out of the binary log (untimed set-up; it
                // would otherwise hold another copy of the database).
                mariadb(
                    name,
                    &format!(
                        "SET SESSION sql_log_bin = 0; INSERT INTO bench SELECT id + {have}, MD5(CONCAT(id + {have}, 'a')), MD5(CONCAT(id + {have}, 'b')), \
                     MD5(CONCAT(id + {have}, 'c')), MD5(CONCAT(id + {have}, 'd')) FROM bench WHERE id <= {add}"
                    ),
                )?;
                have += add;
            }
            Ok(())
        }
    }
}

fn drop_db(engine: Engine, name: &str) {
    let _ = match engine {
        Engine::Postgres => psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        ),
        _ => mariadb("", &format!("DROP DATABASE IF EXISTS {name}")),
    };
}

/// PostgreSQL: a `CHECKPOINT`, untimed, writes out what earlier runs left dirty, so that
/// no timed run pays for the one before it (a `DROP DATABASE` forces a checkpoint, which
/// would otherwise write out the previous run's restore). MariaDB: nothing (no statement
/// forces InnoDB's flush short of changing the shared server's settings).
fn settle(engine: Engine) -> Result<(), String> {
    match engine {
        Engine::Postgres => psql("postgres", "CHECKPOINT"),
        _ => Ok(()),
    }
}

/// The median of sorted, non-empty `runs` (the mean of the middle two for an even count).
fn median(runs: &[Duration]) -> Duration {
    let mid = runs.len() / 2;
    if runs.len() % 2 == 1 {
        runs[mid]
    } else {
        (runs[mid - 1] + runs[mid]) / 2
    }
}

fn time(f: impl FnOnce() -> Result<(), String>) -> Result<Duration, String> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed())
}

/// CPU seconds used so far by this process and by its waited-for children (the tools),
/// from `/proc/self/stat`; zeros where it cannot be read.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name, which may hold spaces: the state is
    // field 3, then utime 14, stime 15, cutime 16, cstime 17 (proc(5)).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let hz = rustix::param::clock_ticks_per_second() as f64;
    ((field(14) + field(15)) / hz, (field(16) + field(17)) / hz)
}

/// CPU seconds one timed run used: the tools it waited for, and the bench process itself
/// (changeover's own work, on the changeover side).
#[derive(Clone, Copy)]
struct Cpu {
    tools: f64,
    own: f64,
}

impl std::fmt::Display for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cpu: tools {:.2} s, changeover/bench {:.2} s",
            self.tools, self.own
        )
    }
}

/// Times `f`, and measures the CPU the bench itself and the tools it waited for used.
fn time_cpu(f: impl FnOnce() -> Result<(), String>) -> Result<(Duration, Cpu), String> {
    let (own, tools) = cpu_seconds();
    let took = time(f)?;
    let (own2, tools2) = cpu_seconds();
    Ok((
        took,
        Cpu {
            tools: tools2 - tools,
            own: own2 - own,
        },
    ))
}

/// The median of non-empty `values`.
fn median_f64(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn direct_backup(engine: Engine, db: &str, file: &std::path::Path) -> Result<(), String> {
    match engine {
        Engine::Postgres => sh(Command::new("pg_dump")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "--format=custom",
                "--file",
            ])
            .arg(file)
            .arg(db)),
        _ => sh(Command::new("mariadb-dump")
            .args([
                "-h127.0.0.1",
                "-uroot",
                "--protocol=tcp",
                "--single-transaction",
                "--routines",
                "--events",
                "--triggers",
                "--no-tablespaces",
            ])
            .arg(format!("--result-file={}", file.display()))
            .arg(db)),
    }
}

fn direct_restore(engine: Engine, db: &str, file: &std::path::Path) -> Result<(), String> {
    let t0 = Instant::now();
    drop_db(engine, db);
    tracing::debug!(
        elapsed_ms = t0.elapsed().as_millis() as u64,
        "direct restore: dropped"
    );
    match engine {
        Engine::Postgres => {
            psql("postgres", &format!("CREATE DATABASE {db}"))?;
            tracing::debug!(
                elapsed_ms = t0.elapsed().as_millis() as u64,
                "direct restore: created"
            );
            sh(Command::new("pg_restore")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "--exit-on-error",
                    "--jobs",
                    "2",
                    "--dbname",
                    db,
                ])
                .arg(file))
        }
        _ => {
            mariadb("", &format!("CREATE DATABASE {db}"))?;
            let input = std::fs::File::open(file).map_err(|e| e.to_string())?;
            sh(Command::new("mariadb")
                .args(["-h127.0.0.1", "-uroot", "--protocol=tcp", db])
                .stdin(input))
        }
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let a = args()?;
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let name = format!("changeover_bench_{:08x}", rand::random::<u32>());
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let free = free_bytes(work.path())?;
    // With MariaDB's binary log on, every timed restore (2 × --runs) leaves about one more
    // copy of the database in the log, which the server keeps until it is purged.
    let binlog_copies = if a.engine == Engine::Mysql && mariadb_binlog_on() {
        2 * u64::from(a.runs)
    } else {
        0
    };
    let factor = DISK_FACTOR + binlog_copies;
    let need = a.size_mb * factor * 1024 * 1024;
    if free < need {
        return Err(format!(
            "{} has {} MB free; a ~{} MB benchmark needs {} MB ({factor} × --size-mb, of which {binlog_copies} × for the server's binary log): free some space or pass a smaller --size-mb or --runs",
            work.path().display(),
            free / 1048576,
            a.size_mb,
            need / 1048576
        ));
    }
    if binlog_copies > 0 {
        eprintln!(
            "note: the server's binary log is on; the restores add about {} MB to it (reclaim with PURGE BINARY LOGS once no reader needs them)",
            a.size_mb * binlog_copies
        );
    }
    eprintln!(
        "creating {} database {name} of ~{} MB …",
        a.engine, a.size_mb
    );
    let t = Instant::now();
    let r = (|| {
        create(a.engine, &name, a.size_mb)?;
        eprintln!("created in {:.1} s", t.elapsed().as_secs_f64());
        let url = match a.engine {
            Engine::Postgres => format!("postgres://postgres@127.0.0.1:5432/{name}"),
            _ => format!("mysql://root@127.0.0.1:3306/{name}"),
        };
        let target = DbTarget::parse(&url).map_err(|e| e.to_string())?;
        let direct_file = work.path().join("direct.dump");
        let dir = work.path().join("changeover");

        let (mut direct_dump, mut co_dump, mut direct_load, mut co_load) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // The CPU of each run, per phase and side: [backup, restore] × [direct, changeover].
        let mut cpu: [[Vec<Cpu>; 2]; 2] = Default::default();
        let mut co_drop = Duration::ZERO;
        let mut manifest = None;
        // Runs alternate which of the two goes first.
        for run in 0..a.backup_runs.unwrap_or(a.runs) {
            for changeover in [run % 2 == 1, run % 2 == 0] {
                settle(a.engine)?;
                if !changeover {
                    // Each side writes a new file: overwriting the last run's would make
                    // the direct run free its blocks inside the timing.
                    let _ = std::fs::remove_file(&direct_file);
                    let (took, used) = time_cpu(|| direct_backup(a.engine, &name, &direct_file))?;
                    eprintln!(
                        "run {}: backup direct {:.2} s ({used})",
                        run + 1,
                        took.as_secs_f64()
                    );
                    direct_dump.push(took);
                    cpu[0][0].push(used);
                    continue;
                }
                let _ = std::fs::remove_dir_all(&dir);
                let (took, used) = time_cpu(|| {
                    rt.block_on(async {
                        let s = BackupSession::new(
                            &dir,
                            Some("bench"),
                            vec![BackupRequest::new("bench", target.clone())],
                        )
                        .map_err(|e| e.to_string())?;
                        s.start_all();
                        s.wait().await;
                        let item = s.items().remove(0);
                        if item.status != BackupStatus::Complete {
                            return Err(format!("changeover backup failed: {:?}", item.error));
                        }
                        manifest = item.manifest;
                        Ok(())
                    })
                })?;
                eprintln!(
                    "run {}: backup changeover {:.2} s ({used})",
                    run + 1,
                    took.as_secs_f64()
                );
                co_dump.push(took);
                cpu[0][1].push(used);
            }
        }
        let manifest = manifest.ok_or("no manifest")?;
        for run in 0..a.runs {
            for changeover in [run % 2 == 1, run % 2 == 0] {
                settle(a.engine)?;
                if !changeover {
                    let (took, used) = time_cpu(|| direct_restore(a.engine, &name, &direct_file))?;
                    eprintln!(
                        "run {}: restore direct {:.2} s ({used})",
                        run + 1,
                        took.as_secs_f64()
                    );
                    direct_load.push(took);
                    cpu[1][0].push(used);
                    continue;
                }
                let (took, used) = time_cpu(|| {
                    rt.block_on(restore(&dir, &manifest, &target, &DumpOptions::default()))
                        .map_err(|e| e.to_string())
                })?;
                // The replaced database is dropped in the background once the restore is
                // complete; the next run starts only after that drop, untimed.
                let drop = time(|| {
                    rt.block_on(finish_background_drops());
                    Ok(())
                })?;
                eprintln!(
                    "run {}: restore changeover {:.2} s (then {:.2} s dropping the replaced database; {used})",
                    run + 1,
                    took.as_secs_f64(),
                    drop.as_secs_f64()
                );
                if co_load.iter().all(|&best| took < best) {
                    co_drop = drop;
                }
                co_load.push(took);
                cpu[1][1].push(used);
            }
        }
        let size = std::fs::metadata(&direct_file)
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "engine {}  database ~{} MB  dump file {:.1} MB",
            a.engine,
            a.size_mb,
            size as f64 / 1048576.0
        );
        println!(
            "{:<10} {:>5} {:>11} {:>11} {:>9} {:>11} {:>11} {:>9} {:>9}",
            "phase",
            "runs",
            "best dir.",
            "best c/o",
            "overhead",
            "median dir.",
            "median c/o",
            "overhead",
            "paired"
        );
        for (phase, d, c) in [
            ("backup", &mut direct_dump, &mut co_dump),
            ("restore", &mut direct_load, &mut co_load),
        ] {
            let over = |c: Duration, d: Duration| (c.as_secs_f64() / d.as_secs_f64() - 1.0) * 100.0;
            // Each run's two sides ran back to back: the median of their ratios cancels
            // what drifts between runs (a host's other load, the page cache).
            let paired = median_f64(d.iter().zip(c.iter()).map(|(&d, &c)| over(c, d)).collect());
            d.sort();
            c.sort();
            let (db, cb, dm, cm) = (d[0], c[0], median(d), median(c));
            println!(
                "{phase:<10} {:>5} {:>11.2} {:>11.2} {:>8.1}% {:>11.2} {:>11.2} {:>8.1}% {:>8.1}%",
                d.len(),
                db.as_secs_f64(),
                cb.as_secs_f64(),
                over(cb, db),
                dm.as_secs_f64(),
                cm.as_secs_f64(),
                over(cm, dm),
                paired
            );
        }
        // The tools' CPU moves with the machine's speed from run to run; what changeover
        // itself used is its own cost, whatever the machine does meanwhile.
        println!(
            "median CPU per run: the tools directly / the tools under changeover / changeover itself"
        );
        for (phase, [d, c]) in ["backup", "restore"].iter().zip(&cpu) {
            let tools = |runs: &[Cpu]| median_f64(runs.iter().map(|r| r.tools).collect());
            println!(
                "{phase:<10} {:>8.2} s {:>8.2} s {:>8.2} s",
                tools(d),
                tools(c),
                median_f64(c.iter().map(|r| r.own).collect())
            );
        }
        if a.engine == Engine::Postgres {
            println!(
                "(changeover restore: then {:.2} s dropping the replaced database in the background)",
                co_drop.as_secs_f64()
            );
        }
        Ok(())
    })();
    drop_db(a.engine, &name);
    r
}
