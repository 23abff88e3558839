//! Users, passwords, tokens and the audit log, on both store engines.

use changeover_server::auth::{self, Actor, AuthError, Role, Secret};
use changeover_store::Engine;
use changeover_store::test_utils::TestLocation;
use changeover_store::users::UsersError;

async fn users_tokens_and_audit(engine: Engine) -> anyhow::Result<()> {
    let location = TestLocation::new(engine).await;
    let store = location.open().await;
    let cli = Actor {
        name: "root",
        peer: "cli",
    };
    let password = Secret::new("correct horse battery");

    auth::add_user(&store, &cli, "alice", Role::Admin, &password).await?;
    let err = auth::add_user(&store, &cli, "alice", Role::Viewer, &password)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::Users(UsersError::Exists(_))),
        "{err}"
    );
    let err = auth::add_user(&store, &cli, "bob", Role::Viewer, &Secret::new("short"))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::WeakPassword), "{err}");
    let err = auth::add_user(&store, &cli, "bad name", Role::Viewer, &password)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::BadName(_)), "{err}");

    // Only the hash is stored.
    let row = store.users().get("alice").await?.expect("alice");
    assert!(
        row.password_hash.starts_with("$argon2id$"),
        "{}",
        row.password_hash
    );
    assert!(!row.password_hash.contains("horse"));
    assert!(!format!("{row:?}").contains("argon2"));

    let err = auth::login(
        &store,
        "127.0.0.1:1",
        "alice",
        &Secret::new("wrong password!"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AuthError::BadCredentials));
    let err = auth::login(&store, "127.0.0.1:1", "nobody", &password)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::BadCredentials));
    let (who, token) = auth::login(&store, "127.0.0.1:1", "alice", &password).await?;
    assert_eq!(who.role, Role::Admin);
    assert!(token.expose().starts_with(auth::TOKEN_PREFIX));
    assert_eq!(
        auth::authenticate_token(&store, &token).await?.name,
        "alice"
    );
    let err = auth::authenticate_token(&store, &Secret::new("cho_00"))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::BadToken));

    // A new password: the old one stops working.
    auth::set_password(&store, &cli, "alice", &Secret::new("another long secret")).await?;
    assert!(auth::login(&store, "p", "alice", &password).await.is_err());
    let err = auth::set_password(&store, &cli, "ghost", &password)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::Users(UsersError::Unknown(_))),
        "{err}"
    );

    // An API token, stored only as its digest.
    let api = auth::issue_token(&store, &cli, "alice", "ci").await?;
    assert_eq!(
        auth::authenticate_token(&store, &api).await?.role,
        Role::Admin
    );
    assert!(store.users().by_token(api.expose()).await?.is_none());

    let log = store.audit().recent(100).await?;
    let actions: Vec<(&str, &str, &str)> = log
        .iter()
        .rev()
        .map(|e| (e.action.as_str(), e.target.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        &actions[..4],
        &[
            ("user.add role=admin", "alice", "ok"),
            ("user.add role=viewer", "alice", "refused"),
            ("user.add role=viewer", "bob", "refused"),
            ("user.add role=viewer", "bad name", "refused"),
        ]
    );
    assert!(actions.contains(&("login", "alice", "refused")));
    assert!(actions.contains(&("login", "alice", "ok")));
    assert!(actions.contains(&("user.token", "alice", "ok")));
    assert!(log.iter().any(|e| e.peer == "127.0.0.1:1"));
    for e in &log {
        assert!(
            !e.detail.contains("horse") && !e.detail.contains(api.expose()),
            "secret in {e:?}"
        );
    }
    assert_eq!(store.audit().recent(2).await?.len(), 2);
    assert!(log.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn users_tokens_and_audit_sqlite() -> anyhow::Result<()> {
    users_tokens_and_audit(Engine::Sqlite).await
}

#[tokio::test]
async fn users_tokens_and_audit_postgres() -> anyhow::Result<()> {
    users_tokens_and_audit(Engine::Postgres).await
}
