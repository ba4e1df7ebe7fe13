//! Conversions between domain values and column values.

use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::{Duration, OffsetDateTime};

use super::error::{Result, corrupt, unencodable};
use crate::domain::quota::{Allotment, Quota};

/// JSON text of `v`, bound as `$n::jsonb`.
pub(super) fn to_json<T: Serialize>(what: &str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| unencodable(what, e))
}

/// Decodes JSON text (read as `data::text`).
pub(super) fn from_json<T: DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(what, e))
}

/// A column of `row`.
pub(super) fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(|e| corrupt(column, e))
}

/// The JSON document in column `data` (selected as `data::text AS data`).
pub(super) fn data<T: DeserializeOwned>(what: &str, row: &PgRow) -> Result<T> {
    from_json(what, &get::<String>(row, "data")?)
}

/// A counter column.
pub(super) fn count(what: &str, v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|e| corrupt(what, e))
}

/// A version for a BIGINT column.
pub(super) fn version_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|e| unencodable("version", e))
}

/// A version read from a BIGINT column.
pub(super) fn version_u64(what: &str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|e| corrupt(what, e))
}

/// An id stored as text.
pub(super) fn parse_id<T: FromStr>(what: &str, s: &str) -> Result<T>
where
    T::Err: core::fmt::Display,
{
    s.parse().map_err(|e| corrupt(what, e))
}

/// A quota from its three columns.
pub(super) fn quota(what: &str, allotment: i64, issued: i64, reserved: i64) -> Result<Quota> {
    Ok(Quota {
        allotment: Allotment::from_wire(allotment).map_err(|e| corrupt(what, e))?,
        issued: count(what, issued)?,
        reserved: count(what, reserved)?,
    })
}

/// An instant as `(microseconds, nanoseconds below them)`: TIMESTAMPTZ keeps
/// microseconds, and `(ts, ns)` compared as a row orders instants exactly.
pub(super) fn split(t: OffsetDateTime) -> (OffsetDateTime, i32) {
    let ns = t.nanosecond() % 1_000;
    (
        t - Duration::nanoseconds(i64::from(ns)),
        i32::try_from(ns).unwrap_or_default(),
    )
}

/// An instant with its sub-microsecond part dropped (for informational columns).
pub(super) fn micros(t: OffsetDateTime) -> OffsetDateTime {
    split(t).0
}
