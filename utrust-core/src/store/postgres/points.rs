//! Issuing points and their quotas. Counters live only in columns; every debit is
//! a conditional `UPDATE` whose affected-row count decides (the row lock it takes
//! serializes racing debits, and READ COMMITTED re-checks the condition on the
//! latest row version), never a read-modify-write.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::error::{Failure, Result, not_found};
use super::value::{count, data, get, parse_id, quota, to_json};
use crate::domain::agents::IssuingPoint;
use crate::domain::ids::{PointId, ProductId};
use crate::domain::quota::{Allotment, QuotaError, QuotaScope};

fn point_not_found(id: PointId) -> Failure {
    not_found("point", id)
}

/// The descriptive JSON of a point: limit and quantities live in columns and rows.
fn point_document(point: &IssuingPoint) -> Result<String> {
    let mut doc = point.clone();
    doc.quantities = BTreeMap::new();
    to_json("point", &doc)
}

async fn point_exists(conn: &mut PgConnection, id: PointId) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM points WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

/// As the memory store: a known id is replaced, counters included.
pub(super) async fn insert(conn: &mut PgConnection, point: &IssuingPoint) -> Result<()> {
    let id = point.id.to_string();
    sqlx::query(
        "INSERT INTO points (id, organization_id, limit_allotment, limit_issued, limit_reserved, data) \
         VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (id) DO UPDATE SET \
         organization_id = excluded.organization_id, limit_allotment = excluded.limit_allotment, \
         limit_issued = excluded.limit_issued, limit_reserved = excluded.limit_reserved, data = excluded.data",
    )
    .bind(id.clone())
    .bind(point.organization_id.to_string())
    .bind(point.limit.allotment.to_wire())
    .bind(i64::from(point.limit.issued))
    .bind(i64::from(point.limit.reserved))
    .bind(point_document(point)?)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM point_quantities WHERE point_id = $1")
        .bind(id.clone())
        .execute(&mut *conn)
        .await?;
    for (product, q) in &point.quantities {
        sqlx::query(
            "INSERT INTO point_quantities (point_id, product_id, allotment, issued, reserved) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.clone())
        .bind(product.to_string())
        .bind(q.allotment.to_wire())
        .bind(i64::from(q.issued))
        .bind(i64::from(q.reserved))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A point with its counters, read in one statement (a consistent snapshot).
pub(super) async fn load(conn: &mut PgConnection, id: PointId) -> Result<Option<IssuingPoint>> {
    let rows = sqlx::query(
        "SELECT p.id, p.limit_allotment, p.limit_issued, p.limit_reserved, p.data::text AS data, \
         q.product_id, q.allotment, q.issued, q.reserved \
         FROM points AS p LEFT JOIN point_quantities AS q ON q.point_id = p.id \
         WHERE p.id = $1",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    Ok(from_rows(&rows)?.into_iter().next())
}

/// Points with their counters from rows of points left-joined with their
/// quantities (columns `id`, `limit_*`, `data`, `product_id`, `allotment`,
/// `issued`, `reserved`), the rows of one point adjacent; in row order.
pub(super) fn from_rows(rows: &[PgRow]) -> Result<Vec<IssuingPoint>> {
    let mut points: Vec<(String, IssuingPoint)> = Vec::new();
    for row in rows {
        let id: String = get(row, "id")?;
        if points.last().is_none_or(|(last, _)| *last != id) {
            let mut point: IssuingPoint = data("point", row)?;
            point.limit = quota(
                "point limit",
                get(row, "limit_allotment")?,
                get(row, "limit_issued")?,
                get(row, "limit_reserved")?,
            )?;
            point.quantities = BTreeMap::new();
            points.push((id, point));
        }
        let Some(product) = get::<Option<String>>(row, "product_id")? else {
            continue;
        };
        let q = quota(
            "point quantity",
            get(row, "allotment")?,
            get(row, "issued")?,
            get(row, "reserved")?,
        )?;
        if let Some((_, point)) = points.last_mut() {
            point.quantities.insert(
                parse_id::<ProductId>("point quantity product", &product)?,
                q,
            );
        }
    }
    Ok(points.into_iter().map(|(_, p)| p).collect())
}

/// Only the descriptive fields: limit, quantities and counters stay as stored.
pub(super) async fn update(conn: &mut PgConnection, point: &IssuingPoint) -> Result<()> {
    let done =
        sqlx::query("UPDATE points SET organization_id = $1, data = $2::jsonb WHERE id = $3")
            .bind(point.organization_id.to_string())
            .bind(point_document(point)?)
            .bind(point.id.to_string())
            .execute(&mut *conn)
            .await?;
    if done.rows_affected() == 0 {
        return Err(point_not_found(point.id));
    }
    Ok(())
}

fn requested(a: Allotment) -> u32 {
    match a {
        Allotment::Finite(n) => n,
        Allotment::Unlimited => 0,
    }
}

pub(super) async fn set_limit(
    conn: &mut PgConnection,
    id: PointId,
    limit: Allotment,
) -> Result<()> {
    let wire = limit.to_wire();
    let done = sqlx::query(
        "UPDATE points SET limit_allotment = $1 WHERE id = $2 \
         AND ($1 = -1 OR limit_issued + limit_reserved <= $1)",
    )
    .bind(wire)
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() > 0 {
        return Ok(());
    }
    let row = sqlx::query("SELECT limit_issued + limit_reserved AS used FROM points WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Err(point_not_found(id));
    };
    let used: i64 = get(&row, "used")?;
    Err(QuotaError::BelowUsage {
        scope: QuotaScope::PointLimit(id),
        requested: requested(limit),
        used: count("quota usage", used)?,
    }
    .into())
}

pub(super) async fn set_quantity(
    conn: &mut PgConnection,
    id: PointId,
    product: ProductId,
    quantity: Allotment,
) -> Result<()> {
    if !point_exists(conn, id).await? {
        return Err(point_not_found(id));
    }
    let wire = quantity.to_wire();
    let done = sqlx::query(
        "INSERT INTO point_quantities (point_id, product_id, allotment, issued, reserved) \
         VALUES ($1, $2, $3, 0, 0) ON CONFLICT (point_id, product_id) DO UPDATE \
         SET allotment = excluded.allotment \
         WHERE excluded.allotment = -1 \
         OR point_quantities.issued + point_quantities.reserved <= excluded.allotment",
    )
    .bind(id.to_string())
    .bind(product.to_string())
    .bind(wire)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() > 0 {
        return Ok(());
    }
    let row = sqlx::query(
        "SELECT issued + reserved AS used FROM point_quantities WHERE point_id = $1 AND product_id = $2",
    )
    .bind(id.to_string())
    .bind(product.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Err(point_not_found(id));
    };
    Err(QuotaError::BelowUsage {
        scope: QuotaScope::ProductQuantity(id, product),
        requested: requested(quantity),
        used: count("quota usage", get(&row, "used")?)?,
    }
    .into())
}

/// Reserves one unit of the point's limit and of each listed product quantity
/// (locked in product order, so racing reservations cannot dead-lock).
pub(super) async fn reserve(
    conn: &mut PgConnection,
    point: PointId,
    products: &[ProductId],
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE points SET limit_reserved = limit_reserved + 1 WHERE id = $1 \
         AND (limit_allotment = -1 OR limit_issued + limit_reserved < limit_allotment)",
    )
    .bind(point.to_string())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        if point_exists(conn, point).await? {
            return Err(QuotaError::Exhausted {
                scope: QuotaScope::PointLimit(point),
            }
            .into());
        }
        return Err(point_not_found(point));
    }
    let mut sorted = products.to_vec();
    sorted.sort();
    for product in sorted {
        let done = sqlx::query(
            "UPDATE point_quantities SET reserved = reserved + 1 WHERE point_id = $1 AND product_id = $2 \
             AND (allotment = -1 OR issued + reserved < allotment)",
        )
        .bind(point.to_string())
        .bind(product.to_string())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            return Err(QuotaError::Exhausted {
                scope: QuotaScope::ProductQuantity(point, product),
            }
            .into());
        }
    }
    Ok(())
}

/// Commits (`commit = true`) or releases one unit of each reserved quota.
pub(super) async fn settle(
    conn: &mut PgConnection,
    point: PointId,
    products: &[ProductId],
    commit: bool,
) -> Result<()> {
    let issued_delta = i64::from(commit);
    let done = sqlx::query(
        "UPDATE points SET limit_reserved = GREATEST(limit_reserved - 1, 0), \
         limit_issued = limit_issued + $1 WHERE id = $2",
    )
    .bind(issued_delta)
    .bind(point.to_string())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(point_not_found(point));
    }
    let mut sorted = products.to_vec();
    sorted.sort();
    for product in sorted {
        sqlx::query(
            "UPDATE point_quantities SET reserved = GREATEST(reserved - 1, 0), issued = issued + $1 \
             WHERE point_id = $2 AND product_id = $3",
        )
        .bind(issued_delta)
        .bind(point.to_string())
        .bind(product.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
