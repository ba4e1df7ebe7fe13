//! Durable SMEV identity checks: idempotent creation, leased claims (`FOR UPDATE
//! SKIP LOCKED`, so two workers never claim the same check) and version-checked
//! progress.
//!
//! `data` holds the whole check and is authoritative; the columns beside it
//! (`state`, the instants, `version`) are written in step for the queries.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{Failure, Result, unencodable};
use super::value::{from_json, get, split, to_json, version_i64, version_u64};
use crate::domain::checks::IdentityCheck;
use crate::domain::ids::ApplicationId;
use crate::ports::StoreError;

/// Orders kinds as [`SmevCheckKind`](crate::domain::catalog::SmevCheckKind)
/// does (its declaration order), not by name.
macro_rules! kind_order {
    () => {
        "CASE kind WHEN 'passport' THEN 0 WHEN 'snils' THEN 1 WHEN 'inn' THEN 2 ELSE 3 END"
    };
}

fn check_from_row(row: &PgRow) -> Result<IdentityCheck> {
    let mut check: IdentityCheck = from_json("identity check", &get::<String>(row, "data")?)?;
    check.version = version_u64("identity check version", get(row, "version")?)?;
    Ok(check)
}

/// `(lease_until, lease_until_ns)` columns of an optional lease.
fn lease_columns(lease: Option<OffsetDateTime>) -> (Option<OffsetDateTime>, Option<i32>) {
    let split = lease.map(split);
    (split.map(|l| l.0), split.map(|l| l.1))
}

/// Inserts the checks that do not exist yet.
pub(super) async fn ensure(conn: &mut PgConnection, checks: &[IdentityCheck]) -> Result<()> {
    for c in checks {
        let (next, next_ns) = split(c.next_attempt_at);
        let (lease, lease_ns) = lease_columns(c.lease_until);
        sqlx::query(
            "INSERT INTO identity_checks (application_id, round, kind, state, next_attempt_at, \
             next_attempt_at_ns, lease_until, lease_until_ns, version, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb) \
             ON CONFLICT (application_id, round, kind) DO NOTHING",
        )
        .bind(c.application_id.to_string())
        .bind(i64::from(c.round))
        .bind(c.kind.as_str())
        .bind(c.state.name())
        .bind(next)
        .bind(next_ns)
        .bind(lease)
        .bind(lease_ns)
        .bind(version_i64(c.version)?)
        .bind(to_json("identity check", c)?)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The checks of an application, by round then kind.
pub(super) async fn of_application(
    ex: impl PgExecutor<'_>,
    application: ApplicationId,
) -> Result<Vec<IdentityCheck>> {
    let rows = sqlx::query(concat!(
        "SELECT version, data::text AS data FROM identity_checks WHERE application_id = $1 \
         ORDER BY round, ",
        kind_order!()
    ))
    .bind(application.to_string())
    .fetch_all(ex)
    .await?;
    let mut out = rows
        .iter()
        .map(check_from_row)
        .collect::<Result<Vec<_>>>()?;
    // The SQL order already is this one; sorting keeps it exact should a kind be
    // added that the CASE does not know.
    out.sort_by_key(|c| (c.round, c.kind));
    Ok(out)
}

/// Leases up to `limit` due, pending, unleased checks. The CTE locks the rows
/// it picks and skips rows another transaction holds, so concurrent claims
/// never return the same check; under READ COMMITTED a row changed by a
/// committed claim is re-checked against the conditions before it is locked.
pub(super) async fn claim_due(
    conn: &mut PgConnection,
    now: OffsetDateTime,
    lease_until_at: OffsetDateTime,
    limit: u32,
) -> Result<Vec<IdentityCheck>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let (at, at_ns) = split(now);
    let (lease, lease_ns) = split(lease_until_at);
    let lease_text = lease_until_at
        .format(&Rfc3339)
        .map_err(|e| unencodable("lease instant", e))?;
    let rows = sqlx::query(concat!(
        "WITH due AS (\
           SELECT application_id, round, kind FROM identity_checks \
           WHERE state = 'pending' \
           AND (next_attempt_at, next_attempt_at_ns) <= ($1, $2) \
           AND (lease_until IS NULL OR (lease_until, lease_until_ns) <= ($1, $2)) \
           ORDER BY next_attempt_at, next_attempt_at_ns, application_id, round, ",
        kind_order!(),
        " LIMIT $3 FOR UPDATE SKIP LOCKED) \
         UPDATE identity_checks AS c SET lease_until = $4, lease_until_ns = $5, \
         version = c.version + 1, \
         data = jsonb_set(jsonb_set(c.data, '{lease_until}', to_jsonb($6::text)), \
           '{version}', to_jsonb(c.version + 1)) \
         FROM due WHERE c.application_id = due.application_id AND c.round = due.round \
         AND c.kind = due.kind \
         RETURNING c.version, c.data::text AS data"
    ))
    .bind(at)
    .bind(at_ns)
    .bind(i64::from(limit))
    .bind(lease)
    .bind(lease_ns)
    .bind(lease_text)
    .fetch_all(&mut *conn)
    .await?;
    let mut claimed = rows
        .iter()
        .map(check_from_row)
        .collect::<Result<Vec<_>>>()?;
    // RETURNING has no order: the memory store's is by due instant, then key.
    claimed.sort_by_key(|c| (c.next_attempt_at, c.application_id, c.round, c.kind));
    Ok(claimed)
}

async fn conflict_or_missing(conn: &mut PgConnection, c: &IdentityCheck) -> Failure {
    let found = sqlx::query(
        "SELECT 1 FROM identity_checks WHERE application_id = $1 AND round = $2 AND kind = $3",
    )
    .bind(c.application_id.to_string())
    .bind(i64::from(c.round))
    .bind(c.kind.as_str())
    .fetch_optional(&mut *conn)
    .await;
    match found {
        Ok(Some(_)) => Failure::Store(StoreError::CheckVersionConflict {
            key: c.idempotency_key.clone(),
        }),
        Ok(None) => Failure::Store(StoreError::NotFound {
            entity: "identity check",
            id: c.idempotency_key.clone(),
        }),
        Err(e) => e.into(),
    }
}

/// Writes `c` if the stored version is exactly `c.version - 1`.
pub(super) async fn update(conn: &mut PgConnection, c: &IdentityCheck) -> Result<()> {
    let Some(previous) = c.version.checked_sub(1) else {
        return Err(conflict_or_missing(conn, c).await);
    };
    let (next, next_ns) = split(c.next_attempt_at);
    let (lease, lease_ns) = lease_columns(c.lease_until);
    let done = sqlx::query(
        "UPDATE identity_checks SET state = $1, next_attempt_at = $2, next_attempt_at_ns = $3, \
         lease_until = $4, lease_until_ns = $5, version = $6, data = $7::jsonb \
         WHERE application_id = $8 AND round = $9 AND kind = $10 AND version = $11",
    )
    .bind(c.state.name())
    .bind(next)
    .bind(next_ns)
    .bind(lease)
    .bind(lease_ns)
    .bind(version_i64(c.version)?)
    .bind(to_json("identity check", c)?)
    .bind(c.application_id.to_string())
    .bind(i64::from(c.round))
    .bind(c.kind.as_str())
    .bind(version_i64(previous)?)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(conflict_or_missing(conn, c).await);
    }
    Ok(())
}
