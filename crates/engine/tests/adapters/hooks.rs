//! Hooks as real commands and HTTP calls.

use changeover_engine::adapter::hooks::{BundleHooks, HookAction, HookSpec};
use changeover_engine::port::Hooks;

#[tokio::test]
async fn command_hooks_run_and_undo() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("ha-off");
    let hooks = BundleHooks::new(vec![
        HookSpec {
            name: "ha-off".into(),
            run: HookAction::Command(vec!["touch".into(), flag.display().to_string()]),
            undo: Some(HookAction::Command(vec![
                "rm".into(),
                "-f".into(),
                flag.display().to_string(),
            ])),
        },
        HookSpec {
            name: "broken".into(),
            run: HookAction::Command(vec![
                "sh".into(),
                "-c".into(),
                "echo no HA here >&2; exit 3".into(),
            ]),
            undo: None,
        },
    ]);
    hooks.run("ha-off").await.unwrap();
    assert!(flag.exists());
    hooks.undo("ha-off").await.unwrap();
    assert!(!flag.exists());
    let err = hooks.run("broken").await.unwrap_err().to_string();
    assert!(
        err.starts_with("hook `broken` exited with exit status: 3: no HA here"),
        "{err}"
    );
    hooks.undo("broken").await.unwrap();
    assert_eq!(
        hooks.run("nope").await.unwrap_err().to_string(),
        "no hook `nope` in the bundle"
    );
}

#[tokio::test]
async fn http_hooks_report_the_status() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = [0u8; 1024];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            let status = if request.starts_with("POST /ha/off") {
                "204 No Content"
            } else {
                "500 Internal Server Error"
            };
            let _ = socket
                .write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
        }
    });
    let hooks = BundleHooks::new(vec![HookSpec {
        name: "ha-off".into(),
        run: HookAction::Http {
            method: "post".into(),
            url: format!("http://{addr}/ha/off"),
        },
        undo: Some(HookAction::Http {
            method: "POST".into(),
            url: format!("http://{addr}/ha/broken"),
        }),
    }]);
    hooks.run("ha-off").await.unwrap();
    let err = hooks.undo("ha-off").await.unwrap_err().to_string();
    assert!(err.contains("answered 500"), "{err}");
}
