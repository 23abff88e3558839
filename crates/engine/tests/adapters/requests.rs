//! The operator's requests in the store (`upgrade_requests`) on both store engines.

use changeover_engine::adapter::store::StoreRequests;
use changeover_engine::port::Requests;
use changeover_store::Engine;
use changeover_store::test_utils::with_store;

async fn lifecycle(engine: Engine) {
    with_store(engine, |store| async move {
        let requests = StoreRequests(store);
        assert!(requests.stop_requests("u1").await.unwrap().is_empty());
        requests
            .request_stop("u1", "backfill", "alice")
            .await
            .unwrap();
        // asked twice (by someone else too): one request, the first asker kept
        requests
            .request_stop("u1", "backfill", "bob")
            .await
            .unwrap();
        requests.request_stop("u1", "refresh", "bob").await.unwrap();
        requests
            .request_stop("u2", "backfill", "carol")
            .await
            .unwrap();
        assert_eq!(
            requests.stop_requests("u1").await.unwrap(),
            [
                ("backfill".to_owned(), "alice".to_owned()),
                ("refresh".to_owned(), "bob".to_owned())
            ]
        );
        requests.clear_stop("u1", "backfill").await.unwrap();
        requests.clear_stop("u1", "backfill").await.unwrap();
        assert_eq!(
            requests.stop_requests("u1").await.unwrap(),
            [("refresh".to_owned(), "bob".to_owned())]
        );
        assert_eq!(
            requests.stop_requests("u2").await.unwrap(),
            [("backfill".to_owned(), "carol".to_owned())],
            "requests belong to their upgrade"
        );
    })
    .await;
}

#[tokio::test]
async fn stop_requests_on_sqlite() {
    lifecycle(Engine::Sqlite).await;
}

#[tokio::test]
async fn stop_requests_on_postgres() {
    lifecycle(Engine::Postgres).await;
}
