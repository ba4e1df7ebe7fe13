//! User accounts, employees, sessions and API tokens.

use crate::domain::agents::{Employee, UserAccount};
use crate::domain::ids::{EmployeeId, UserId};
use crate::ports::{Session, SessionKind, StoreError};

use super::codec::{db, from_json, insert_error, instant, to_json, ts};
use super::{SqliteStore, finish};

fn duplicate_username() -> StoreError {
    StoreError::Duplicate {
        entity: "user",
        field: "username",
    }
}

fn duplicate_employee() -> StoreError {
    StoreError::Duplicate {
        entity: "employee",
        field: "user_id",
    }
}

/// The `kind` column of a session.
fn kind_str(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Session => "session",
        SessionKind::ApiToken => "api_token",
    }
}

/// As the memory store: a login taken by another user is refused, a known id is
/// replaced.
pub(super) async fn insert_user(s: &SqliteStore, user: &UserAccount) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        let taken = sqlx::query("SELECT 1 FROM users WHERE username = ? AND id <> ?")
            .bind(user.username.clone())
            .bind(user.id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .is_some();
        if taken {
            return Err(duplicate_username());
        }
        sqlx::query(
            "INSERT INTO users (id, username, data) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET username = excluded.username, data = excluded.data",
        )
        .bind(user.id.to_string())
        .bind(user.username.clone())
        .bind(to_json("user", user)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "user", "username"))?;
        Ok(())
    }
    .await;
    finish(tx, result).await
}

pub(super) async fn user(s: &SqliteStore, id: UserId) -> Result<Option<UserAccount>, StoreError> {
    s.fetch_data("SELECT data FROM users WHERE id = ?", id.to_string())
        .await?
        .map(|d| from_json("user", &d))
        .transpose()
}

pub(super) async fn user_by_username(
    s: &SqliteStore,
    username: &str,
) -> Result<Option<UserAccount>, StoreError> {
    s.fetch_data(
        "SELECT data FROM users WHERE username = ?",
        username.to_owned(),
    )
    .await?
    .map(|d| from_json("user", &d))
    .transpose()
}

/// Not found before duplicate, as the memory store: an absent id changes no row
/// (and so cannot collide); a present one with a taken login violates `UNIQUE`.
pub(super) async fn update_user(s: &SqliteStore, user: &UserAccount) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE users SET username = ?, data = ? WHERE id = ?")
        .bind(user.username.clone())
        .bind(to_json("user", user)?)
        .bind(user.id.to_string())
        .execute(&s.pool)
        .await
        .map_err(|e| insert_error(e, "user", "username"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            entity: "user",
            id: user.id.to_string(),
        });
    }
    Ok(())
}

/// As the memory store: a user who has an employee record under another id is
/// refused, a known id is replaced.
pub(super) async fn insert_employee(
    s: &SqliteStore,
    employee: &Employee,
) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        let taken = sqlx::query("SELECT 1 FROM employees WHERE user_id = ? AND id <> ?")
            .bind(employee.user_id.to_string())
            .bind(employee.id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .is_some();
        if taken {
            return Err(duplicate_employee());
        }
        sqlx::query(
            "INSERT INTO employees (id, user_id, data) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, data = excluded.data",
        )
        .bind(employee.id.to_string())
        .bind(employee.user_id.to_string())
        .bind(to_json("employee", employee)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "employee", "user_id"))?;
        Ok(())
    }
    .await;
    finish(tx, result).await
}

pub(super) async fn employee(
    s: &SqliteStore,
    id: EmployeeId,
) -> Result<Option<Employee>, StoreError> {
    s.fetch_data("SELECT data FROM employees WHERE id = ?", id.to_string())
        .await?
        .map(|d| from_json("employee", &d))
        .transpose()
}

pub(super) async fn employee_by_user(
    s: &SqliteStore,
    user: UserId,
) -> Result<Option<Employee>, StoreError> {
    s.fetch_data(
        "SELECT data FROM employees WHERE user_id = ?",
        user.to_string(),
    )
    .await?
    .map(|d| from_json("employee", &d))
    .transpose()
}

pub(super) async fn insert_session(s: &SqliteStore, session: &Session) -> Result<(), StoreError> {
    let (expires_s, expires_ns) = match session.expires_at.map(instant) {
        Some((sec, ns)) => (Some(sec), Some(ns)),
        None => (None, None),
    };
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, kind, created_at, expires_at_s, expires_at_ns, data) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(session.token_hash.clone())
    .bind(session.user_id.to_string())
    .bind(kind_str(session.kind))
    .bind(ts(session.created_at)?)
    .bind(expires_s)
    .bind(expires_ns)
    .bind(to_json("session", session)?)
    .execute(&s.pool)
    .await
    .map_err(|e| insert_error(e, "session", "token_hash"))?;
    Ok(())
}

pub(super) async fn session(
    s: &SqliteStore,
    token_hash: &str,
) -> Result<Option<Session>, StoreError> {
    s.fetch_data(
        "SELECT data FROM sessions WHERE token_hash = ?",
        token_hash.to_owned(),
    )
    .await?
    .map(|d| from_json("session", &d))
    .transpose()
}

/// Idempotent: deleting an unknown token is not an error.
pub(super) async fn delete_session(s: &SqliteStore, token_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
        .bind(token_hash.to_owned())
        .execute(&s.pool)
        .await
        .map_err(db)?;
    Ok(())
}
