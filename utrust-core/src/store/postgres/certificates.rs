//! Issued certificates: status (version-checked) with its history, the queries of
//! the CRL, expiry and reminder jobs, and reminder claims.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

use super::error::{Failure, Result, insert_error, not_found};
use super::value::{count, data, get, micros, parse_id, split, to_json, version_i64, version_u64};
use crate::domain::certificate::{CertificateRecord, SerialNumber};
use crate::domain::ids::{PointId, ProductId};
use crate::domain::revocation::CertificateHistoryEntry;
use crate::ports::StoreError;

/// The JSON document of a certificate: the DER lives in its own column.
fn document(c: &CertificateRecord) -> Result<String> {
    let mut doc = c.clone();
    doc.der = Vec::new();
    to_json("certificate", &doc)
}

fn from_row(row: &sqlx::postgres::PgRow) -> Result<CertificateRecord> {
    let mut c: CertificateRecord = data("certificate", row)?;
    c.version = version_u64("certificate version", get(row, "version")?)?;
    c.der = get(row, "der")?;
    Ok(c)
}

pub(super) async fn insert(conn: &mut PgConnection, c: &CertificateRecord) -> Result<()> {
    let (not_after, not_after_ns) = split(c.not_after);
    sqlx::query(
        "INSERT INTO certificates (serial, application_id, point_id, products, applicant_kind, subject, \
         not_before, not_after, not_after_ns, status, version, der, data) \
         VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)",
    )
    .bind(c.serial.as_str().to_owned())
    .bind(c.application_id.to_string())
    .bind(c.point_id.to_string())
    .bind(to_json("certificate products", &c.products)?)
    .bind(c.applicant_kind.as_str())
    .bind(c.subject.clone())
    .bind(micros(c.not_before))
    .bind(not_after)
    .bind(not_after_ns)
    .bind(c.status.name())
    .bind(version_i64(c.version)?)
    .bind(c.der.clone())
    .bind(document(c)?)
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, "certificate", "serial"))?;
    Ok(())
}

pub(super) async fn load(
    ex: impl PgExecutor<'_>,
    serial: &SerialNumber,
) -> Result<Option<CertificateRecord>> {
    let row =
        sqlx::query("SELECT version, der, data::text AS data FROM certificates WHERE serial = $1")
            .bind(serial.as_str().to_owned())
            .fetch_optional(ex)
            .await?;
    row.as_ref().map(from_row).transpose()
}

/// Certificates issued at `point`, in total and per product (ordered by product).
pub(super) async fn count_at(
    conn: &mut PgConnection,
    point: PointId,
) -> Result<(u32, Vec<(ProductId, u32)>)> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM certificates WHERE point_id = $1")
        .bind(point.to_string())
        .fetch_one(&mut *conn)
        .await?;
    let total = count("certificate count", get(&row, "n")?)?;
    let rows = sqlx::query(
        "SELECT j.product_id, COUNT(*) AS n \
         FROM certificates AS c, jsonb_array_elements_text(c.products) AS j (product_id) \
         WHERE c.point_id = $1 GROUP BY j.product_id ORDER BY j.product_id COLLATE \"C\"",
    )
    .bind(point.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut per = Vec::with_capacity(rows.len());
    for row in &rows {
        let product: String = get(row, "product_id")?;
        per.push((
            parse_id::<ProductId>("certificate product", &product)?,
            count("certificate count", get(row, "n")?)?,
        ));
    }
    Ok((total, per))
}

/// Writes the new status if the stored version is exactly one less, and appends
/// the history entry (the row lock of the `UPDATE` orders the appends).
pub(super) async fn update(
    conn: &mut PgConnection,
    c: &CertificateRecord,
    entry: &CertificateHistoryEntry,
) -> Result<()> {
    let conflict = async |conn: &mut PgConnection| -> Failure {
        let found = sqlx::query("SELECT 1 FROM certificates WHERE serial = $1")
            .bind(c.serial.as_str().to_owned())
            .fetch_optional(&mut *conn)
            .await;
        match found {
            Ok(Some(_)) => Failure::Store(StoreError::CertificateVersionConflict {
                serial: c.serial.clone(),
            }),
            Ok(None) => not_found("certificate", &c.serial),
            Err(e) => e.into(),
        }
    };
    let Some(previous) = c.version.checked_sub(1) else {
        return Err(conflict(conn).await);
    };
    let (not_after, not_after_ns) = split(c.not_after);
    let done = sqlx::query(
        "UPDATE certificates SET status = $1, version = $2, data = $3::jsonb, \
         application_id = $4, point_id = $5, products = $6::jsonb, applicant_kind = $7, subject = $8, \
         not_before = $9, not_after = $10, not_after_ns = $11, der = $12 \
         WHERE serial = $13 AND version = $14",
    )
    .bind(c.status.name())
    .bind(version_i64(c.version)?)
    .bind(document(c)?)
    .bind(c.application_id.to_string())
    .bind(c.point_id.to_string())
    .bind(to_json("certificate products", &c.products)?)
    .bind(c.applicant_kind.as_str())
    .bind(c.subject.clone())
    .bind(micros(c.not_before))
    .bind(not_after)
    .bind(not_after_ns)
    .bind(c.der.clone())
    .bind(c.serial.as_str().to_owned())
    .bind(version_i64(previous)?)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(conflict(conn).await);
    }
    sqlx::query(
        "INSERT INTO certificate_history (serial, seq, at, from_status, to_status, event, data) \
         VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM certificate_history WHERE serial = $1), \
         $2, $3, $4, $5, $6::jsonb)",
    )
    .bind(c.serial.as_str().to_owned())
    .bind(micros(entry.at))
    .bind(entry.from.name())
    .bind(entry.to.name())
    .bind(entry.event.name())
    .bind(to_json("certificate history entry", entry)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn history(
    ex: impl PgExecutor<'_>,
    serial: &SerialNumber,
) -> Result<Vec<CertificateHistoryEntry>> {
    let rows = sqlx::query(
        "SELECT data::text AS data FROM certificate_history WHERE serial = $1 ORDER BY seq",
    )
    .bind(serial.as_str().to_owned())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| data("certificate history entry", r))
        .collect()
}

/// Revoked or suspended, by serial.
pub(super) async fn on_crl(ex: impl PgExecutor<'_>) -> Result<Vec<CertificateRecord>> {
    let rows = sqlx::query(
        "SELECT version, der, data::text AS data FROM certificates \
         WHERE status IN ('revoked', 'suspended') ORDER BY serial COLLATE \"C\"",
    )
    .fetch_all(ex)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Valid, notAfter in `(from, to]`, by notAfter then serial.
pub(super) async fn expiring(
    ex: impl PgExecutor<'_>,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Vec<CertificateRecord>> {
    let (from, from_ns) = split(from);
    let (to, to_ns) = split(to);
    let rows = sqlx::query(
        "SELECT version, der, data::text AS data FROM certificates WHERE status = 'valid' \
         AND (not_after, not_after_ns) > ($1, $2) AND (not_after, not_after_ns) <= ($3, $4) \
         ORDER BY not_after, not_after_ns, serial COLLATE \"C\"",
    )
    .bind(from)
    .bind(from_ns)
    .bind(to)
    .bind(to_ns)
    .fetch_all(ex)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Valid or suspended, notAfter at or before `at`, by notAfter then serial.
pub(super) async fn past_validity(
    ex: impl PgExecutor<'_>,
    at: OffsetDateTime,
) -> Result<Vec<CertificateRecord>> {
    let (at, at_ns) = split(at);
    let rows = sqlx::query(
        "SELECT version, der, data::text AS data FROM certificates \
         WHERE status IN ('valid', 'suspended') AND (not_after, not_after_ns) <= ($1, $2) \
         ORDER BY not_after, not_after_ns, serial COLLATE \"C\"",
    )
    .bind(at)
    .bind(at_ns)
    .fetch_all(ex)
    .await?;
    rows.iter().map(from_row).collect()
}

/// `true` if this call inserted the claim.
pub(super) async fn claim_reminder(
    ex: impl PgExecutor<'_>,
    serial: &SerialNumber,
    window: &str,
    at: OffsetDateTime,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO reminders (serial, window_key, claimed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (serial, window_key) DO NOTHING",
    )
    .bind(serial.as_str().to_owned())
    .bind(window.to_owned())
    .bind(micros(at))
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn release_reminder(
    ex: impl PgExecutor<'_>,
    serial: &SerialNumber,
    window: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM reminders WHERE serial = $1 AND window_key = $2")
        .bind(serial.as_str().to_owned())
        .bind(window.to_owned())
        .execute(ex)
        .await?;
    Ok(())
}
