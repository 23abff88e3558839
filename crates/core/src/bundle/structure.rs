//! Structural checks of a manifest. Each issue names its path
//! (`applications[1].health.timeout_ms`).

use std::collections::{BTreeMap, BTreeSet};

use super::manifest::{Application, Database, DumpSettings, Engine, MAX_DUMP_JOBS, Manifest};
use super::placeholder::{Placeholder, scan};
use super::validate::Issue;

/// Signals a `stack_dump_signal` may name.
pub const STACK_DUMP_SIGNALS: &[&str] = &["SIGQUIT", "SIGUSR1", "SIGUSR2"];

/// HTTP methods a hook may use.
pub const HOOK_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

struct Checker<'a> {
    manifest: &'a Manifest,
    keys: BTreeSet<&'a str>,
    issues: Vec<Issue>,
}

impl Checker<'_> {
    fn issue(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.issues.push(Issue::new(path, message));
    }

    fn placeholders(&mut self, path: &str, text: &str, port: bool) {
        match scan(text) {
            Err(message) => self.issue(path, message),
            Ok(found) => {
                for p in found {
                    match p {
                        Placeholder::Port if !port => {
                            self.issue(path, "{port} is used but no port is declared here")
                        }
                        Placeholder::Config(key) if !self.keys.contains(key.as_str()) => self
                            .issue(
                                path,
                                format!("{{config.{key}}} names no item of the template"),
                            ),
                        _ => {}
                    }
                }
            }
        }
    }

    fn command(&mut self, path: &str, command: &[String], port: bool) {
        if command.is_empty() || command[0].trim().is_empty() {
            self.issue(
                path,
                "the command is empty; give the program and its arguments",
            );
        }
        for (i, arg) in command.iter().enumerate() {
            self.placeholders(&format!("{path}[{i}]"), arg, port);
        }
    }

    fn dump(&mut self, path: &str, dump: &DumpSettings, db: &Database) {
        let pg_only = [
            ("format", dump.format.is_some()),
            ("jobs", dump.jobs.is_some()),
        ];
        for (field, given) in pg_only {
            if given && db.engine != Engine::Postgres {
                self.issue(
                    format!("{path}.{field}"),
                    format!(
                        "`{field}` is a PostgreSQL option but database {:?} is {}",
                        db.name,
                        db.engine.name()
                    ),
                );
            }
        }
        if dump.triggers.is_some() && db.engine != Engine::Mysql {
            self.issue(
                format!("{path}.triggers"),
                format!(
                    "`triggers` is a MySQL/MariaDB option but database {:?} is {}",
                    db.name,
                    db.engine.name()
                ),
            );
        }
        match dump.jobs {
            Some(0) => self.issue(
                format!("{path}.jobs"),
                "0 jobs; give 1 or more parallel jobs",
            ),
            Some(n) if n > MAX_DUMP_JOBS => self.issue(
                format!("{path}.jobs"),
                format!(
                    "{n} jobs is more than {MAX_DUMP_JOBS}; each job is a connection to the server"
                ),
            ),
            _ => {}
        }
    }

    fn unique<'n>(&mut self, path: &str, kind: &str, names: impl Iterator<Item = &'n str>) {
        let mut seen = BTreeSet::new();
        for (i, name) in names.enumerate() {
            if name.trim().is_empty() {
                self.issue(
                    format!("{path}[{i}].name"),
                    format!("the {kind} name is empty"),
                );
            } else if !seen.insert(name) {
                self.issue(
                    format!("{path}[{i}].name"),
                    format!("{kind} {name:?} is declared twice; names must be unique"),
                );
            }
        }
    }

    fn application(&mut self, i: usize, app: &Application, ports: &mut BTreeMap<u16, usize>) {
        let path = format!("applications[{i}]");
        let has_port = app.port.is_some();
        self.command(&format!("{path}.command"), &app.command, has_port);
        for (name, value) in &app.env {
            self.placeholders(&format!("{path}.env.{name}"), value, has_port);
        }
        if let Some(workdir) = &app.workdir {
            self.placeholders(&format!("{path}.workdir"), workdir, has_port);
        }
        match app.port {
            Some(0) => self.issue(
                format!("{path}.port"),
                "port 0 is not a port; use 1 to 65535",
            ),
            Some(port) => {
                if let Some(other) = ports.insert(port, i) {
                    self.issue(
                        format!("{path}.port"),
                        format!("port {port} is already used by applications[{other}]"),
                    );
                }
            }
            None => {}
        }
        let health = &app.health;
        let hp = format!("{path}.health");
        let kinds = usize::from(health.http.is_some())
            + usize::from(health.tcp)
            + usize::from(health.process);
        match (&health.http, health.tcp) {
            _ if kinds > 1 => self.issue(&hp, "give one of http, tcp or process, not several"),
            _ if kinds == 0 => self.issue(&hp, "give http: /path, tcp: true or process: true"),
            (Some(p), false) if !p.starts_with('/') => self.issue(
                format!("{hp}.http"),
                format!("{p:?} must be a path starting with /"),
            ),
            _ => {}
        }
        if !has_port && !health.process {
            self.issue(&hp, "a health check needs the application's port");
        }
        if health.timeout_ms == 0 {
            self.issue(format!("{hp}.timeout_ms"), "must be at least 1");
        }
        if health.retries == 0 {
            self.issue(format!("{hp}.retries"), "must be at least 1");
        }
        if let Some(sig) = &app.stack_dump_signal
            && !STACK_DUMP_SIGNALS.contains(&sig.as_str())
        {
            self.issue(
                format!("{path}.stack_dump_signal"),
                format!(
                    "unknown signal {sig:?}; use one of {}",
                    STACK_DUMP_SIGNALS.join(", ")
                ),
            );
        }
    }
}

/// Every structural problem of `manifest`, in the order of the file.
pub fn check_structure(manifest: &Manifest) -> Vec<Issue> {
    let mut c = Checker {
        manifest,
        keys: manifest
            .template
            .items
            .iter()
            .map(|i| i.key.as_str())
            .collect(),
        issues: Vec::new(),
    };
    let m = c.manifest;
    if m.platform.trim().is_empty() {
        c.issue("platform", "the platform name is empty");
    }
    let rules = &m.compatibility;
    if !(1..=4).contains(&rules.zero_downtime_same_segments) {
        c.issue(
            "compatibility.zero_downtime_same_segments",
            "must be 1, 2, 3 or 4",
        );
    }
    if let Some(min) = &rules.partial_downtime_min
        && *min > m.version
    {
        c.issue(
            "compatibility.partial_downtime_min",
            format!("{min} is newer than this bundle's version {}", m.version),
        );
    }
    if let Some(range) = &rules.upgrade_from {
        if range.min > range.max {
            c.issue(
                "compatibility.upgrade_from",
                format!("min {} is above max {}", range.min, range.max),
            );
        }
        if range.max >= m.version {
            c.issue(
                "compatibility.upgrade_from.max",
                format!(
                    "{} is not older than this bundle's version {}",
                    range.max, m.version
                ),
            );
        }
    }
    let mut keys = BTreeSet::new();
    for (i, item) in m.template.items.iter().enumerate() {
        let path = format!("template.items[{i}]");
        let well_formed = !item.key.is_empty()
            && item.key.split('.').all(|s| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        if !well_formed {
            c.issue(
                format!("{path}.key"),
                format!(
                    "{:?} is not a key; use dotted words like metadb.url",
                    item.key
                ),
            );
        } else if !keys.insert(item.key.as_str()) {
            c.issue(
                format!("{path}.key"),
                format!("{:?} is declared twice", item.key),
            );
        }
        if let (Some(kind), Some(default)) = (item.kind, &item.default)
            && !kind.accepts(default)
        {
            c.issue(
                format!("{path}.default"),
                format!("must be {}", kind.name()),
            );
        }
    }
    c.unique(
        "applications",
        "application",
        m.applications.iter().map(|a| a.name.as_str()),
    );
    let mut ports = BTreeMap::new();
    for (i, app) in m.applications.iter().enumerate() {
        c.application(i, app, &mut ports);
    }
    c.unique(
        "databases",
        "database",
        m.databases.iter().map(|d| d.name.as_str()),
    );
    for (i, db) in m.databases.iter().enumerate() {
        let path = format!("databases[{i}]");
        c.placeholders(&format!("{path}.url"), &db.url, false);
        let mut previous: Option<u32> = None;
        for (j, mig) in db.migrations.iter().enumerate() {
            let mp = format!("{path}.migrations[{j}]");
            if let Some(prev) = previous
                && mig.version <= prev
            {
                c.issue(
                    format!("{mp}.version"),
                    format!("{} does not follow {prev}; versions must be unique and strictly increasing", mig.version),
                );
            }
            previous = Some(mig.version);
            if mig.name.trim().is_empty() {
                c.issue(format!("{mp}.name"), "the migration name is empty");
            }
            if mig.sql.for_engine(db.engine).is_none() {
                c.issue(
                    format!("{mp}.sql"),
                    format!(
                        "no {} SQL, the engine of database {:?}",
                        db.engine.name(),
                        db.name
                    ),
                );
            }
        }
        if let Some(schema) = &db.schema {
            c.command(&format!("{path}.schema.run"), &schema.run, false);
            if let Some(check) = &schema.check {
                c.command(&format!("{path}.schema.check"), check, false);
            }
            for (name, value) in &schema.env {
                c.placeholders(&format!("{path}.schema.env.{name}"), value, false);
            }
        }
        if let Some(dump) = &db.dump {
            c.dump(&format!("{path}.dump"), dump, db);
        }
        c.unique(
            &format!("{path}.prune_before_backup"),
            "prune step",
            db.prune_before_backup.iter().map(|p| p.name.as_str()),
        );
        for (j, prune) in db.prune_before_backup.iter().enumerate() {
            if prune.sql.for_engine(db.engine).is_none() {
                c.issue(
                    format!("{path}.prune_before_backup[{j}].sql"),
                    format!(
                        "no {} SQL, the engine of database {:?}",
                        db.engine.name(),
                        db.name
                    ),
                );
            }
        }
    }
    c.unique(
        "data_updates",
        "data update",
        m.data_updates.iter().map(|d| d.name.as_str()),
    );
    for (i, du) in m.data_updates.iter().enumerate() {
        let path = format!("data_updates[{i}]");
        match (&du.sql, &du.command) {
            (Some(_), Some(_)) => c.issue(&path, "give either sql or command, not both"),
            (None, None) => c.issue(&path, "give sql (with database) or command"),
            (None, Some(cmd)) => c.command(&format!("{path}.command"), cmd, false),
            (Some(sql), None) => match du.database.as_deref() {
                None => c.issue(
                    format!("{path}.database"),
                    "an SQL data update names its database",
                ),
                Some(name) => match m.databases.iter().find(|d| d.name == name) {
                    None => c.issue(
                        format!("{path}.database"),
                        format!("no database {name:?} is declared"),
                    ),
                    Some(db) if sql.for_engine(db.engine).is_none() => c.issue(
                        format!("{path}.sql"),
                        format!(
                            "no {} SQL, the engine of database {name:?}",
                            db.engine.name()
                        ),
                    ),
                    Some(_) => {}
                },
            },
        }
    }
    for (list, hooks) in [("before", &m.hooks.before), ("after", &m.hooks.after)] {
        let path = format!("hooks.{list}");
        c.unique(&path, "hook", hooks.iter().map(|h| h.name.as_str()));
        for (i, hook) in hooks.iter().enumerate() {
            let hp = format!("{path}[{i}]");
            match (&hook.command, &hook.http) {
                (Some(_), Some(_)) => c.issue(&hp, "give either command or http, not both"),
                (None, None) => c.issue(&hp, "give command or http"),
                (Some(cmd), None) => c.command(&format!("{hp}.command"), cmd, false),
                (None, Some(http)) => {
                    if !HOOK_METHODS.contains(&http.method.as_str()) {
                        c.issue(
                            format!("{hp}.http.method"),
                            format!(
                                "unknown method {:?}; use one of {}",
                                http.method,
                                HOOK_METHODS.join(", ")
                            ),
                        );
                    }
                    c.placeholders(&format!("{hp}.http.url"), &http.url, false);
                    if hook.undo.is_some() {
                        c.issue(format!("{hp}.undo"), "undo is only for command hooks");
                    }
                }
            }
            if let Some(undo) = &hook.undo {
                c.command(&format!("{hp}.undo"), undo, false);
            }
        }
    }
    c.scheduler();
    c.issues
}

impl Checker<'_> {
    /// `scheduler:`: the Airflow adapter needs an address, a user and a password that is a
    /// secret configuration item (a literal password would be stored and shown).
    fn scheduler(&mut self) {
        let s = &self.manifest.scheduler;
        let kind = s.adapter;
        if kind == super::manifest::SchedulerKind::Contract {
            for (field, value) in [
                ("url", &s.url),
                ("username", &s.username),
                ("password", &s.password),
            ] {
                if value.is_some() {
                    self.issue(
                        format!("scheduler.{field}"),
                        "the contract adapter takes its address from the runtime settings; remove this field or set adapter: airflow",
                    );
                }
            }
            return;
        }
        for (field, value) in [
            ("url", &s.url),
            ("username", &s.username),
            ("password", &s.password),
        ] {
            match value {
                None => self.issue(
                    format!("scheduler.{field}"),
                    format!("the airflow adapter needs scheduler.{field}"),
                ),
                Some(v) => self.placeholders(&format!("scheduler.{field}"), v, false),
            }
        }
        if let Some(password) = &s.password {
            let secret_key = match scan(password) {
                Ok(found)
                    if found.len() == 1
                        && password.trim().starts_with('{')
                        && password.trim().ends_with('}') =>
                {
                    match &found[0] {
                        Placeholder::Config(key) => Some(key.clone()),
                        _ => None,
                    }
                }
                _ => None,
            };
            match secret_key {
                None => self.issue(
                    "scheduler.password",
                    "give the password as one {config.KEY} placeholder of a secret template item, never the password itself",
                ),
                Some(key) => {
                    let secret = self
                        .manifest
                        .template
                        .items
                        .iter()
                        .any(|i| i.key == key && i.secret);
                    if !secret {
                        self.issue(
                            "scheduler.password",
                            format!("template item {key:?} must be declared secret: true to hold a password"),
                        );
                    }
                }
            }
        }
    }
}
