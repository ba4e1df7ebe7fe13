//! Applications (version-checked), their history and the reservations of
//! issuances in flight.

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgExecutor};
use time::OffsetDateTime;

use super::error::{Failure, Result, insert_error, not_found};
use super::value::{data, get, micros, parse_id, split, to_json, version_i64, version_u64};
use crate::domain::application::{Application, HistoryEntry};
use crate::domain::ids::{ApplicationId, PointId, ProductId, ReservationId};
use crate::domain::quota::Reservation;
use crate::ports::{ApplicationFilter, StoreError};

/// The JSON document of an application: the CSR lives in its own column.
fn document(app: &Application) -> Result<String> {
    let mut doc = app.clone();
    doc.csr_der = None;
    to_json("application", &doc)
}

pub(super) async fn insert(conn: &mut PgConnection, app: &Application) -> Result<()> {
    sqlx::query(
        "INSERT INTO applications (id, version, status, point_id, service_id, created_at, updated_at, csr_der, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)",
    )
    .bind(app.id.to_string())
    .bind(version_i64(app.version)?)
    .bind(app.status.as_str())
    .bind(app.point_id.to_string())
    .bind(app.service_id.to_string())
    .bind(micros(app.created_at))
    .bind(micros(app.updated_at))
    .bind(app.csr_der.clone())
    .bind(document(app)?)
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, "application", "id"))?;
    Ok(())
}

async fn conflict_or_missing(conn: &mut PgConnection, id: ApplicationId) -> Failure {
    let found = sqlx::query("SELECT 1 FROM applications WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await;
    match found {
        Ok(Some(_)) => Failure::Store(StoreError::VersionConflict { id }),
        Ok(None) => not_found("application", id),
        Err(e) => e.into(),
    }
}

/// Writes `app` if the stored version is exactly `app.version - 1`. The row lock
/// the `UPDATE` takes serializes racing writers until commit.
pub(super) async fn update(conn: &mut PgConnection, app: &Application) -> Result<()> {
    let Some(previous) = app.version.checked_sub(1) else {
        return Err(conflict_or_missing(conn, app.id).await);
    };
    let done = sqlx::query(
        "UPDATE applications SET version = $1, status = $2, point_id = $3, service_id = $4, \
         created_at = $5, updated_at = $6, csr_der = $7, data = $8::jsonb \
         WHERE id = $9 AND version = $10",
    )
    .bind(version_i64(app.version)?)
    .bind(app.status.as_str())
    .bind(app.point_id.to_string())
    .bind(app.service_id.to_string())
    .bind(micros(app.created_at))
    .bind(micros(app.updated_at))
    .bind(app.csr_der.clone())
    .bind(document(app)?)
    .bind(app.id.to_string())
    .bind(version_i64(previous)?)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(conflict_or_missing(conn, app.id).await);
    }
    Ok(())
}

/// Appends a history entry (sequence numbers 1, 2, …). Callers hold the
/// application's row lock, so sequence numbers cannot collide.
pub(super) async fn append_history(
    conn: &mut PgConnection,
    id: ApplicationId,
    entry: &HistoryEntry,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO application_history (application_id, seq, at, from_status, to_status, event, data) \
         VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM application_history WHERE application_id = $1), \
         $2, $3, $4, $5, $6::jsonb)",
    )
    .bind(id.to_string())
    .bind(micros(entry.at))
    .bind(entry.from.as_str())
    .bind(entry.to.as_str())
    .bind(entry.event.as_str())
    .bind(to_json("history entry", entry)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn load(
    ex: impl PgExecutor<'_>,
    id: ApplicationId,
) -> Result<Option<Application>> {
    let row =
        sqlx::query("SELECT version, csr_der, data::text AS data FROM applications WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(ex)
            .await?;
    row.as_ref().map(from_row).transpose()
}

/// A page of applications by id (keyset pagination), with the filter's
/// conditions; the statement is one of eight fixed shapes.
pub(super) async fn list(
    ex: impl PgExecutor<'_>,
    filter: &ApplicationFilter,
    after: Option<ApplicationId>,
    limit: u32,
) -> Result<Vec<Application>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // Without a cursor, `id > ''` holds for every (non-empty) id.
    let mut binds: Vec<String> = vec![after.map(|a| a.to_string()).unwrap_or_default()];
    let mut sql =
        String::from("SELECT version, csr_der, data::text AS data FROM applications WHERE id > $1");
    let mut condition = |column: &str, value: String| {
        binds.push(value);
        sql.push_str(&format!(" AND {column} = ${}", binds.len()));
    };
    if let Some(status) = filter.status {
        condition("status", status.as_str().to_owned());
    }
    if let Some(point) = filter.point_id {
        condition("point_id", point.to_string());
    }
    if let Some(service) = filter.service_id {
        condition("service_id", service.to_string());
    }
    sql.push_str(&format!(" ORDER BY id LIMIT ${}", binds.len() + 1));
    // Only fixed fragments are concatenated; every value is bound.
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        query = query.bind(b);
    }
    let rows = query.bind(i64::from(limit)).fetch_all(ex).await?;
    rows.iter().map(from_row).collect()
}

fn from_row(row: &PgRow) -> Result<Application> {
    let mut app: Application = data("application", row)?;
    app.version = version_u64("application version", get(row, "version")?)?;
    app.csr_der = get(row, "csr_der")?;
    Ok(app)
}

pub(super) async fn history(
    ex: impl PgExecutor<'_>,
    id: ApplicationId,
) -> Result<Vec<HistoryEntry>> {
    let rows = sqlx::query(
        "SELECT data::text AS data FROM application_history WHERE application_id = $1 ORDER BY seq",
    )
    .bind(id.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter().map(|r| data("history entry", r)).collect()
}

pub(super) async fn insert_reservation(conn: &mut PgConnection, r: &Reservation) -> Result<()> {
    let (expires, expires_ns) = split(r.expires_at);
    sqlx::query(
        "INSERT INTO reservations (id, application_id, point_id, products, expires_at, expires_at_ns, data) \
         VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7::jsonb)",
    )
    .bind(r.id.to_string())
    .bind(r.application_id.to_string())
    .bind(r.point_id.to_string())
    .bind(to_json("reservation products", &r.products)?)
    .bind(expires)
    .bind(expires_ns)
    .bind(to_json("reservation", r)?)
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, "reservation", "id"))?;
    Ok(())
}

/// Takes an active reservation out of the table: its point and products.
pub(super) async fn take_reservation(
    conn: &mut PgConnection,
    id: ReservationId,
) -> Result<(PointId, Vec<ProductId>)> {
    let row = sqlx::query(
        "DELETE FROM reservations WHERE id = $1 RETURNING point_id, products::text AS products",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::ReservationGone(id).into());
    };
    let point: String = get(&row, "point_id")?;
    let products: String = get(&row, "products")?;
    Ok((
        parse_id("reservation point", &point)?,
        super::value::from_json("reservation products", &products)?,
    ))
}

/// Reservations with `expires_at <= now`, oldest first. A plain read: releasing
/// goes through the version-checked `abort_issuance`, so two sweepers racing on
/// one reservation cannot both release it.
pub(super) async fn expired_reservations(
    ex: impl PgExecutor<'_>,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<Reservation>> {
    let (at, at_ns) = split(now);
    let rows = sqlx::query(
        "SELECT data::text AS data FROM reservations WHERE (expires_at, expires_at_ns) <= ($1, $2) \
         ORDER BY expires_at, expires_at_ns, id LIMIT $3",
    )
    .bind(at)
    .bind(at_ns)
    .bind(i64::from(limit))
    .fetch_all(ex)
    .await?;
    rows.iter().map(|r| data("reservation", r)).collect()
}
