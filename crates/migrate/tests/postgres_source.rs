//! PostgreSQL pgoutput source end to end: the same scenario as the MariaDB source, into
//! PostgreSQL and into MariaDB; the slot and publication are dropped afterwards.

use anyhow::Result;
use changeover_migrate::source_postgres::{cleanup, replication_names};

use crate::mariadb_source::scenario;
use crate::support::{SOURCE_POSTGRES, Server, TARGET_MYSQL, TARGET_POSTGRES, TestDb};

async fn end_to_end(target_server: Server) -> Result<()> {
    let source = TestDb::create(Server::Postgres, "mig_src", SOURCE_POSTGRES).await?;
    let schema = if target_server == Server::Postgres {
        TARGET_POSTGRES
    } else {
        TARGET_MYSQL
    };
    let target_db = TestDb::create(target_server, "mig_tgt", schema).await?;
    let result = scenario(&source, &target_db).await;
    let (slot, publication) = replication_names(&target_db.url);
    let cleaned = cleanup(&source.url, &slot, &publication).await;
    let dropped = (source.drop_now().await, target_db.drop_now().await);
    result?;
    cleaned?;
    dropped.0?;
    dropped.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_postgres_snapshot_and_stream_verify_clean() -> Result<()> {
    end_to_end(Server::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_mariadb_snapshot_and_stream_verify_clean() -> Result<()> {
    end_to_end(Server::MariaDb).await
}
