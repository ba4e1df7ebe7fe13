//! Errors inside the PostgreSQL store: a [`Failure`] is either final (a
//! [`StoreError`]) or transient (serialization failure or deadlock), in which case
//! the whole unit of work is run again.

use crate::domain::quota::QuotaError;
use crate::ports::StoreError;

/// SQLSTATE `serialization_failure`.
const SERIALIZATION_FAILURE: &str = "40001";
/// SQLSTATE `deadlock_detected`.
const DEADLOCK_DETECTED: &str = "40P01";

/// Why a unit of work failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// Final: returned to the caller.
    Store(StoreError),
    /// PostgreSQL aborted the transaction to resolve a conflict; running it again
    /// may succeed.
    Transient(String),
}

/// Results inside the store.
pub(super) type Result<T> = core::result::Result<T, Failure>;

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<QuotaError> for Failure {
    fn from(e: QuotaError) -> Self {
        Self::Store(StoreError::Quota(e))
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        if is_transient(&e) {
            Self::Transient(e.to_string())
        } else {
            Self::Store(StoreError::Backend(e.to_string()))
        }
    }
}

impl From<Failure> for StoreError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Store(e) => e,
            Failure::Transient(m) => StoreError::Backend(format!("gave up retrying: {m}")),
        }
    }
}

fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Serialization failures (40001) and deadlocks (40P01).
fn is_transient(e: &sqlx::Error) -> bool {
    sqlstate(e).is_some_and(|c| c == SERIALIZATION_FAILURE || c == DEADLOCK_DETECTED)
}

/// Maps an insert failure: unique violations (23505) become
/// [`StoreError::Duplicate`].
pub(super) fn insert_error(e: sqlx::Error, entity: &'static str, field: &'static str) -> Failure {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Failure::Store(StoreError::Duplicate { entity, field })
        }
        _ => e.into(),
    }
}

/// Stored data that does not decode.
pub(super) fn corrupt(what: &str, e: impl core::fmt::Display) -> Failure {
    Failure::Store(StoreError::Corrupt(format!("{what}: {e}")))
}

/// A value that cannot be written.
pub(super) fn unencodable(what: &str, e: impl core::fmt::Display) -> Failure {
    Failure::Store(StoreError::Backend(format!("cannot encode {what}: {e}")))
}

/// The record to change does not exist.
pub(super) fn not_found(entity: &'static str, id: impl ToString) -> Failure {
    Failure::Store(StoreError::NotFound {
        entity,
        id: id.to_string(),
    })
}
