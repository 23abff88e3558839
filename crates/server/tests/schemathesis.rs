//! schemathesis (from PyPI) against the API's own `/openapi.json`: generated requests to
//! every operation, signed in as an admin, find no server error (no 5xx).
//!
//! Needs schemathesis in `${CHANGEOVER_SCHEMATHESIS:-/opt/changeover/schemathesis}`
//! (`scripts/setup.d/40-schemathesis` installs it; `scripts/test` runs that as root).

use std::path::PathBuf;

use changeover_server::api::Api;
use changeover_server::auth::Role;
use changeover_store::Engine;
use changeover_store::test_utils::TestLocation;

use crate::fixtures::{record, row, user_with_token};

fn schemathesis() -> PathBuf {
    let venv = std::env::var_os("CHANGEOVER_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/changeover/schemathesis"));
    let bin = venv.join("bin/schemathesis");
    assert!(
        bin.is_file(),
        "schemathesis is not installed at {}: run `sudo scripts/setup.d/40-schemathesis` (scripts/test does it when run as root)",
        bin.display()
    );
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schemathesis_finds_no_server_error() -> anyhow::Result<()> {
    let bin = schemathesis();
    let location = TestLocation::new(Engine::Sqlite).await;
    let store = location.open().await;
    let token = user_with_token(&store, "ada", Role::Admin, "schemathesis").await?;
    store
        .upgrades()
        .insert(&row(&record("up-st", false)?)?)
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(Api::new(store.clone()).serve(listener));
    let me = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/me"))
        .bearer_auth(token.expose())
        .send()
        .await?;
    assert_eq!(me.status(), 200, "the admin token does not work");
    let reports = tempfile::tempdir()?;
    let out = tokio::process::Command::new(&bin)
        .arg("run")
        .arg(format!("http://{addr}/openapi.json"))
        .args(["--checks", "not_a_server_error"])
        .args(["--max-examples", "30", "--seed", "20261123"])
        .args(["--workers", "1", "--no-color"])
        .args(["--generation-with-security-parameters", "false"])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", token.expose()),
        ])
        .current_dir(reports.path())
        .arg("--report-dir")
        .arg(reports.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    server.abort();
    store.close().await;
    assert!(
        out.status.success(),
        "schemathesis found failures (exit {:?}):\n{stdout}\n{stderr}",
        out.status.code()
    );
    // It must really have exercised the API signed in, not stopped at the schema or 401.
    assert!(
        stdout.contains("passed") && !stdout.contains("No operations"),
        "schemathesis did not test any operation:\n{stdout}"
    );
    assert!(
        !stdout.contains("Authentication failed"),
        "schemathesis was not signed in:\n{stdout}"
    );
    Ok(())
}
