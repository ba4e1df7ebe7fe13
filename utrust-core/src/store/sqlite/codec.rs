//! Conversions between domain values and SQLite values, and the mapping of
//! sqlx errors to [`StoreError`].

use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::Sqlite;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::quota::{Allotment, Quota};
use crate::ports::StoreError;

pub(super) fn db(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// `SQLITE_BUSY` (5) or `SQLITE_LOCKED` (6), including their extended codes.
pub(super) fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

/// Maps an insert failure: unique violations become [`StoreError::Duplicate`].
pub(super) fn insert_error(
    e: sqlx::Error,
    entity: &'static str,
    field: &'static str,
) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate { entity, field }
    } else {
        db(e)
    }
}

pub(super) fn corrupt(what: &str, e: impl core::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(super) fn to_json<T: Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(format!("cannot encode {what}: {e}")))
}

pub(super) fn from_json<T: DeserializeOwned>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt(what, e))
}

pub(super) fn ts(t: OffsetDateTime) -> Result<String, StoreError> {
    t.format(&Rfc3339)
        .map_err(|e| StoreError::Backend(format!("cannot format timestamp: {e}")))
}

pub(super) fn parse_ts(what: &str, s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| corrupt(what, e))
}

pub(super) fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column).map_err(|e| corrupt(column, e))
}

pub(super) fn count(what: &str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|e| corrupt(what, e))
}

pub(super) fn version_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v)
        .map_err(|_| StoreError::Backend(format!("application version {v} out of range")))
}

pub(super) fn parse_id<T: FromStr>(what: &str, s: &str) -> Result<T, StoreError>
where
    T::Err: core::fmt::Display,
{
    s.parse().map_err(|e| corrupt(what, e))
}

pub(super) fn quota_from_row(
    what: &str,
    allotment: i64,
    issued: i64,
    reserved: i64,
) -> Result<Quota, StoreError> {
    Ok(Quota {
        allotment: Allotment::from_wire(allotment).map_err(|e| corrupt(what, e))?,
        issued: count(what, issued)?,
        reserved: count(what, reserved)?,
    })
}

/// An instant as `(Unix seconds, nanoseconds within the second)`: exact, and
/// ordered chronologically when compared as an SQL row value.
pub(super) fn instant(t: OffsetDateTime) -> (i64, i64) {
    (t.unix_timestamp(), i64::from(t.nanosecond()))
}
