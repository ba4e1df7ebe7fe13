//! Keyset listings by id: `WHERE id > $1 ORDER BY id LIMIT $2`, the cursor being
//! the last id of the previous page (exclusive). Ids are hyphenated lowercase
//! UUIDs, whose text order is the order of the ids. Each page is one statement.

use serde::de::DeserializeOwned;
use sqlx::PgExecutor;

use super::error::Result;
use super::points;
use super::value::data;
use crate::domain::agents::IssuingPoint;

/// One page of the `data` documents of a table; `sql` selects `data::text AS
/// data` with the cursor and the limit as `$1` and `$2`.
pub(super) async fn page<T: DeserializeOwned>(
    ex: impl PgExecutor<'_>,
    sql: &'static str,
    what: &str,
    after: Option<String>,
    limit: u32,
) -> Result<Vec<T>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // Without a cursor, `id > ''` holds for every (non-empty) id.
    let rows = sqlx::query(sql)
        .bind(after.unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(ex)
        .await?;
    rows.iter().map(|r| data(what, r)).collect()
}

/// A page of points with their counters, as [`points::load`] reads them, in one
/// statement (a consistent snapshot).
pub(super) async fn point_page(
    ex: impl PgExecutor<'_>,
    after: Option<String>,
    limit: u32,
) -> Result<Vec<IssuingPoint>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT p.id, p.limit_allotment, p.limit_issued, p.limit_reserved, p.data::text AS data, \
         q.product_id, q.allotment, q.issued, q.reserved \
         FROM (SELECT * FROM points WHERE id > $1 ORDER BY id LIMIT $2) AS p \
         LEFT JOIN point_quantities AS q ON q.point_id = p.id \
         ORDER BY p.id, q.product_id",
    )
    .bind(after.unwrap_or_default())
    .bind(i64::from(limit))
    .fetch_all(ex)
    .await?;
    points::from_rows(&rows)
}
