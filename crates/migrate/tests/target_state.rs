//! The migration's own objects in a 3.2 target: created once, removed by `drop_state`
//! (`migrate cleanup`).

use anyhow::Result;
use changeover_migrate::nodelay;
use changeover_migrate::target::{CODE_INDEX, Target};
use sqlx::{AssertSqlSafe, Row};

use crate::support::{Server, TARGET_MYSQL, TARGET_POSTGRES, TestDb};

async fn has_code_index(db: &TestDb) -> Result<bool> {
    let sql = match db.server {
        Server::Postgres => {
            format!("SELECT COUNT(*) FROM pg_indexes WHERE indexname = '{CODE_INDEX}'")
        }
        Server::MariaDb => format!(
            "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = '{CODE_INDEX}'"
        ),
    };
    let mut conn = db.connect().await?;
    let n: i64 = sqlx::query(AssertSqlSafe(sql))
        .fetch_one(&mut conn)
        .await?
        .try_get(0)?;
    Ok(n > 0)
}

async fn installs_the_code_index_once_and_drops_it(server: Server, schema: &str) -> Result<()> {
    let db = TestDb::create(server, "mig_state", schema).await?;
    let result = async {
        let target = Target::connect(&db.url).await?;
        assert!(!has_code_index(&db).await?);
        target.install_state().await?;
        assert!(
            !has_code_index(&db).await?,
            "built after the snapshot, not with the state"
        );
        target.install_code_index().await?;
        // A resumed migrator builds it again: no error, one index.
        target.install_code_index().await?;
        assert!(
            has_code_index(&db).await?,
            "the index on t_ds_task_definition (code)"
        );
        target.drop_state().await?;
        assert!(!has_code_index(&db).await?, "cleanup removes the index");
        target.drop_state().await?;
        anyhow::Ok(())
    }
    .await;
    db.drop_now().await?;
    result
}

#[tokio::test]
async fn mariadb_target_gets_the_code_index_and_cleanup_drops_it() -> Result<()> {
    installs_the_code_index_once_and_drops_it(Server::MariaDb, TARGET_MYSQL).await
}

#[tokio::test]
async fn postgres_target_gets_the_code_index_and_cleanup_drops_it() -> Result<()> {
    installs_the_code_index_once_and_drops_it(Server::Postgres, TARGET_POSTGRES).await
}

/// sqlx 0.9.0 opens its sockets with Nagle's algorithm on; the target's connections get
/// `TCP_NODELAY` (a `COPY`'s `CopyDone` would otherwise wait ~40 ms for a delayed ACK).
async fn target_connections_have_nodelay(server: Server, schema: &str) -> Result<()> {
    let db = TestDb::create(server, "mig_nodelay", schema).await?;
    let result = async {
        let target = Target::connect(&db.url).await?;
        let sql = match server {
            Server::Postgres => "SELECT CAST(inet_client_port() AS BIGINT)",
            Server::MariaDb => {
                "SELECT CAST(SUBSTRING_INDEX(host, ':', -1) AS SIGNED) FROM information_schema.processlist WHERE id = CONNECTION_ID()"
            }
        };
        let port: i64 = sqlx::query(sql)
            .fetch_one(target.pool())
            .await?
            .try_get(0)?;
        let (host, server_port) = nodelay::tcp_server(&db.url).expect("a TCP url");
        let sockets = nodelay::sockets_to(&host, server_port).await?;
        let used = sockets
            .iter()
            .find(|(local, _)| i64::from(local.port()) == port);
        anyhow::ensure!(
            matches!(used, Some((_, true))),
            "the connection from port {port} should have TCP_NODELAY: {sockets:?}"
        );
        anyhow::Ok(())
    }
    .await;
    db.drop_now().await?;
    result
}

#[tokio::test]
async fn mariadb_target_connections_have_nodelay() -> Result<()> {
    target_connections_have_nodelay(Server::MariaDb, TARGET_MYSQL).await
}

#[tokio::test]
async fn postgres_target_connections_have_nodelay() -> Result<()> {
    target_connections_have_nodelay(Server::Postgres, TARGET_POSTGRES).await
}
