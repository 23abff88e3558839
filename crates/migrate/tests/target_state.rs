//! The migration's own objects in a 3.2 target: created once, removed by `drop_state`
//! (`migrate cleanup`).

use anyhow::Result;
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
