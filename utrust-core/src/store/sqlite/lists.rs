//! Keyset listings by id: `WHERE id > ? ORDER BY id LIMIT ?`, the cursor being
//! the last id of the previous page (exclusive). Ids are hyphenated lowercase
//! UUIDs, whose text order is the order of the ids.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use crate::domain::agents::{Branch, Employee, IssuingPoint, Organization, UserAccount};
use crate::domain::catalog::{Product, Service};
use crate::domain::ids::{
    BranchId, EmployeeId, OrganizationId, PointId, ProductId, ServiceId, UserId,
};
use crate::ports::StoreError;

use super::SqliteStore;
use super::codec::{db, from_json, get, parse_id, quota_from_row};

/// One page of the `data` documents of a table; `sql` selects `data` with the
/// cursor and the limit as its two parameters.
async fn page<T: DeserializeOwned>(
    s: &SqliteStore,
    sql: &'static str,
    what: &str,
    after: Option<String>,
    limit: u32,
) -> Result<Vec<T>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // Without a cursor, `id > ''` holds for every (non-empty) id.
    let rows = sqlx::query(sql)
        .bind(after.unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&s.pool)
        .await
        .map_err(db)?;
    rows.iter()
        .map(|r| from_json(what, &get::<String>(r, "data")?))
        .collect()
}

pub(super) async fn list_users(
    s: &SqliteStore,
    after: Option<UserId>,
    limit: u32,
) -> Result<Vec<UserAccount>, StoreError> {
    page(
        s,
        "SELECT data FROM users WHERE id > ? ORDER BY id LIMIT ?",
        "user",
        after.map(|a| a.to_string()),
        limit,
    )
    .await
}

pub(super) async fn list_employees(
    s: &SqliteStore,
    after: Option<EmployeeId>,
    limit: u32,
) -> Result<Vec<Employee>, StoreError> {
    page(
        s,
        "SELECT data FROM employees WHERE id > ? ORDER BY id LIMIT ?",
        "employee",
        after.map(|a| a.to_string()),
        limit,
    )
    .await
}

pub(super) async fn list_products(
    s: &SqliteStore,
    after: Option<ProductId>,
    limit: u32,
) -> Result<Vec<Product>, StoreError> {
    page(
        s,
        "SELECT data FROM products WHERE id > ? ORDER BY id LIMIT ?",
        "product",
        after.map(|a| a.to_string()),
        limit,
    )
    .await
}

pub(super) async fn list_services(
    s: &SqliteStore,
    after: Option<ServiceId>,
    limit: u32,
) -> Result<Vec<Service>, StoreError> {
    page(
        s,
        "SELECT data FROM services WHERE id > ? ORDER BY id LIMIT ?",
        "service",
        after.map(|a| a.to_string()),
        limit,
    )
    .await
}

pub(super) async fn list_organizations(
    s: &SqliteStore,
    after: Option<OrganizationId>,
    limit: u32,
) -> Result<Vec<Organization>, StoreError> {
    page(
        s,
        "SELECT data FROM organizations WHERE id > ? ORDER BY id LIMIT ?",
        "organization",
        after.map(|a| a.to_string()),
        limit,
    )
    .await
}

pub(super) async fn list_branches(
    s: &SqliteStore,
    after: Option<BranchId>,
    limit: u32,
) -> Result<Vec<Branch>, StoreError> {
    page(
        s,
        "SELECT data FROM branches WHERE id > ? ORDER BY id LIMIT ?",
        "branch",
        after.map(|a| a.to_string()),
        limit,
    )
    .await
}

/// A page of points with their counters, as [`point`](super::agents::point)
/// reads them, in one statement (a consistent snapshot): the page of points
/// joined with their quantities, one row per quantity (or one with NULLs).
pub(super) async fn list_points(
    s: &SqliteStore,
    after: Option<PointId>,
    limit: u32,
) -> Result<Vec<IssuingPoint>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT p.id, p.limit_allotment, p.limit_issued, p.limit_reserved, p.data, \
         q.product_id, q.allotment, q.issued, q.reserved \
         FROM (SELECT * FROM points WHERE id > ? ORDER BY id LIMIT ?) AS p \
         LEFT JOIN point_quantities AS q ON q.point_id = p.id \
         ORDER BY p.id, q.product_id",
    )
    .bind(after.map(|a| a.to_string()).unwrap_or_default())
    .bind(i64::from(limit))
    .fetch_all(&s.pool)
    .await
    .map_err(db)?;
    let mut points: Vec<(String, IssuingPoint)> = Vec::new();
    for row in &rows {
        let id: String = get(row, "id")?;
        if points.last().is_none_or(|(last, _)| *last != id) {
            let mut point: IssuingPoint = from_json("point", &get::<String>(row, "data")?)?;
            point.limit = quota_from_row(
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
        let quota = quota_from_row(
            "point quantity",
            get(row, "allotment")?,
            get(row, "issued")?,
            get(row, "reserved")?,
        )?;
        if let Some((_, point)) = points.last_mut() {
            point.quantities.insert(
                parse_id::<ProductId>("point quantity product", &product)?,
                quota,
            );
        }
    }
    Ok(points.into_iter().map(|(_, p)| p).collect())
}
