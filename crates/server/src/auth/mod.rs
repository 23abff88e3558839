//! Users, roles, passwords and API tokens, with every change written to the audit log.
//!
//! # Guarantees
//! - Passwords are stored as argon2id PHC strings, hashed off the async runtime
//!   (`spawn_blocking`); API tokens are 32 random bytes shown once and stored as SHA-256.
//! - There is no default user or password: the first admin is added with
//!   `changeover user add NAME --role admin`.
//! - Secrets travel in [`Secret`], which never prints; errors never contain them.

mod role;
mod secret;

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use changeover_store::audit::NewAuditEntry;
use changeover_store::users::{UserRow, UsersError};
use changeover_store::{Store, StoreError};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

pub use role::Role;
pub use secret::Secret;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Prefix of every API token, so a leaked one is recognisable in a scan.
pub const TOKEN_PREFIX: &str = "cho_";

/// A signed-in caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// What went wrong with users, passwords or tokens.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0:?} is not a user name: use 1 to 64 letters, digits, '-', '_' or '.'")]
    BadName(String),
    #[error("the password is too short: use at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("the API token is not valid (revoked, mistyped or never issued)")]
    BadToken,
    #[error(
        "user {name:?} has the unknown role {role:?} in the store; fix it by re-adding the user"
    )]
    BadRole { name: String, role: String },
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Users(#[from] UsersError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a user name: 1–64 of letters, digits, `-`, `_`, `.`.
pub fn check_name(name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ok.then_some(())
        .ok_or_else(|| AuthError::BadName(name.to_owned()))
}

async fn hash_password(password: &Secret) -> Result<String, AuthError> {
    if password.expose().chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::WeakPassword);
    }
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AuthError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| AuthError::Hash(e.to_string()))?
}

async fn password_matches(password: &Secret, hash: &str) -> bool {
    let (password, hash) = (password.clone(), hash.to_owned());
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.expose().as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// The SHA-256 (hex) under which a token is stored.
pub fn token_digest(token: &Secret) -> String {
    hex::encode(Sha256::digest(token.expose().as_bytes()))
}

fn new_token() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

fn caller(row: UserRow) -> Result<Caller, AuthError> {
    let role = row.role.parse().map_err(|_| AuthError::BadRole {
        name: row.name.clone(),
        role: row.role.clone(),
    })?;
    Ok(Caller {
        name: row.name,
        role,
    })
}

/// Who did something and from where, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    pub name: &'a str,
    /// The peer address, or `cli`.
    pub peer: &'a str,
}

/// Appends to the audit log; a failure to write it is logged, never hidden from the log
/// stream (the change itself already happened or was refused).
pub async fn audit(
    store: &Store,
    actor: &Actor<'_>,
    action: &str,
    target: &str,
    outcome: Result<(), &str>,
) {
    let (outcome, detail) = match outcome {
        Ok(()) => ("ok", ""),
        Err(detail) => ("refused", detail),
    };
    let entry = NewAuditEntry {
        actor: actor.name,
        action,
        target,
        peer: actor.peer,
        outcome,
        detail,
    };
    if let Err(e) = store.audit().append(&entry).await {
        tracing::error!(action, target, error = %e, "cannot write the audit log");
    }
}

/// Audits the outcome of an operation: `ok`, or `refused` with the error's sentence (errors
/// never carry secrets).
async fn audit_result<T>(
    store: &Store,
    actor: &Actor<'_>,
    action: &str,
    target: &str,
    result: &Result<T, AuthError>,
) {
    let detail = result.as_ref().err().map(ToString::to_string);
    let outcome = match &detail {
        None => Ok(()),
        Some(d) => Err(d.as_str()),
    };
    audit(store, actor, action, target, outcome).await;
}

/// Adds a user (audited).
pub async fn add_user(
    store: &Store,
    actor: &Actor<'_>,
    name: &str,
    role: Role,
    password: &Secret,
) -> Result<(), AuthError> {
    let result = async {
        check_name(name)?;
        let hash = hash_password(password).await?;
        store.users().insert(name, role.as_str(), &hash).await?;
        Ok(())
    }
    .await;
    audit_result(
        store,
        actor,
        &format!("user.add role={role}"),
        name,
        &result,
    )
    .await;
    result
}

/// Replaces a user's password (audited); the user's tokens stay valid.
pub async fn set_password(
    store: &Store,
    actor: &Actor<'_>,
    name: &str,
    password: &Secret,
) -> Result<(), AuthError> {
    let result = async {
        let hash = hash_password(password).await?;
        store.users().set_password(name, &hash).await?;
        Ok(())
    }
    .await;
    audit_result(store, actor, "user.passwd", name, &result).await;
    result
}

/// Issues a new API token for `name` (audited); the token is returned once and never stored.
pub async fn issue_token(
    store: &Store,
    actor: &Actor<'_>,
    name: &str,
    label: &str,
) -> Result<Secret, AuthError> {
    let token = new_token();
    let result = store
        .users()
        .add_token(name, &token_digest(&token), label)
        .await
        .map_err(AuthError::from);
    audit_result(store, actor, "user.token", name, &result).await;
    result.map(|()| token)
}

/// The caller a bearer token belongs to.
pub async fn authenticate_token(store: &Store, token: &Secret) -> Result<Caller, AuthError> {
    match store.users().by_token(&token_digest(token)).await? {
        Some(row) => caller(row),
        None => Err(AuthError::BadToken),
    }
}

/// Checks a password; on success issues a session token (audited as `login`).
pub async fn login(
    store: &Store,
    peer: &str,
    name: &str,
    password: &Secret,
) -> Result<(Caller, Secret), AuthError> {
    let row = store.users().get(name).await?;
    let ok = match &row {
        Some(row) => password_matches(password, &row.password_hash).await,
        None => {
            // Same work for unknown names, so timing does not tell which names exist.
            let _ = hash_password(&Secret::new("x".repeat(MIN_PASSWORD_CHARS))).await;
            false
        }
    };
    let actor = Actor { name, peer };
    let Some(row) = row.filter(|_| ok) else {
        audit(
            store,
            &actor,
            "login",
            name,
            Err("wrong user name or password"),
        )
        .await;
        return Err(AuthError::BadCredentials);
    };
    let who = caller(row)?;
    let token = issue_token(store, &actor, name, "login").await?;
    audit(store, &actor, "login", name, Ok(())).await;
    Ok((who, token))
}
