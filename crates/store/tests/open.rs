use changeover_store::test_utils::TestLocation;
use changeover_store::{Engine, Location, Store, StoreError};

#[tokio::test]
async fn sqlite_file_and_directories_are_created_in_wal_mode() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a/b/c/changeover.db");
    let store = Store::open(&Location::Sqlite(path.clone())).await?;
    assert!(path.exists());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await?;
    assert_eq!(mode, "wal");
    store.close().await;
    // Opening again (migrations already applied) works and keeps the data.
    let store = Store::open(&Location::Sqlite(path)).await?;
    store.platforms().set_current("p", "1").await?;
    Ok(())
}

#[tokio::test]
async fn reopening_postgres_keeps_the_data() -> anyhow::Result<()> {
    let location = TestLocation::new(Engine::Postgres).await;
    let store = location.open().await;
    store.platforms().set_current("p", "1").await?;
    store.close().await;
    let store = location.open().await;
    assert_eq!(
        store
            .platforms()
            .get("p")
            .await?
            .unwrap()
            .current_version
            .as_deref(),
        Some("1")
    );
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_reported() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is not a database, just some text that is long enough",
    )?;
    let err = Store::open(&Location::Sqlite(path)).await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("notes.txt"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_directory_that_cannot_be_created_is_reported() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x")?;
    let err = Store::open(&Location::Sqlite(blocker.join("sub/changeover.db")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn an_unreachable_postgres_is_reported_without_its_password() -> anyhow::Result<()> {
    // Port 1 on loopback: nothing listens there.
    let location = Location::parse("postgres://u:hunter2@127.0.0.1:1/db")?;
    let err = Store::open(&location).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("127.0.0.1:1"), "{text}");
    Ok(())
}
