use changeover_store::{Format, NewVersion, PutOutcome, Store, on_both_engines};
use chrono::{Duration, Utc};

fn version(v: &str, key: &str, content: &[u8]) -> NewVersion {
    NewVersion {
        platform: "sample".into(),
        version: v.into(),
        sort_key: key.into(),
        file_name: format!("{v}.yaml"),
        format: Format::Yaml,
        content: content.to_vec(),
        template_md5: None,
        manifest: serde_json::json!({ "version": v, "applications": [{ "name": "scheduler" }] }),
    }
}

async fn import_then_overwrite(store: Store) -> anyhow::Result<()> {
    let t0 = Utc::now();
    let (outcome, entry) = store
        .catalog()
        .put_at(&version("1.0.0", "a", b"one"), t0)
        .await?;
    assert_eq!(outcome, PutOutcome::Imported);
    assert_eq!(entry.md5, "f97c5d29941bfb1b2fdab0874906ab82"); // md5("one")
    assert_eq!(entry.size, 3);
    assert_eq!(entry.overwritten_at, None);

    let t1 = t0 + Duration::seconds(5);
    let mut again = version("1.0.0", "a", b"one, changed");
    again.template_md5 = Some("abc".into());
    again.format = Format::Zip;
    let (outcome, entry) = store.catalog().put_at(&again, t1).await?;
    let PutOutcome::Overwritten { previous } = outcome else {
        panic!("expected an overwrite, got {outcome:?}")
    };
    assert_eq!(previous.size, 3);
    assert_eq!(entry.uploaded_at, previous.uploaded_at);
    assert_eq!(
        entry.overwritten_at.map(|t| t.timestamp()),
        Some(t1.timestamp())
    );

    let stored = store
        .catalog()
        .get("sample", "1.0.0")
        .await?
        .expect("stored");
    assert_eq!(stored.content, b"one, changed");
    assert_eq!(stored.entry, entry);
    assert_eq!(stored.entry.format, Format::Zip);
    assert_eq!(stored.entry.template_md5.as_deref(), Some("abc"));
    assert_eq!(stored.manifest["applications"][0]["name"], "scheduler");
    assert_eq!(store.catalog().list(None).await?.len(), 1);
    Ok(())
}

async fn bytes_come_back_unchanged(store: Store) -> anyhow::Result<()> {
    // Every byte value, a NUL, invalid UTF-8, CRLF: a ZIP is arbitrary binary.
    let mut content: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    content.extend_from_slice(b"\r\n\0\xff\xfe");
    store
        .catalog()
        .put(&version("2.0.0", "b", &content))
        .await?;
    let stored = store
        .catalog()
        .get("sample", "2.0.0")
        .await?
        .expect("stored");
    assert_eq!(stored.content, content);
    assert_eq!(stored.entry.size, content.len() as u64);
    Ok(())
}

async fn list_is_in_version_order(store: Store) -> anyhow::Result<()> {
    for (v, key) in [
        ("1.10.0", "0001.0010"),
        ("1.2.0", "0001.0002"),
        ("1.9.0", "0001.0009"),
    ] {
        store.catalog().put(&version(v, key, v.as_bytes())).await?;
    }
    let mut other = version("0.1", "0000.0001", b"x");
    other.platform = "other".into();
    store.catalog().put(&other).await?;
    let names: Vec<_> = store
        .catalog()
        .list(Some("sample"))
        .await?
        .into_iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(names, ["1.2.0", "1.9.0", "1.10.0"]);
    let all: Vec<_> = store
        .catalog()
        .list(None)
        .await?
        .into_iter()
        .map(|e| e.platform)
        .collect();
    assert_eq!(all, ["other", "sample", "sample", "sample"]);
    Ok(())
}

async fn unknown_and_removed(store: Store) -> anyhow::Result<()> {
    assert!(store.catalog().get("sample", "9.9.9").await?.is_none());
    assert!(store.catalog().entry("sample", "9.9.9").await?.is_none());
    store.catalog().put(&version("1.0.0", "a", b"x")).await?;
    assert!(store.catalog().remove("sample", "1.0.0").await?);
    assert!(!store.catalog().remove("sample", "1.0.0").await?);
    assert!(store.catalog().get("sample", "1.0.0").await?.is_none());
    Ok(())
}

on_both_engines!(
    import_then_overwrite,
    bytes_come_back_unchanged,
    list_is_in_version_order,
    unknown_and_removed
);
