//! `changeover --server URL --token TOKEN …` against a real `changeover serve` API on the
//! same store: the same output and exit codes as on the local store, and the token never
//! printed.

use std::sync::Arc;

use changeover_core::Mode;
use changeover_core::upgrade::{
    Announcement, NewUpgrade, PlanShape, Status, Timestamp, UpgradeRecord,
};
use changeover_engine::adapter::store::StoreRecords;
use changeover_engine::port::RecordStore;
use changeover_server::api::Api;
use changeover_server::auth::{self, Actor, Role, Secret};
use changeover_store::Engine;

use crate::common::{Env, changeover_in, sample_path};

fn record(id: &str, at: i64, status: Status) -> UpgradeRecord {
    let mut r = UpgradeRecord::configure(
        NewUpgrade {
            id: id.to_owned(),
            platform: "sample".into(),
            from_version: "1.0.0".into(),
            to_version: "1.1.0".into(),
            mode: Mode::Partial,
            shape: PlanShape {
                before_hooks: false,
                after_hooks: false,
            },
            announcement: Announcement::new(
                Some("2026-12-01 23:00"),
                Some("ops@example.com"),
                None,
            )
            .expect("announcement"),
            risk_accepted: true,
            auto_advance: false,
            configuration: Default::default(),
        },
        Timestamp::from_unix_millis(at),
    );
    r.status = status;
    r
}

struct Served {
    env: Env,
    url: String,
    tokens: std::collections::HashMap<&'static str, String>,
    _rt: tokio::runtime::Runtime,
}

impl Served {
    fn new() -> Served {
        let env = Env::new(Engine::Sqlite);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (url, tokens) = rt.block_on(async {
            let store = env.location.open().await;
            let setup = Actor {
                name: "setup",
                peer: "cli",
            };
            let mut tokens = std::collections::HashMap::new();
            for (name, role) in [("ada", Role::Admin), ("vera", Role::Viewer)] {
                auth::add_user(
                    &store,
                    &setup,
                    name,
                    role,
                    &Secret::new("a long enough password"),
                )
                .await
                .expect("add user");
                let token = auth::issue_token(&store, &setup, name, "test")
                    .await
                    .expect("token");
                tokens.insert(name, token.expose().to_owned());
            }
            let records = Arc::new(StoreRecords(store.clone()));
            records
                .insert(&record(
                    "upg-20261201-080000-aaaa",
                    1_800_000_000_000,
                    Status::Succeeded,
                ))
                .await
                .expect("insert");
            records
                .insert(&record(
                    "upg-20261201-090000-bbbb",
                    1_800_000_100_000,
                    Status::Failed,
                ))
                .await
                .expect("insert");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(Api::new(store).serve(listener));
            (format!("http://{addr}"), tokens)
        });
        Served {
            env,
            url,
            tokens,
            _rt: rt,
        }
    }

    /// `changeover --server URL --token TOKEN(user) ARGS`, without a store.
    fn remote(&self, user: &str, args: &[&str]) -> crate::common::Run {
        let mut all = vec![
            "--server",
            self.url.as_str(),
            "--token",
            self.tokens[user].as_str(),
        ];
        all.extend_from_slice(args);
        changeover_in(self.env.dir(), &all)
    }
}

#[test]
fn remote_commands_print_what_local_ones_do() {
    let s = Served::new();
    for args in [
        &["upgrade", "records"][..],
        &["--json", "upgrade", "records"],
        &["upgrade", "status"],
        &["upgrade", "show", "upg-20261201-080000-aaaa"],
        &["--json", "upgrade", "show", "upg-20261201-090000-bbbb"],
    ] {
        let local = s.env.run(args);
        let remote = s.remote("vera", args);
        assert_eq!(remote.code, local.code, "{args:?}: {}", remote.stderr);
        assert_eq!(remote.stdout, local.stdout, "{args:?}");
        assert!(
            local.stdout.contains("upg-20261201-"),
            "{args:?}: {}",
            local.stdout
        );
    }
    // Failures: the same sentence and exit code.
    for args in [&["upgrade", "next"][..], &["upgrade", "show", "upg-none"]] {
        let local = s.env.run(args);
        let remote = s.remote("vera", args);
        assert_eq!(remote.code, local.code, "{args:?}: {}", remote.stderr);
        remote.fails(local.code);
    }
    let local = s.env.run(&["upgrade", "next"]);
    let remote = s.remote("vera", &["upgrade", "next"]);
    assert_eq!(
        remote.stderr.lines().next(),
        local.stderr.lines().next(),
        "the same error line"
    );
}

#[test]
fn remote_versions_and_audit() {
    let s = Served::new();
    let file = sample_path("1.0.0.yaml").display().to_string();
    let up = s.remote("ada", &["version", "upload", &file]);
    let out = up.ok();
    assert!(
        out.contains("platform sample version 1.0.0 (yaml)"),
        "{out}"
    );
    assert!(out.contains("imported sample 1.0.0 (md5 "), "{out}");
    // Uploaded remotely, listed the same locally and remotely.
    let local = s.env.run(&["version", "list"]);
    let remote = s.remote("vera", &["version", "list"]);
    assert_eq!(remote.stdout, local.ok(), "version list");
    // Uploading again overwrites, as locally.
    let again = s.remote("ada", &["version", "upload", &file]);
    assert!(
        again.ok().contains("overwrote sample 1.0.0"),
        "{}",
        again.stdout
    );
    // A blocked bundle: the errors printed, exit 2, nothing stored.
    let broken = s
        .env
        .write("broken.yaml", b"format: 1\nplatform: sample\nversion: [x\n");
    let run = s.remote("ada", &["version", "upload", &broken]);
    run.fails(2);
    // A viewer may not upload: exit 1 with a hint about roles.
    let run = s.remote("vera", &["version", "upload", &file]);
    let err = run.fails(1);
    assert!(err.contains("role"), "{err}");
    // Download: the bytes as uploaded.
    let out = s.env.dir().join("got.yaml");
    let got = out.display().to_string();
    s.remote("vera", &["version", "download", "1.0.0", "-o", &got])
        .ok();
    assert_eq!(
        std::fs::read(&out).expect("downloaded"),
        std::fs::read(sample_path("1.0.0.yaml")).expect("sample")
    );
    // The audit log through the API, with the remote upload in it.
    let audit = s.remote("ada", &["audit", "--limit", "100"]);
    let text = audit.ok();
    assert!(
        text.contains("version.upload") && text.contains("ada"),
        "{text}"
    );
    let json = s.remote("ada", &["--json", "audit"]).json();
    assert!(json.as_array().is_some_and(|a| !a.is_empty()), "{json}");
    // No output ever carries a token.
    for run in [&up, &again, &audit] {
        for token in s.tokens.values() {
            assert!(!run.stdout.contains(token.as_str()) && !run.stderr.contains(token.as_str()));
        }
    }
}

#[test]
fn remote_mode_refuses_bad_options_and_local_only_commands() {
    let s = Served::new();
    // A wrong token: exit 1, a hint about the token, the token not echoed.
    let run = changeover_in(
        s.env.dir(),
        &[
            "--server",
            &s.url,
            "--token",
            "cho_not_a_real_token",
            "upgrade",
            "records",
        ],
    );
    let err = run.fails(1);
    assert!(err.contains("CHANGEOVER_TOKEN"), "{err}");
    assert!(!err.contains("cho_not_a_real_token") && !run.stdout.contains("cho_not_a_real_token"));
    // The token from the environment works the same.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_changeover"))
        .args(["upgrade", "records"])
        .current_dir(s.env.dir())
        .env("CHANGEOVER_SERVER", &s.url)
        .env("CHANGEOVER_TOKEN", &s.tokens["vera"])
        .env_remove("CHANGEOVER_STORE")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("upg-20261201-090000-bbbb"));
    // No token, a bad URL, an unreachable server, a command without a remote mode.
    let run = changeover_in(s.env.dir(), &["--server", &s.url, "upgrade", "records"]);
    assert!(run.fails(2).contains("token"), "{}", run.stderr);
    let run = changeover_in(
        s.env.dir(),
        &["--server", "ftp://x", "--token", "t", "audit"],
    );
    assert!(run.fails(2).contains("http://"), "{}", run.stderr);
    let run = changeover_in(
        s.env.dir(),
        &["--server", "http://127.0.0.1:9", "--token", "t", "audit"],
    );
    assert!(run.fails(1).contains("cannot reach"), "{}", run.stderr);
    let run = s.remote("ada", &["platform", "set-current", "1.0.0"]);
    assert!(run.fails(2).contains("local store only"), "{}", run.stderr);
}
