//! PostgreSQL pgoutput source end to end: the same scenario as the MariaDB source, into
//! PostgreSQL and into MariaDB; writers during the slot's snapshot; the slot and
//! publication are dropped afterwards.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use changeover_migrate::event::{Change, SourceRow, SourceTable};
use changeover_migrate::position::Position;
use changeover_migrate::source_postgres::{SlotSnapshot, cleanup, replication_names, stream};
use rand::Rng;
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection};
use tokio::sync::mpsc;

use crate::mariadb_source::{insert_definition, scenario, seed};
use crate::support::{
    SOURCE_POSTGRES, Server, TARGET_MYSQL, TARGET_POSTGRES, TestDb, diamond, task, workflow,
};

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

/// The definitions of `changes` (upserts) by id, with their descriptions and JSON.
fn definitions(changes: &[Change]) -> Vec<(i64, Option<String>, Option<String>)> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(SourceRow::Definition(d)) => Some((
                d.id,
                d.description.clone(),
                d.process_definition_json.clone(),
            )),
            _ => None,
        })
        .collect()
}

/// A definition JSON too large and too random to stay in the row: PostgreSQL stores it
/// out of line (TOAST) and an update that leaves it unchanged does not log it again.
fn large_json() -> String {
    let script: String = (0..16_000)
        .map(|_| char::from(rand::rng().sample(rand::distr::Alphanumeric)))
        .collect();
    workflow(vec![task(
        "tasks-big",
        "big",
        "SHELL",
        json!({"rawScript": script}),
        &[],
    )])
}

/// The slot is created from an exported snapshot, not under table locks: a writer on a
/// followed table commits while the snapshot's transaction is open; the snapshot shows the
/// state at the slot's consistent point, and the stream from there carries the rows written
/// during the snapshot exactly once (and nothing the snapshot already holds). An update
/// that leaves a TOASTed definition JSON unchanged still carries it (`REPLICA IDENTITY FULL`).
async fn writers_go_on(source: &TestDb, slot: &str, publication: &str) -> Result<()> {
    seed(source).await?;
    let big = large_json();
    source.exec(&insert_definition(22, 1, "big", &big)).await?;
    let snapshot = SlotSnapshot::begin(&source.url, slot, publication).await?;
    let mut writer = source.connect().await?;
    sqlx::raw_sql("SET lock_timeout = '5s'")
        .execute(&mut writer)
        .await?;
    let during = async {
        sqlx::raw_sql(AssertSqlSafe(insert_definition(
            20,
            1,
            "during",
            &diamond("w"),
        )))
        .execute(&mut writer)
        .await?;
        sqlx::raw_sql("UPDATE t_ds_process_definition SET description = 'edited' WHERE id = 1")
            .execute(&mut writer)
            .await?;
        sqlx::raw_sql("DELETE FROM t_ds_schedules WHERE id = 1")
            .execute(&mut writer)
            .await?;
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(10), during)
        .await
        .context("a writer on a followed table waited for the snapshot")?
        .context("a writer on a followed table failed while the snapshot was open")?;
    let (changes, position) = snapshot.read().await?;
    let snapshot_definitions = definitions(&changes);
    ensure!(
        snapshot_definitions
            .iter()
            .any(|(id, description, _)| *id == 1 && description.as_deref() == Some("d"))
            && !snapshot_definitions.iter().any(|(id, _, _)| *id == 20),
        "the snapshot shows the state after its consistent point: {snapshot_definitions:?}"
    );
    ensure!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Upsert(SourceRow::Schedule(s)) if s.id == 1)),
        "the snapshot lost a schedule deleted after its consistent point"
    );
    sqlx::raw_sql("UPDATE t_ds_process_definition SET description = 'renamed' WHERE id = 22")
        .execute(&mut writer)
        .await?;
    sqlx::raw_sql(AssertSqlSafe(insert_definition(
        21,
        1,
        "after",
        &diamond("a"),
    )))
    .execute(&mut writer)
    .await?;
    writer.close().await?;

    let Position::Lsn(start) = position else {
        bail!("a PostgreSQL snapshot position is an LSN, got {position}");
    };
    let (tx, mut rx) = mpsc::channel(64);
    let url = source.url.clone();
    let (slot, publication) = (slot.to_owned(), publication.to_owned());
    let reader = tokio::spawn(async move {
        stream(
            &url,
            &slot,
            &publication,
            start,
            Arc::new(AtomicU64::new(start)),
            tx,
        )
        .await
    });
    let mut streamed = Vec::new();
    let mut deletes = Vec::new();
    let collected = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some((changes, _)) = rx.recv().await {
            deletes.extend(changes.iter().filter_map(|c| match c {
                Change::Delete { table, id } => Some((*table, *id)),
                Change::Upsert(_) => None,
            }));
            streamed.extend(definitions(&changes));
            if streamed.iter().any(|(id, _, _)| *id == 21) {
                break;
            }
        }
    })
    .await;
    drop(rx);
    reader.abort();
    collected.context("the stream did not bring the row inserted after the snapshot")?;
    let ids: Vec<i64> = streamed.iter().map(|(id, _, _)| *id).collect();
    ensure!(
        ids == [20, 1, 22, 21],
        "the stream brings each change after the consistent point once: {ids:?}"
    );
    ensure!(
        streamed[1].1.as_deref() == Some("edited"),
        "the edit made during the snapshot is streamed: {:?}",
        streamed[1].1
    );
    ensure!(
        streamed[2].1.as_deref() == Some("renamed")
            && streamed[2].2.as_deref() == Some(big.as_str()),
        "an update that leaves a TOASTed JSON unchanged carries it (json of {} bytes streamed)",
        streamed[2].2.as_ref().map_or(0, String::len)
    );
    ensure!(
        deletes == [(SourceTable::Schedule, 1)],
        "the delete made during the snapshot is streamed: {deletes:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_does_not_block_writers_and_the_stream_starts_where_it_ends() -> Result<()> {
    let source = TestDb::create(Server::Postgres, "mig_src", SOURCE_POSTGRES).await?;
    let (slot, publication) = replication_names(&format!("{}#writers", source.url));
    let result = writers_go_on(&source, &slot, &publication).await;
    let cleaned = cleanup(&source.url, &slot, &publication).await;
    let dropped = source.drop_now().await;
    result?;
    cleaned?;
    dropped
}

/// A source user who must give a password (a member of `changeover_pw`, for which
/// `scripts/services` makes the server require SCRAM): the slot, the exported snapshot and
/// the stream all authenticate; a wrong password is refused with an error that does not
/// carry it.
async fn password_user(source: &TestDb, role: &str, slot: &str, publication: &str) -> Result<()> {
    seed(source).await?;
    let password = format!("Pw-{}", rand::random::<u64>());
    source
        .exec(&format!(
            "CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}' IN ROLE changeover_pw"
        ))
        .await
        .context(
            "creating a password user (run scripts/services: it creates the role changeover_pw)",
        )?;
    let with = |pw: &str| -> Result<String> {
        let mut url = url::Url::parse(&source.url)?;
        url.set_username(role)
            .map_err(|()| anyhow::anyhow!("no user in {url}"))?;
        url.set_password(Some(pw))
            .map_err(|()| anyhow::anyhow!("no password in {url}"))?;
        Ok(url.to_string())
    };
    let wrong = format!("{password}-wrong");
    let refused = SlotSnapshot::begin(&with(&wrong)?, slot, publication).await;
    let Err(err) = refused else {
        bail!("a wrong password was accepted: the server does not check passwords for {role}");
    };
    let err = err.to_string();
    ensure!(
        !err.contains(&wrong) && !err.contains(&password),
        "the password leaked into {err}"
    );
    ensure!(err.contains("password") || err.contains("auth"), "{err}");

    let url = with(&password)?;
    let snapshot = SlotSnapshot::begin(&url, slot, publication).await?;
    let (changes, position) = snapshot.read().await?;
    ensure!(
        !definitions(&changes).is_empty(),
        "the snapshot read no definition"
    );
    let Position::Lsn(start) = position else {
        bail!("a PostgreSQL snapshot position is an LSN, got {position}");
    };
    source
        .exec(&insert_definition(30, 1, "after-password", &diamond("p")))
        .await?;
    let (tx, mut rx) = mpsc::channel(64);
    let (s, p) = (slot.to_owned(), publication.to_owned());
    let reader = tokio::spawn(async move {
        stream(&url, &s, &p, start, Arc::new(AtomicU64::new(start)), tx).await
    });
    let got = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some((changes, _)) = rx.recv().await {
            if definitions(&changes).iter().any(|(id, _, _)| *id == 30) {
                return true;
            }
        }
        false
    })
    .await;
    drop(rx);
    reader.abort();
    ensure!(
        got.unwrap_or(false),
        "the stream of a password user did not bring the row inserted after the snapshot"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_user_with_a_password_authenticates_and_a_wrong_one_is_refused() -> Result<()> {
    let source = TestDb::create(Server::Postgres, "mig_src", SOURCE_POSTGRES).await?;
    let (slot, publication) = replication_names(&format!("{}#password", source.url));
    let role = format!("mig_pw_{:08x}", rand::random::<u32>());
    let result = password_user(&source, &role, &slot, &publication).await;
    let cleaned = cleanup(&source.url, &slot, &publication).await;
    let dropped = source.drop_now().await;
    let mut admin =
        sqlx::AnyConnection::connect(&format!("{}/postgres", crate::support::postgres())).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE IF EXISTS {role}")))
        .execute(&mut admin)
        .await?;
    result?;
    cleaned?;
    dropped
}
