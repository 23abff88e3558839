//! The metadata database: connection (SQLite, PostgreSQL or MariaDB through `sqlx::Any`)
//! and the schema each version needs. Every statement is written with `$N` placeholders,
//! numbered in bind order and each used once, which SQLite and PostgreSQL accept;
//! [`Metadb::sql`] turns them into `?` for MariaDB. Times and dates are stored as text
//! (RFC 3339 / `YYYY-MM-DD`).

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::PlatformVersion;

#[derive(Debug, thiserror::Error)]
pub enum MetadbError {
    #[error(
        "unsupported metadata database URL (scheme {0:?}): use sqlite://PATH, postgres://… or mysql://…"
    )]
    UnsupportedUrl(String),
    #[error("cannot connect to the metadata database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error(
        "sample platform 1.1.0 needs the column task_instance.owner, which this database lacks: \
         run the bundle migration add_owner_column (ALTER TABLE task_instance ADD COLUMN owner TEXT) first"
    )]
    OwnerColumnMissing,
    #[error("metadata database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// The engine behind a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    /// MariaDB (or MySQL) through sqlx's MySQL driver.
    Mysql,
}

/// A pool on the metadata database.
#[derive(Debug, Clone)]
pub struct Metadb {
    pub pool: AnyPool,
    pub engine: Engine,
}

impl Metadb {
    /// Connects; a SQLite file is created when missing. The URL never appears in errors.
    pub async fn connect(url: &str) -> Result<Self, MetadbError> {
        sqlx::any::install_default_drivers();
        let scheme = url.split(':').next().unwrap_or_default().to_owned();
        let (engine, url) = match scheme.as_str() {
            "sqlite" if url.contains("mode=") => (Engine::Sqlite, url.to_owned()),
            "sqlite" if url.contains('?') => (Engine::Sqlite, format!("{url}&mode=rwc")),
            "sqlite" => (Engine::Sqlite, format!("{url}?mode=rwc")),
            "postgres" | "postgresql" => (Engine::Postgres, url.to_owned()),
            "mysql" => (Engine::Mysql, url.to_owned()),
            "mariadb" => (Engine::Mysql, format!("mysql{}", &url["mariadb".len()..])),
            _ => return Err(MetadbError::UnsupportedUrl(scheme)),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(5)
            .connect(&url)
            .await
            .map_err(MetadbError::Connect)?;
        if engine == Engine::Sqlite {
            sqlx::query("PRAGMA busy_timeout = 5000")
                .execute(&pool)
                .await?;
        }
        Ok(Self { pool, engine })
    }

    /// Makes the schema ready for `version`: 1.0.x creates it when missing; 1.1.0 creates
    /// it (with `owner`) on an empty database and refuses an old schema without `owner`.
    pub async fn prepare(&self, version: PlatformVersion) -> Result<(), MetadbError> {
        let existed = self.probe("SELECT id FROM task_instance WHERE 1 = 0").await;
        if self.engine == Engine::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&self.pool)
                .await?;
        }
        let id_column = match self.engine {
            Engine::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Engine::Postgres => "BIGSERIAL PRIMARY KEY",
            Engine::Mysql => "BIGINT AUTO_INCREMENT PRIMARY KEY",
        };
        // MariaDB indexes no TEXT column without a prefix length: keyed columns are VARCHAR.
        let key = match self.engine {
            Engine::Mysql => "VARCHAR(255)",
            Engine::Sqlite | Engine::Postgres => "TEXT",
        };
        let insert_new = match self.engine {
            Engine::Mysql => ("INSERT IGNORE", ""),
            Engine::Sqlite | Engine::Postgres => ("INSERT", " ON CONFLICT DO NOTHING"),
        };
        let statements = [
            format!(
                "CREATE TABLE IF NOT EXISTS workflow (name {key} PRIMARY KEY, tenant TEXT NOT NULL, \
                 environment TEXT NOT NULL, cron TEXT, tasks TEXT NOT NULL, last_triggered_at TEXT)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS task_instance (id {id_column}, run_id TEXT NOT NULL, \
                 workflow TEXT NOT NULL, task TEXT NOT NULL, seq BIGINT NOT NULL, \
                 command TEXT NOT NULL, node_type TEXT NOT NULL, schedule_type TEXT NOT NULL, \
                 tenant TEXT NOT NULL, environment TEXT NOT NULL, business_date {key} NOT NULL, \
                 status {key} NOT NULL, pid BIGINT, exit_code BIGINT, rerun_of BIGINT, \
                 created_at TEXT NOT NULL, started_at TEXT, updated_at TEXT NOT NULL, \
                 finished_at TEXT)"
            ),
            "CREATE INDEX IF NOT EXISTS task_instance_status ON task_instance (status)".to_owned(),
            "CREATE INDEX IF NOT EXISTS task_instance_date ON task_instance (business_date)"
                .to_owned(),
            format!(
                "CREATE TABLE IF NOT EXISTS toggle (environment {key} PRIMARY KEY, \
                 scheduling BIGINT NOT NULL, execution BIGINT NOT NULL)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS rerun_request (request_id {key} PRIMARY KEY, \
                 response TEXT NOT NULL, created_at TEXT NOT NULL)"
            ),
            format!(
                "{} INTO toggle (environment, scheduling, execution) VALUES ('dev', 0, 1){}",
                insert_new.0, insert_new.1
            ),
            format!(
                "{} INTO toggle (environment, scheduling, execution) VALUES ('prod', 1, 1){}",
                insert_new.0, insert_new.1
            ),
        ];
        if version.has_owner() && existed && !self.has_owner_column().await {
            return Err(MetadbError::OwnerColumnMissing);
        }
        for statement in &statements {
            sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
                .execute(&self.pool)
                .await?;
        }
        if version.has_owner() && !existed {
            sqlx::query("ALTER TABLE task_instance ADD COLUMN owner TEXT")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// `sql` for this engine: on MariaDB every `$N` placeholder becomes `?` (the statements
    /// number them in bind order, each used once); unchanged elsewhere.
    pub fn sql(&self, sql: &str) -> String {
        match self.engine {
            Engine::Mysql => question_marks(sql),
            Engine::Sqlite | Engine::Postgres => sql.to_owned(),
        }
    }

    /// Whether `task_instance.owner` exists.
    pub async fn has_owner_column(&self) -> bool {
        self.probe("SELECT owner FROM task_instance WHERE 1 = 0")
            .await
    }

    async fn probe(&self, sql: &'static str) -> bool {
        sqlx::query(sql).fetch_all(&self.pool).await.is_ok()
    }
}

/// `$N` placeholders outside quoted literals replaced by `?`.
fn question_marks(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '$') if chars.peek().is_some_and(char::is_ascii_digit) => {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push('?');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::question_marks;

    #[test]
    fn placeholders_become_question_marks_outside_literals() {
        assert_eq!(
            question_marks("UPDATE t SET a = $1, b = '$2' WHERE id = $10 AND c = \"$3\""),
            "UPDATE t SET a = ?, b = '$2' WHERE id = ? AND c = \"$3\""
        );
        assert_eq!(question_marks("SELECT $ FROM x"), "SELECT $ FROM x");
    }
}
