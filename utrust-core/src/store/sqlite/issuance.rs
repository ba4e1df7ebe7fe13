//! Issuance: quota reservations, their settlement, and the lapsed-reservation
//! sweep.

use sqlx::sqlite::{SqliteConnection, SqliteRow};
use time::OffsetDateTime;

use crate::domain::application::{Application, HistoryEntry};
use crate::domain::certificate::CertificateRecord;
use crate::domain::ids::{PointId, ProductId, ReservationId};
use crate::domain::quota::{QuotaError, QuotaScope, Reservation};
use crate::ports::StoreError;

use super::agents::point_not_found;
use super::applications::{append_history, update_application_row};
use super::certificates::insert_certificate;
use super::codec::{db, from_json, get, insert_error, instant, parse_id, parse_ts, to_json, ts};
use super::{SqliteStore, exists, finish};

/// Reserves one unit of the point's limit and of each listed product quantity.
pub(super) async fn reserve(
    conn: &mut SqliteConnection,
    r: &Reservation,
) -> Result<(), StoreError> {
    let point = r.point_id.to_string();
    let done = sqlx::query(
        "UPDATE points SET limit_reserved = limit_reserved + 1 WHERE id = ? \
         AND (limit_allotment = -1 OR limit_issued + limit_reserved < limit_allotment)",
    )
    .bind(point.clone())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if done.rows_affected() == 0 {
        if exists(conn, "SELECT 1 FROM points WHERE id = ?", point).await? {
            return Err(QuotaError::Exhausted {
                scope: QuotaScope::PointLimit(r.point_id),
            }
            .into());
        }
        return Err(point_not_found(r.point_id));
    }
    for product in &r.products {
        let done = sqlx::query(
            "UPDATE point_quantities SET reserved = reserved + 1 WHERE point_id = ? AND product_id = ? \
             AND (allotment = -1 OR issued + reserved < allotment)",
        )
        .bind(point.clone())
        .bind(product.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(QuotaError::Exhausted {
                scope: QuotaScope::ProductQuantity(r.point_id, *product),
            }
            .into());
        }
    }
    Ok(())
}

/// Takes an active reservation out of the table.
pub(super) async fn take_reservation(
    conn: &mut SqliteConnection,
    id: ReservationId,
) -> Result<(PointId, Vec<ProductId>), StoreError> {
    let row = sqlx::query("DELETE FROM reservations WHERE id = ? RETURNING point_id, products")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    let Some(row) = row else {
        return Err(StoreError::ReservationGone(id));
    };
    let point: String = get(&row, "point_id")?;
    let products: String = get(&row, "products")?;
    Ok((
        parse_id("reservation point", &point)?,
        from_json("reservation products", &products)?,
    ))
}

/// Commits (`commit = true`) or releases one unit of each reserved quota.
pub(super) async fn settle(
    conn: &mut SqliteConnection,
    point: PointId,
    products: &[ProductId],
    commit: bool,
) -> Result<(), StoreError> {
    let issued_delta = i64::from(commit);
    let done = sqlx::query(
        "UPDATE points SET limit_reserved = MAX(limit_reserved - 1, 0), limit_issued = limit_issued + ? WHERE id = ?",
    )
    .bind(issued_delta)
    .bind(point.to_string())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(point_not_found(point));
    }
    for product in products {
        sqlx::query(
            "UPDATE point_quantities SET reserved = MAX(reserved - 1, 0), issued = issued + ? \
             WHERE point_id = ? AND product_id = ?",
        )
        .bind(issued_delta)
        .bind(point.to_string())
        .bind(product.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

pub(super) async fn begin_issuance(
    s: &SqliteStore,
    app: &Application,
    entry: &HistoryEntry,
    r: &Reservation,
) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        update_application_row(&mut tx, app).await?;
        reserve(&mut tx, r).await?;
        let (expires_s, expires_ns) = instant(r.expires_at);
        sqlx::query(
            "INSERT INTO reservations (id, application_id, point_id, products, expires_at, expires_at_s, \
             expires_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.id.to_string())
        .bind(r.application_id.to_string())
        .bind(r.point_id.to_string())
        .bind(to_json("reservation products", &r.products)?)
        .bind(ts(r.expires_at)?)
        .bind(expires_s)
        .bind(expires_ns)
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "reservation", "id"))?;
        append_history(&mut tx, app.id, entry).await
    }
    .await;
    finish(tx, result).await
}

pub(super) async fn complete_issuance(
    s: &SqliteStore,
    app: &Application,
    entry: &HistoryEntry,
    reservation: ReservationId,
    certificate: &CertificateRecord,
) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        update_application_row(&mut tx, app).await?;
        let (point, products) = take_reservation(&mut tx, reservation).await?;
        insert_certificate(&mut tx, certificate).await?;
        settle(&mut tx, point, &products, true).await?;
        append_history(&mut tx, app.id, entry).await
    }
    .await;
    finish(tx, result).await
}

pub(super) async fn abort_issuance(
    s: &SqliteStore,
    app: &Application,
    entry: &HistoryEntry,
    reservation: ReservationId,
) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        update_application_row(&mut tx, app).await?;
        let (point, products) = take_reservation(&mut tx, reservation).await?;
        settle(&mut tx, point, &products, false).await?;
        append_history(&mut tx, app.id, entry).await
    }
    .await;
    finish(tx, result).await
}

fn reservation_from_row(row: &SqliteRow) -> Result<Reservation, StoreError> {
    let id: String = get(row, "id")?;
    let application: String = get(row, "application_id")?;
    let point: String = get(row, "point_id")?;
    let products: String = get(row, "products")?;
    let expires_at: String = get(row, "expires_at")?;
    Ok(Reservation {
        id: parse_id("reservation id", &id)?,
        application_id: parse_id("reservation application", &application)?,
        point_id: parse_id("reservation point", &point)?,
        products: from_json("reservation products", &products)?,
        expires_at: parse_ts("reservation expires_at", &expires_at)?,
    })
}

pub(super) async fn expired_reservations(
    s: &SqliteStore,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<Reservation>, StoreError> {
    let (now_s, now_ns) = instant(now);
    let rows = sqlx::query(
        "SELECT id, application_id, point_id, products, expires_at FROM reservations \
         WHERE (expires_at_s, expires_at_ns) <= (?, ?) \
         ORDER BY expires_at_s, expires_at_ns, id LIMIT ?",
    )
    .bind(now_s)
    .bind(now_ns)
    .bind(i64::from(limit))
    .fetch_all(&s.pool)
    .await
    .map_err(db)?;
    rows.iter().map(reservation_from_row).collect()
}
