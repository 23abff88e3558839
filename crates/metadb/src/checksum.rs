//! Canonical per-table checksums: every base table's row count and a SHA-256 over its
//! rows, each rendered as text by the server (PostgreSQL `t::text`, MySQL `QUOTE()` of
//! every column, SQLite `quote()`), ordered by primary key or else by all columns.
//! Computed the same way on both sides of a comparison.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::conn::{Conn, query_err};
use crate::error::Error;
use crate::target::{DbTarget, Engine, quote_ident};

/// Row count and content checksum of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableChecksum {
    /// `schema.table` for PostgreSQL, the table name otherwise.
    pub table: String,
    pub rows: u64,
    pub sha256: String,
}

/// Checksums of every base table of `target`, sorted by table name.
pub async fn table_checksums(target: &DbTarget) -> Result<Vec<TableChecksum>, Error> {
    let mut conn = Conn::open(target).await?;
    let r = checksums_on(&mut conn, target).await;
    conn.close().await;
    r
}

async fn checksums_on(conn: &mut Conn, target: &DbTarget) -> Result<Vec<TableChecksum>, Error> {
    let engine = target.engine;
    let list_sql = match engine {
        Engine::Postgres => {
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') \
             ORDER BY 1, 2"
        }
        Engine::Mysql => {
            "SELECT '', CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 2"
        }
        Engine::Sqlite => {
            "SELECT '', name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 2"
        }
    };
    let tables = conn
        .text_rows(list_sql)
        .await
        .map_err(query_err(target, "list tables"))?;
    let mut out = Vec::new();
    for t in tables {
        let schema = t.first().cloned().flatten().unwrap_or_default();
        let name = t.get(1).cloned().flatten().unwrap_or_default();
        let (label, select) = row_query(conn, target, &schema, &name).await?;
        let mut hasher = Sha256::new();
        let mut rows = 0u64;
        conn.for_each_row(&select, |cols| {
            rows += 1;
            for c in cols {
                hasher.update(c.as_deref().unwrap_or(b"\\N"));
            }
            hasher.update(b"\n");
        })
        .await
        .map_err(query_err(target, format!("checksum table {label}")))?;
        out.push(TableChecksum {
            table: label,
            rows,
            sha256: hex::encode(hasher.finalize()),
        });
    }
    let _ = engine;
    Ok(out)
}

/// The label of a table and the query rendering its rows canonically, in order.
async fn row_query(
    conn: &mut Conn,
    target: &DbTarget,
    schema: &str,
    name: &str,
) -> Result<(String, String), Error> {
    let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
    match target.engine {
        Engine::Postgres => {
            let qualified = format!(
                "{}.{}",
                quote_ident(Engine::Postgres, schema),
                quote_ident(Engine::Postgres, name)
            );
            let pk_sql = format!(
                "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a \
                 ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indrelid = {}::regclass AND i.indisprimary \
                 ORDER BY array_position(i.indkey::int2[], a.attnum)",
                lit(&qualified)
            );
            let pk = first_column(conn, target, &pk_sql).await?;
            let order = if pk.is_empty() {
                "t::text".to_owned()
            } else {
                pk.iter()
                    .map(|c| format!("t.{}", quote_ident(Engine::Postgres, c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Ok((
                format!("{schema}.{name}"),
                format!("SELECT t::text FROM {qualified} t ORDER BY {order}"),
            ))
        }
        Engine::Mysql => {
            let cols_sql = format!(
                "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = {} ORDER BY ordinal_position",
                lit(name)
            );
            let pk_sql = format!(
                "SELECT CAST(column_name AS CHAR) FROM information_schema.key_column_usage \
                 WHERE table_schema = DATABASE() AND table_name = {} AND constraint_name = 'PRIMARY' \
                 ORDER BY ordinal_position",
                lit(name)
            );
            let cols = first_column(conn, target, &cols_sql).await?;
            let pk = first_column(conn, target, &pk_sql).await?;
            let q = |c: &String| quote_ident(Engine::Mysql, c);
            let render = cols
                .iter()
                .map(|c| format!("QUOTE({})", q(c)))
                .collect::<Vec<_>>()
                .join(", ");
            let order = if pk.is_empty() { &cols } else { &pk };
            let order = order.iter().map(q).collect::<Vec<_>>().join(", ");
            Ok((
                name.to_owned(),
                format!(
                    "SELECT CONCAT_WS(',', {render}) FROM {} ORDER BY {order}",
                    q(&name.to_owned())
                ),
            ))
        }
        Engine::Sqlite => {
            let info = conn
                .text_rows(&format!(
                    "SELECT name, CAST(pk AS TEXT) FROM pragma_table_info({}) ORDER BY cid",
                    lit(name)
                ))
                .await
                .map_err(query_err(target, format!("read columns of {name}")))?;
            let cols: Vec<String> = info.iter().filter_map(|r| r[0].clone()).collect();
            let mut pk: Vec<(i64, String)> = info
                .iter()
                .filter_map(|r| {
                    let n: i64 = r[1].as_deref()?.parse().ok()?;
                    (n > 0).then(|| (n, r[0].clone().unwrap_or_default()))
                })
                .collect();
            pk.sort();
            let q = |c: &String| quote_ident(Engine::Sqlite, c);
            let render = cols
                .iter()
                .map(|c| format!("quote({})", q(c)))
                .collect::<Vec<_>>()
                .join(" || ',' || ");
            let order: Vec<String> = if pk.is_empty() {
                cols.clone()
            } else {
                pk.into_iter().map(|(_, c)| c).collect()
            };
            let order = order.iter().map(q).collect::<Vec<_>>().join(", ");
            Ok((
                name.to_owned(),
                format!(
                    "SELECT {render} FROM {} ORDER BY {order}",
                    q(&name.to_owned())
                ),
            ))
        }
    }
}

async fn first_column(conn: &mut Conn, target: &DbTarget, sql: &str) -> Result<Vec<String>, Error> {
    Ok(conn
        .text_rows(sql)
        .await
        .map_err(query_err(target, "read table metadata"))?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}
