//! User accounts, employees, sessions and API tokens: documents with their
//! unique keys in columns (`UNIQUE` decides races between processes).

use sqlx::{PgConnection, PgExecutor};

use super::error::{Result, insert_error, not_found};
use super::value::{data, split, to_json};
use crate::domain::agents::{Employee, UserAccount};
use crate::ports::{Session, SessionKind, StoreError};

/// The `kind` column of a session.
fn kind_str(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Session => "session",
        SessionKind::ApiToken => "api_token",
    }
}

/// The `data` document of the row whose key is `key`, decoded.
async fn document<'c, T: serde::de::DeserializeOwned>(
    ex: impl PgExecutor<'c>,
    sql: &'static str,
    what: &str,
    key: String,
) -> Result<Option<T>> {
    let row = sqlx::query(sql).bind(key).fetch_optional(ex).await?;
    row.map(|r| data(what, &r)).transpose()
}

/// As the memory store: a login taken by another user is refused, a known id is
/// replaced.
pub(super) async fn insert_user(conn: &mut PgConnection, user: &UserAccount) -> Result<()> {
    let taken = sqlx::query("SELECT 1 FROM users WHERE username = $1 AND id <> $2")
        .bind(user.username.clone())
        .bind(user.id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if taken {
        return Err(StoreError::Duplicate {
            entity: "user",
            field: "username",
        }
        .into());
    }
    sqlx::query(
        "INSERT INTO users (id, username, data) VALUES ($1, $2, $3::jsonb) \
         ON CONFLICT (id) DO UPDATE SET username = excluded.username, data = excluded.data",
    )
    .bind(user.id.to_string())
    .bind(user.username.clone())
    .bind(to_json("user", user)?)
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, "user", "username"))?;
    Ok(())
}

pub(super) async fn user(ex: impl PgExecutor<'_>, id: String) -> Result<Option<UserAccount>> {
    document(
        ex,
        "SELECT data::text AS data FROM users WHERE id = $1",
        "user",
        id,
    )
    .await
}

pub(super) async fn user_by_username(
    ex: impl PgExecutor<'_>,
    username: String,
) -> Result<Option<UserAccount>> {
    document(
        ex,
        "SELECT data::text AS data FROM users WHERE username = $1",
        "user",
        username,
    )
    .await
}

/// Not found before duplicate, as the memory store: an absent id changes no row
/// (and so cannot collide); a present one with a taken login violates `UNIQUE`.
pub(super) async fn update_user(ex: impl PgExecutor<'_>, user: &UserAccount) -> Result<()> {
    let done = sqlx::query("UPDATE users SET username = $1, data = $2::jsonb WHERE id = $3")
        .bind(user.username.clone())
        .bind(to_json("user", user)?)
        .bind(user.id.to_string())
        .execute(ex)
        .await
        .map_err(|e| insert_error(e, "user", "username"))?;
    if done.rows_affected() == 0 {
        return Err(not_found("user", user.id));
    }
    Ok(())
}

/// As the memory store: a user who has an employee record under another id is
/// refused, a known id is replaced.
pub(super) async fn insert_employee(conn: &mut PgConnection, employee: &Employee) -> Result<()> {
    let taken = sqlx::query("SELECT 1 FROM employees WHERE user_id = $1 AND id <> $2")
        .bind(employee.user_id.to_string())
        .bind(employee.id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if taken {
        return Err(StoreError::Duplicate {
            entity: "employee",
            field: "user_id",
        }
        .into());
    }
    sqlx::query(
        "INSERT INTO employees (id, user_id, data) VALUES ($1, $2, $3::jsonb) \
         ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, data = excluded.data",
    )
    .bind(employee.id.to_string())
    .bind(employee.user_id.to_string())
    .bind(to_json("employee", employee)?)
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, "employee", "user_id"))?;
    Ok(())
}

pub(super) async fn employee(ex: impl PgExecutor<'_>, id: String) -> Result<Option<Employee>> {
    document(
        ex,
        "SELECT data::text AS data FROM employees WHERE id = $1",
        "employee",
        id,
    )
    .await
}

pub(super) async fn employee_by_user(
    ex: impl PgExecutor<'_>,
    user: String,
) -> Result<Option<Employee>> {
    document(
        ex,
        "SELECT data::text AS data FROM employees WHERE user_id = $1",
        "employee",
        user,
    )
    .await
}

pub(super) async fn insert_session(ex: impl PgExecutor<'_>, session: &Session) -> Result<()> {
    let (created, _) = split(session.created_at);
    let expires = session.expires_at.map(split);
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, kind, created_at, expires_at, expires_at_ns, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
    )
    .bind(session.token_hash.clone())
    .bind(session.user_id.to_string())
    .bind(kind_str(session.kind))
    .bind(created)
    .bind(expires.map(|e| e.0))
    .bind(expires.map(|e| e.1))
    .bind(to_json("session", session)?)
    .execute(ex)
    .await
    .map_err(|e| insert_error(e, "session", "token_hash"))?;
    Ok(())
}

pub(super) async fn session(
    ex: impl PgExecutor<'_>,
    token_hash: String,
) -> Result<Option<Session>> {
    document(
        ex,
        "SELECT data::text AS data FROM sessions WHERE token_hash = $1",
        "session",
        token_hash,
    )
    .await
}

/// Idempotent: deleting an unknown token is not an error.
pub(super) async fn delete_session(ex: impl PgExecutor<'_>, token_hash: String) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(ex)
        .await?;
    Ok(())
}
