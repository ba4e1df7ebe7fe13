//! Organizations, branches and issuing points with their quotas.

use std::collections::BTreeMap;

use sqlx::sqlite::SqliteConnection;

use crate::domain::agents::{Branch, IssuingPoint, Organization};
use crate::domain::ids::{BranchId, OrganizationId, PointId, ProductId};
use crate::domain::quota::{Allotment, QuotaError, QuotaScope};
use crate::ports::StoreError;

use super::codec::{count, db, from_json, get, parse_id, quota_from_row, to_json};
use super::{SqliteStore, exists, finish};

pub(super) fn point_not_found(id: PointId) -> StoreError {
    StoreError::NotFound {
        entity: "point",
        id: id.to_string(),
    }
}

pub(super) async fn load_point(
    conn: &mut SqliteConnection,
    id: PointId,
) -> Result<Option<IssuingPoint>, StoreError> {
    let row = sqlx::query(
        "SELECT limit_allotment, limit_issued, limit_reserved, data FROM points WHERE id = ?",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    let data: String = get(&row, "data")?;
    let mut point: IssuingPoint = from_json("point", &data)?;
    point.limit = quota_from_row(
        "point limit",
        get(&row, "limit_allotment")?,
        get(&row, "limit_issued")?,
        get(&row, "limit_reserved")?,
    )?;
    let rows = sqlx::query(
        "SELECT product_id, allotment, issued, reserved FROM point_quantities WHERE point_id = ?",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut quantities = BTreeMap::new();
    for row in &rows {
        let product: String = get(row, "product_id")?;
        quantities.insert(
            parse_id::<ProductId>("point quantity product", &product)?,
            quota_from_row(
                "point quantity",
                get(row, "allotment")?,
                get(row, "issued")?,
                get(row, "reserved")?,
            )?,
        );
    }
    point.quantities = quantities;
    Ok(Some(point))
}

/// The descriptive JSON of a point: limit and quantities live in columns and rows.
pub(super) fn point_document(point: &IssuingPoint) -> Result<String, StoreError> {
    let mut doc = point.clone();
    doc.quantities = BTreeMap::new();
    to_json("point", &doc)
}

/// Issued + reserved of a quota row, for [`QuotaError::BelowUsage`].
pub(super) async fn usage(
    conn: &mut SqliteConnection,
    sql: &'static str,
    binds: &[String],
) -> Result<Option<u32>, StoreError> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(b.clone());
    }
    let row = q.fetch_optional(&mut *conn).await.map_err(db)?;
    match row {
        None => Ok(None),
        Some(row) => Ok(Some(count("quota usage", get(&row, "used")?)?)),
    }
}

pub(super) async fn insert_organization(
    s: &SqliteStore,
    org: &Organization,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO organizations (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data",
    )
    .bind(org.id.to_string())
    .bind(to_json("organization", org)?)
    .execute(&s.pool)
    .await
    .map_err(db)?;
    Ok(())
}

pub(super) async fn organization(
    s: &SqliteStore,
    id: OrganizationId,
) -> Result<Option<Organization>, StoreError> {
    s.fetch_data(
        "SELECT data FROM organizations WHERE id = ?",
        id.to_string(),
    )
    .await?
    .map(|d| from_json("organization", &d))
    .transpose()
}

pub(super) async fn update_organization(
    s: &SqliteStore,
    org: &Organization,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE organizations SET data = ? WHERE id = ?")
        .bind(to_json("organization", org)?)
        .bind(org.id.to_string())
        .execute(&s.pool)
        .await
        .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            entity: "organization",
            id: org.id.to_string(),
        });
    }
    Ok(())
}

pub(super) async fn insert_branch(s: &SqliteStore, branch: &Branch) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO branches (id, organization_id, data) VALUES (?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, data = excluded.data",
    )
    .bind(branch.id.to_string())
    .bind(branch.organization_id.to_string())
    .bind(to_json("branch", branch)?)
    .execute(&s.pool)
    .await
    .map_err(db)?;
    Ok(())
}

pub(super) async fn branch(s: &SqliteStore, id: BranchId) -> Result<Option<Branch>, StoreError> {
    s.fetch_data("SELECT data FROM branches WHERE id = ?", id.to_string())
        .await?
        .map(|d| from_json("branch", &d))
        .transpose()
}

pub(super) async fn update_branch(s: &SqliteStore, branch: &Branch) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE branches SET organization_id = ?, data = ? WHERE id = ?")
        .bind(branch.organization_id.to_string())
        .bind(to_json("branch", branch)?)
        .bind(branch.id.to_string())
        .execute(&s.pool)
        .await
        .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            entity: "branch",
            id: branch.id.to_string(),
        });
    }
    Ok(())
}

pub(super) async fn insert_point(s: &SqliteStore, point: &IssuingPoint) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        let id = point.id.to_string();
        // As the memory store: a known id is replaced, counters included.
        sqlx::query(
            "INSERT INTO points (id, organization_id, limit_allotment, limit_issued, limit_reserved, data) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET \
             organization_id = excluded.organization_id, limit_allotment = excluded.limit_allotment, \
             limit_issued = excluded.limit_issued, limit_reserved = excluded.limit_reserved, data = excluded.data",
        )
        .bind(id.clone())
        .bind(point.organization_id.to_string())
        .bind(point.limit.allotment.to_wire())
        .bind(i64::from(point.limit.issued))
        .bind(i64::from(point.limit.reserved))
        .bind(point_document(point)?)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("DELETE FROM point_quantities WHERE point_id = ?")
            .bind(id.clone())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for (product, q) in &point.quantities {
            sqlx::query(
                "INSERT INTO point_quantities (point_id, product_id, allotment, issued, reserved) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(id.clone())
            .bind(product.to_string())
            .bind(q.allotment.to_wire())
            .bind(i64::from(q.issued))
            .bind(i64::from(q.reserved))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        Ok(())
    }
    .await;
    finish(tx, result).await
}

pub(super) async fn point(
    s: &SqliteStore,
    id: PointId,
) -> Result<Option<IssuingPoint>, StoreError> {
    let mut tx = s.read_tx().await?;
    let result = load_point(&mut tx, id).await;
    finish(tx, result).await
}

pub(super) async fn update_point(s: &SqliteStore, point: &IssuingPoint) -> Result<(), StoreError> {
    // Only the descriptive fields: limit, quantities and counters stay as stored.
    let done = sqlx::query("UPDATE points SET organization_id = ?, data = ? WHERE id = ?")
        .bind(point.organization_id.to_string())
        .bind(point_document(point)?)
        .bind(point.id.to_string())
        .execute(&s.pool)
        .await
        .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(point_not_found(point.id));
    }
    Ok(())
}

pub(super) async fn set_point_limit(
    s: &SqliteStore,
    id: PointId,
    limit: Allotment,
) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        let wire = limit.to_wire();
        let done = sqlx::query(
            "UPDATE points SET limit_allotment = ? WHERE id = ? \
             AND (? = -1 OR limit_issued + limit_reserved <= ?)",
        )
        .bind(wire)
        .bind(id.to_string())
        .bind(wire)
        .bind(wire)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() > 0 {
            return Ok(());
        }
        let used = usage(
            &mut tx,
            "SELECT limit_issued + limit_reserved AS used FROM points WHERE id = ?",
            &[id.to_string()],
        )
        .await?
        .ok_or_else(|| point_not_found(id))?;
        Err(QuotaError::BelowUsage {
            scope: QuotaScope::PointLimit(id),
            requested: match limit {
                Allotment::Finite(n) => n,
                Allotment::Unlimited => 0,
            },
            used,
        }
        .into())
    }
    .await;
    finish(tx, result).await
}

pub(super) async fn set_point_quantity(
    s: &SqliteStore,
    id: PointId,
    product: ProductId,
    quantity: Allotment,
) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        if !exists(&mut tx, "SELECT 1 FROM points WHERE id = ?", id.to_string()).await? {
            return Err(point_not_found(id));
        }
        let wire = quantity.to_wire();
        let done = sqlx::query(
            "INSERT INTO point_quantities (point_id, product_id, allotment, issued, reserved) \
             VALUES (?, ?, ?, 0, 0) ON CONFLICT (point_id, product_id) DO UPDATE \
             SET allotment = excluded.allotment \
             WHERE excluded.allotment = -1 OR point_quantities.issued + point_quantities.reserved <= excluded.allotment",
        )
        .bind(id.to_string())
        .bind(product.to_string())
        .bind(wire)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() > 0 {
            return Ok(());
        }
        let used = usage(
            &mut tx,
            "SELECT issued + reserved AS used FROM point_quantities WHERE point_id = ? AND product_id = ?",
            &[id.to_string(), product.to_string()],
        )
        .await?
        .ok_or_else(|| point_not_found(id))?;
        Err(QuotaError::BelowUsage {
            scope: QuotaScope::ProductQuantity(id, product),
            requested: match quantity {
                Allotment::Finite(n) => n,
                Allotment::Unlimited => 0,
            },
            used,
        }
        .into())
    }
    .await;
    finish(tx, result).await
}
