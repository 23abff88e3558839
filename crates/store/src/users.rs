//! Users of the changeover server and their API tokens (written by `changeover-server`).
//!
//! # Guarantees
//! - Only hashes are stored: the password as the caller's argon2 PHC string, each API token
//!   as the hex SHA-256 of the token. Nothing here can print a secret.
//! - Adding a user whose name exists is refused ([`UsersError::Exists`]), never an update.
//!
//! # Assumptions
//! - Names and roles are validated by the caller (the server's `auth` module).

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, time};

/// One user as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    pub name: String,
    pub role: String,
    /// The argon2 PHC string (`$argon2id$…`), never the password.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("password_hash", &"<hidden>")
            .finish()
    }
}

/// Why a user cannot be added or changed.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("user {0:?} exists already; change the password with `changeover user passwd {0}`")]
    Exists(String),
    #[error("there is no user {0:?}; add one with `changeover user add {0} --role ROLE`")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The users repository.
pub struct Users<'s> {
    store: &'s Store,
}

impl Store {
    /// Users, roles and API tokens.
    pub fn users(&self) -> Users<'_> {
        Users { store: self }
    }
}

macro_rules! columns {
    () => {
        "name, role, password_hash, created_at, updated_at"
    };
}

impl Users<'_> {
    /// Adds a user; refused when the name exists.
    pub async fn insert(
        &self,
        name: &str,
        role: &str,
        password_hash: &str,
    ) -> Result<(), UsersError> {
        let now = time::to_db(Utc::now());
        let done = sqlx::query(
            "INSERT INTO users (name, role, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(role)
        .bind(password_hash)
        .bind(&now)
        .execute(self.store.pool())
        .await
        .map_err(StoreError::query("add a user"))?;
        if done.rows_affected() == 0 {
            return Err(UsersError::Exists(name.to_owned()));
        }
        Ok(())
    }

    /// Replaces a user's password hash.
    pub async fn set_password(&self, name: &str, password_hash: &str) -> Result<(), UsersError> {
        let done =
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE name = $1")
                .bind(name)
                .bind(password_hash)
                .bind(time::to_db(Utc::now()))
                .execute(self.store.pool())
                .await
                .map_err(StoreError::query("change a password"))?;
        if done.rows_affected() == 0 {
            return Err(UsersError::Unknown(name.to_owned()));
        }
        Ok(())
    }

    pub async fn get(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM users WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.store.pool())
        .await
        .map_err(StoreError::query("read a user"))?
        .map(|r| user_from_row(&r))
        .transpose()
    }

    /// Every user, by name.
    pub async fn list(&self) -> Result<Vec<UserRow>, StoreError> {
        sqlx::query(concat!("SELECT ", columns!(), " FROM users ORDER BY name"))
            .fetch_all(self.store.pool())
            .await
            .map_err(StoreError::query("list users"))?
            .iter()
            .map(user_from_row)
            .collect()
    }

    /// Records a new API token of `name` by its SHA-256 (hex).
    pub async fn add_token(
        &self,
        name: &str,
        token_sha256: &str,
        label: &str,
    ) -> Result<(), UsersError> {
        if self.get(name).await?.is_none() {
            return Err(UsersError::Unknown(name.to_owned()));
        }
        sqlx::query(
            "INSERT INTO user_tokens (token_sha256, user_name, label, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_sha256)
        .bind(name)
        .bind(label)
        .bind(time::to_db(Utc::now()))
        .execute(self.store.pool())
        .await
        .map_err(StoreError::query("add an API token"))?;
        Ok(())
    }

    /// The user owning the token with this SHA-256 (hex), if any.
    pub async fn by_token(&self, token_sha256: &str) -> Result<Option<UserRow>, StoreError> {
        let sql = "SELECT u.name, u.role, u.password_hash, u.created_at, u.updated_at \
                   FROM user_tokens t JOIN users u ON u.name = t.user_name WHERE t.token_sha256 = $1";
        sqlx::query(sql)
            .bind(token_sha256)
            .fetch_optional(self.store.pool())
            .await
            .map_err(StoreError::query("look up an API token"))?
            .map(|r| user_from_row(&r))
            .transpose()
    }

    /// Revokes every token of `name`; returns how many there were.
    pub async fn revoke_tokens(&self, name: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM user_tokens WHERE user_name = $1")
            .bind(name)
            .execute(self.store.pool())
            .await
            .map_err(StoreError::query("revoke API tokens"))?;
        Ok(done.rows_affected())
    }
}

fn user_from_row(row: &AnyRow) -> Result<UserRow, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::Corrupt {
        what: "user",
        detail: e.to_string(),
    };
    Ok(UserRow {
        name: row.try_get("name").map_err(corrupt)?,
        role: row.try_get("role").map_err(corrupt)?,
        password_hash: row.try_get("password_hash").map_err(corrupt)?,
        created_at: time::from_db(&row.try_get::<String, _>("created_at").map_err(corrupt)?)?,
        updated_at: time::from_db(&row.try_get::<String, _>("updated_at").map_err(corrupt)?)?,
    })
}
