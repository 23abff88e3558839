use std::time::Duration;

use changeover_store::{LeaseError, Store, on_both_engines};
use chrono::Utc;

const TTL: Duration = Duration::from_secs(30);

async fn only_one_holder(store: Store) -> anyhow::Result<()> {
    let now = Utc::now();
    let a = store.leases().acquire_at("upgrade", "a", TTL, now).await?;
    assert_eq!((a.holder.as_str(), a.generation), ("a", 1));
    match store
        .leases()
        .acquire_at("upgrade", "b", TTL, now + chrono::Duration::seconds(10))
        .await
    {
        Err(LeaseError::Held {
            holder, expires_at, ..
        }) => {
            assert_eq!(holder, "a");
            assert_eq!(expires_at, a.expires_at);
        }
        other => panic!("b must be refused while a holds the lease, got {other:?}"),
    }
    // Another name is independent.
    store.leases().acquire_at("backup", "b", TTL, now).await?;
    // Re-acquiring one's own lease renews it and keeps the generation.
    let again = store
        .leases()
        .acquire_at("upgrade", "a", TTL, now + chrono::Duration::seconds(1))
        .await?;
    assert_eq!(again.generation, 1);
    assert_eq!(again.acquired_at, a.acquired_at);
    assert!(again.expires_at > a.expires_at);
    Ok(())
}

async fn expired_lease_is_taken_over(store: Store) -> anyhow::Result<()> {
    let now = Utc::now();
    store
        .leases()
        .acquire_at("upgrade", "killed", TTL, now)
        .await?;
    // The holder was killed: no renewals. After the TTL the next caller takes over.
    let later = now + chrono::Duration::seconds(31);
    let b = store
        .leases()
        .acquire_at("upgrade", "b", TTL, later)
        .await?;
    assert_eq!((b.holder.as_str(), b.generation), ("b", 2));
    // The old holder notices on its next renewal, and cannot release b's lease.
    let err = store
        .leases()
        .renew_at("upgrade", "killed", TTL, later)
        .await
        .unwrap_err();
    assert!(matches!(err, LeaseError::Lost { .. }), "{err}");
    assert!(err.to_string().contains("no longer held"), "{err}");
    assert!(!store.leases().release("upgrade", "killed").await?);
    assert_eq!(
        store.leases().get("upgrade").await?.expect("row").holder,
        "b"
    );
    Ok(())
}

async fn renew_keeps_and_release_frees(store: Store) -> anyhow::Result<()> {
    let now = Utc::now();
    store.leases().acquire_at("upgrade", "a", TTL, now).await?;
    // Renewed at +20s, the lease now runs to +50s: b at +40s is still refused.
    store
        .leases()
        .renew_at("upgrade", "a", TTL, now + chrono::Duration::seconds(20))
        .await?;
    let at40 = now + chrono::Duration::seconds(40);
    assert!(matches!(
        store.leases().acquire_at("upgrade", "b", TTL, at40).await,
        Err(LeaseError::Held { .. })
    ));
    assert!(store.leases().release("upgrade", "a").await?);
    assert!(store.leases().get("upgrade").await?.is_none());
    let b = store.leases().acquire_at("upgrade", "b", TTL, at40).await?;
    assert_eq!(b.generation, 1, "a released lease starts a new row");
    assert!(matches!(
        store.leases().renew_at("upgrade", "a", TTL, at40).await,
        Err(LeaseError::Lost { .. })
    ));
    Ok(())
}

async fn racing_acquirers_get_one_winner(store: Store) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.leases().acquire("race", &format!("h{i}"), TTL).await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await? {
            Ok(_) => winners += 1,
            Err(LeaseError::Held { .. }) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(winners, 1);
    Ok(())
}

on_both_engines!(
    only_one_holder,
    expired_lease_is_taken_over,
    renew_keeps_and_release_frees,
    racing_acquirers_get_one_winner
);

async fn a_held_lease_outlives_its_ttl_until_released(store: Store) -> anyhow::Result<()> {
    let ttl = Duration::from_millis(900);
    let held = store.leases().hold("upgrade", "a", ttl).await?;
    // Three TTLs later the heartbeat has kept it: b is still refused.
    tokio::time::sleep(ttl * 3).await;
    assert!(!held.is_lost());
    assert!(matches!(
        store.leases().acquire("upgrade", "b", ttl).await,
        Err(LeaseError::Held { .. })
    ));
    let row = store.leases().get("upgrade").await?.expect("row");
    assert!(
        row.heartbeat_at > held.lease().heartbeat_at,
        "the heartbeat renewed it"
    );
    assert!(held.release().await?);
    store.leases().acquire("upgrade", "b", ttl).await?;
    Ok(())
}

async fn a_held_lease_taken_over_is_reported_lost(store: Store) -> anyhow::Result<()> {
    let ttl = Duration::from_millis(600);
    let mut held = store.leases().hold("upgrade", "a", ttl).await?;
    // Someone forcibly removes it (an operator, or an expiry seen by another clock).
    assert!(store.leases().release("upgrade", "a").await?);
    store
        .leases()
        .acquire("upgrade", "b", Duration::from_secs(60))
        .await?;
    tokio::time::timeout(Duration::from_secs(30), held.lost()).await?;
    assert!(held.is_lost());
    assert!(
        !held.release().await?,
        "b's lease must not be released by a"
    );
    assert_eq!(
        store.leases().get("upgrade").await?.expect("row").holder,
        "b"
    );
    Ok(())
}

on_both_engines!(
    a_held_lease_outlives_its_ttl_until_released,
    a_held_lease_taken_over_is_reported_lost
);
