use std::collections::BTreeMap;

use changeover_store::{Store, on_both_engines};

async fn current_version_and_values(store: Store) -> anyhow::Result<()> {
    assert!(store.platforms().get("sample").await?.is_none());
    let p = store.platforms().set_current("sample", "1.0.0").await?;
    assert_eq!(p.current_version.as_deref(), Some("1.0.0"));
    assert!(p.running_values.is_empty());

    let values = BTreeMap::from([
        ("scheduler.port".to_owned(), serde_json::json!(18080)),
        ("metadb.url".to_owned(), serde_json::json!("sqlite://x.db")),
    ]);
    let p = store
        .platforms()
        .set_running_values("sample", &values)
        .await?;
    assert_eq!(p.running_values, values);
    assert_eq!(
        p.current_version.as_deref(),
        Some("1.0.0"),
        "values must not clear the version"
    );

    let p = store.platforms().set_current("sample", "1.1.0").await?;
    assert_eq!(
        p.running_values, values,
        "the version must not clear the values"
    );
    assert_eq!(p.current_version.as_deref(), Some("1.1.0"));

    store
        .platforms()
        .set_running_values("other", &BTreeMap::new())
        .await?;
    let all = store.platforms().list().await?;
    assert_eq!(
        all.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["other", "sample"]
    );
    assert_eq!(all[0].current_version, None);
    Ok(())
}

on_both_engines!(current_version_and_values);
