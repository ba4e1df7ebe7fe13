//! Issued certificates: their rows, status changes with history, and the
//! queries of the CRL, reminder and expiry jobs.

use sqlx::sqlite::{SqliteConnection, SqliteRow};
use time::OffsetDateTime;

use crate::domain::catalog::ApplicantKind;
use crate::domain::certificate::{CertificateRecord, SerialNumber};
use crate::domain::ids::{PointId, ProductId};
use crate::domain::revocation::{CertificateHistoryEntry, CertificateStatus, RevocationReason};
use crate::ports::StoreError;

use super::codec::{
    corrupt, count, db, from_json, get, insert_error, instant, parse_id, parse_ts, to_json, ts,
    version_i64,
};
use super::{SqliteStore, exists, finish};

/// `SELECT` of the columns [`certificate_from_row`] reads, `FROM certificates`,
/// followed by the given clauses: one static SQL string.
macro_rules! select {
    ($($rest:literal),*) => {
        concat!(
            "SELECT serial, application_id, point_id, products, applicant_kind, subject, not_before, \
             not_after, status, status_reason, status_at, version, der FROM certificates ",
            $($rest),*
        )
    };
}

/// A status as its columns: name, reason (revoked only), time (suspended since,
/// revoked at).
fn status_columns(
    status: &CertificateStatus,
) -> Result<(&'static str, Option<&'static str>, Option<String>), StoreError> {
    Ok(match status {
        CertificateStatus::Valid | CertificateStatus::Expired => (status.name(), None, None),
        CertificateStatus::Suspended { since } => (status.name(), None, Some(ts(*since)?)),
        CertificateStatus::Revoked { reason, at } => {
            (status.name(), Some(reason.as_str()), Some(ts(*at)?))
        }
    })
}

fn status_from_columns(
    name: &str,
    reason: Option<String>,
    at: Option<String>,
) -> Result<CertificateStatus, StoreError> {
    let at = || {
        at.as_deref()
            .ok_or_else(|| corrupt("certificate status_at", "missing"))
            .and_then(|a| parse_ts("certificate status_at", a))
    };
    match name {
        "valid" => Ok(CertificateStatus::Valid),
        "expired" => Ok(CertificateStatus::Expired),
        "suspended" => Ok(CertificateStatus::Suspended { since: at()? }),
        "revoked" => {
            let reason = reason.ok_or_else(|| corrupt("certificate status_reason", "missing"))?;
            Ok(CertificateStatus::Revoked {
                reason: RevocationReason::from_name(&reason)
                    .ok_or_else(|| corrupt("certificate status_reason", &reason))?,
                at: at()?,
            })
        }
        other => Err(corrupt("certificate status", other)),
    }
}

/// Stores a new certificate (its version as given, normally 1).
pub(super) async fn insert_certificate(
    conn: &mut SqliteConnection,
    c: &CertificateRecord,
) -> Result<(), StoreError> {
    let (status, reason, at) = status_columns(&c.status)?;
    let (not_after_s, not_after_ns) = instant(c.not_after);
    sqlx::query(
        "INSERT INTO certificates (serial, application_id, point_id, products, applicant_kind, subject, \
         not_before, not_after, status, status_reason, status_at, version, not_after_s, not_after_ns, der) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(c.serial.as_str().to_owned())
    .bind(c.application_id.to_string())
    .bind(c.point_id.to_string())
    .bind(to_json("certificate products", &c.products)?)
    .bind(c.applicant_kind.as_str())
    .bind(c.subject.clone())
    .bind(ts(c.not_before)?)
    .bind(ts(c.not_after)?)
    .bind(status)
    .bind(reason)
    .bind(at)
    .bind(version_i64(c.version)?)
    .bind(not_after_s)
    .bind(not_after_ns)
    .bind(c.der.clone())
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, "certificate", "serial"))?;
    Ok(())
}

/// Decodes a row selected with `select!`.
fn certificate_from_row(row: &SqliteRow) -> Result<CertificateRecord, StoreError> {
    let serial: String = get(row, "serial")?;
    let application: String = get(row, "application_id")?;
    let point: String = get(row, "point_id")?;
    let products: String = get(row, "products")?;
    let kind: String = get(row, "applicant_kind")?;
    let not_before: String = get(row, "not_before")?;
    let not_after: String = get(row, "not_after")?;
    let status: String = get(row, "status")?;
    let version: i64 = get(row, "version")?;
    Ok(CertificateRecord {
        serial: SerialNumber::parse(&serial).map_err(|e| corrupt("certificate serial", e))?,
        application_id: parse_id("certificate application", &application)?,
        point_id: parse_id("certificate point", &point)?,
        products: from_json("certificate products", &products)?,
        applicant_kind: ApplicantKind::from_name(&kind)
            .ok_or_else(|| corrupt("certificate applicant kind", &kind))?,
        subject: get(row, "subject")?,
        not_before: parse_ts("certificate not_before", &not_before)?,
        not_after: parse_ts("certificate not_after", &not_after)?,
        status: status_from_columns(&status, get(row, "status_reason")?, get(row, "status_at")?)?,
        version: u64::try_from(version).map_err(|e| corrupt("certificate version", e))?,
        der: get(row, "der")?,
    })
}

async fn fetch_all(
    s: &SqliteStore,
    query: sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
) -> Result<Vec<CertificateRecord>, StoreError> {
    let rows = query.fetch_all(&s.pool).await.map_err(db)?;
    rows.iter().map(certificate_from_row).collect()
}

pub(super) async fn certificate(
    s: &SqliteStore,
    serial: &SerialNumber,
) -> Result<Option<CertificateRecord>, StoreError> {
    let row = sqlx::query(select!("WHERE serial = ?"))
        .bind(serial.as_str().to_owned())
        .fetch_optional(&s.pool)
        .await
        .map_err(db)?;
    row.as_ref().map(certificate_from_row).transpose()
}

pub(super) async fn count_certificates(
    s: &SqliteStore,
    point: PointId,
) -> Result<(u32, Vec<(ProductId, u32)>), StoreError> {
    let mut tx = s.read_tx().await?;
    let result = async {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM certificates WHERE point_id = ?")
            .bind(point.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        let total = count("certificate count", get(&row, "n")?)?;
        let rows = sqlx::query(
            "SELECT j.value AS product_id, COUNT(*) AS n FROM certificates AS c, json_each(c.products) AS j \
             WHERE c.point_id = ? GROUP BY j.value ORDER BY j.value",
        )
        .bind(point.to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
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
    .await;
    finish(tx, result).await
}

pub(super) async fn update_certificate(
    s: &SqliteStore,
    c: &CertificateRecord,
    entry: &CertificateHistoryEntry,
) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        let serial = c.serial.as_str().to_owned();
        let conflict_or_missing = async |conn: &mut SqliteConnection| -> StoreError {
            match exists(conn, "SELECT 1 FROM certificates WHERE serial = ?", serial.clone()).await {
                Ok(true) => StoreError::CertificateVersionConflict {
                    serial: c.serial.clone(),
                },
                Ok(false) => StoreError::NotFound {
                    entity: "certificate",
                    id: c.serial.to_string(),
                },
                Err(e) => e,
            }
        };
        let Some(previous) = c.version.checked_sub(1) else {
            return Err(conflict_or_missing(&mut tx).await);
        };
        let (status, reason, at) = status_columns(&c.status)?;
        let (not_after_s, not_after_ns) = instant(c.not_after);
        let done = sqlx::query(
            "UPDATE certificates SET application_id = ?, point_id = ?, products = ?, applicant_kind = ?, \
             subject = ?, not_before = ?, not_after = ?, status = ?, status_reason = ?, status_at = ?, \
             version = ?, not_after_s = ?, not_after_ns = ?, der = ? WHERE serial = ? AND version = ?",
        )
        .bind(c.application_id.to_string())
        .bind(c.point_id.to_string())
        .bind(to_json("certificate products", &c.products)?)
        .bind(c.applicant_kind.as_str())
        .bind(c.subject.clone())
        .bind(ts(c.not_before)?)
        .bind(ts(c.not_after)?)
        .bind(status)
        .bind(reason)
        .bind(at)
        .bind(version_i64(c.version)?)
        .bind(not_after_s)
        .bind(not_after_ns)
        .bind(c.der.clone())
        .bind(serial.clone())
        .bind(version_i64(previous)?)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(conflict_or_missing(&mut tx).await);
        }
        sqlx::query(
            "INSERT INTO certificate_history (serial, seq, at, from_status, to_status, event, data) \
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM certificate_history WHERE serial = ?1), \
             ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(serial)
        .bind(ts(entry.at)?)
        .bind(entry.from.name())
        .bind(entry.to.name())
        .bind(entry.event.name())
        .bind(to_json("certificate history entry", entry)?)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        Ok(())
    }
    .await;
    finish(tx, result).await
}

pub(super) async fn certificate_history(
    s: &SqliteStore,
    serial: &SerialNumber,
) -> Result<Vec<CertificateHistoryEntry>, StoreError> {
    let rows = sqlx::query("SELECT data FROM certificate_history WHERE serial = ? ORDER BY seq")
        .bind(serial.as_str().to_owned())
        .fetch_all(&s.pool)
        .await
        .map_err(db)?;
    rows.iter()
        .map(|r| from_json("certificate history entry", &get::<String>(r, "data")?))
        .collect()
}

pub(super) async fn revoked_certificates(
    s: &SqliteStore,
) -> Result<Vec<CertificateRecord>, StoreError> {
    let sql = select!("WHERE status IN ('revoked', 'suspended') ORDER BY serial");
    fetch_all(s, sqlx::query(sql)).await
}

pub(super) async fn certificates_expiring(
    s: &SqliteStore,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Vec<CertificateRecord>, StoreError> {
    let (from_s, from_ns) = instant(from);
    let (to_s, to_ns) = instant(to);
    let sql = select!(
        "WHERE status = 'valid' AND (not_after_s, not_after_ns) > (?, ?) ",
        "AND (not_after_s, not_after_ns) <= (?, ?) ORDER BY not_after_s, not_after_ns, serial"
    );
    let query = sqlx::query(sql)
        .bind(from_s)
        .bind(from_ns)
        .bind(to_s)
        .bind(to_ns);
    fetch_all(s, query).await
}

pub(super) async fn certificates_past_validity(
    s: &SqliteStore,
    at: OffsetDateTime,
) -> Result<Vec<CertificateRecord>, StoreError> {
    let (at_s, at_ns) = instant(at);
    let sql = select!(
        "WHERE status IN ('valid', 'suspended') AND (not_after_s, not_after_ns) <= (?, ?) ",
        "ORDER BY not_after_s, not_after_ns, serial"
    );
    fetch_all(s, sqlx::query(sql).bind(at_s).bind(at_ns)).await
}
