//! Reading the 1.3 tables inside a snapshot transaction, as text, into changes.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::decode::{Fields, columns, decode};
use crate::engine::Engine;
use crate::error::{MigrateError, db};
use crate::event::{Change, SourceTable};

/// Every row of the followed tables, tenants first, as upserts in id order.
pub async fn read_tables(
    conn: &mut AnyConnection,
    engine: Engine,
) -> Result<Vec<Change>, MigrateError> {
    let mut changes = Vec::new();
    for table in SourceTable::ALL {
        let list: Vec<String> = columns(table).iter().map(|c| engine.text(c)).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY id",
            list.join(", "),
            table.name()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await
            .map_err(db(format!("reading {}", table.name())))?;
        for row in rows {
            let mut fields = Fields::new();
            for (i, column) in columns(table).iter().enumerate() {
                let value: Option<String> = row
                    .try_get(i)
                    .map_err(db(format!("reading {}.{column}", table.name())))?;
                fields.insert((*column).to_owned(), value);
            }
            let row = decode(table, &fields).map_err(|reason| MigrateError::SourceRow {
                table: table.name(),
                reason,
            })?;
            changes.push(Change::Upsert(row));
        }
    }
    Ok(changes)
}

/// Row counts of the source tables, for progress reports.
pub type TableCounts = BTreeMap<SourceTable, usize>;
