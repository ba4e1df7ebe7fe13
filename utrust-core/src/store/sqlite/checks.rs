//! Durable SMEV identity checks: idempotent creation, leased claims (inside one
//! `BEGIN IMMEDIATE` transaction, so two workers never claim the same check) and
//! version-checked progress.
//!
//! `data` holds the whole check and is authoritative; the columns beside it
//! (`state`, the instants, `version`) are written in step for the queries.

use sqlx::sqlite::{SqliteConnection, SqliteRow};
use time::OffsetDateTime;

use crate::domain::checks::IdentityCheck;
use crate::domain::ids::ApplicationId;
use crate::ports::StoreError;

use super::codec::{corrupt, db, from_json, get, instant, to_json, ts, version_i64};
use super::{SqliteStore, finish};

/// Orders kinds as [`SmevCheckKind`](crate::domain::catalog::SmevCheckKind) does (its declaration order), not by name.
macro_rules! kind_order {
    () => {
        "CASE kind WHEN 'passport' THEN 0 WHEN 'snils' THEN 1 WHEN 'inn' THEN 2 ELSE 3 END"
    };
}
#[cfg(test)]
const KIND_ORDER: &str = kind_order!();

/// The columns of a check: `(next_attempt_at_s, _ns, lease_until_s, _ns)`.
type Instants = (i64, i64, Option<i64>, Option<i64>);

fn instants(c: &IdentityCheck) -> Instants {
    let (next_s, next_ns) = instant(c.next_attempt_at);
    let lease = c.lease_until.map(instant);
    (next_s, next_ns, lease.map(|l| l.0), lease.map(|l| l.1))
}

fn check_from_row(row: &SqliteRow) -> Result<IdentityCheck, StoreError> {
    let data: String = get(row, "data")?;
    let mut check: IdentityCheck = from_json("identity check", &data)?;
    let version: i64 = get(row, "version")?;
    check.version = u64::try_from(version).map_err(|e| corrupt("identity check version", e))?;
    Ok(check)
}

/// Sorts as the memory store does: by `next_attempt_at`, then by key.
fn sort_claimed(checks: &mut [IdentityCheck]) {
    checks.sort_by_key(|c| (c.next_attempt_at, c.application_id, c.round, c.kind));
}

async fn insert_if_absent(
    conn: &mut SqliteConnection,
    c: &IdentityCheck,
) -> Result<(), StoreError> {
    let (next_s, next_ns, lease_s, lease_ns) = instants(c);
    sqlx::query(
        "INSERT INTO identity_checks (application_id, round, kind, state, next_attempt_at_s, \
         next_attempt_at_ns, lease_until_s, lease_until_ns, version, data) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (application_id, round, kind) DO NOTHING",
    )
    .bind(c.application_id.to_string())
    .bind(i64::from(c.round))
    .bind(c.kind.as_str())
    .bind(c.state.name())
    .bind(next_s)
    .bind(next_ns)
    .bind(lease_s)
    .bind(lease_ns)
    .bind(version_i64(c.version)?)
    .bind(to_json("identity check", c)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub(super) async fn ensure_checks(
    s: &SqliteStore,
    checks: &[IdentityCheck],
) -> Result<(), StoreError> {
    if checks.is_empty() {
        return Ok(());
    }
    let mut tx = s.write_tx().await?;
    let result = async {
        for c in checks {
            insert_if_absent(&mut tx, c).await?;
        }
        Ok(())
    }
    .await;
    finish(tx, result).await
}

pub(super) async fn checks(
    s: &SqliteStore,
    application: ApplicationId,
) -> Result<Vec<IdentityCheck>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT version, data FROM identity_checks WHERE application_id = ? ORDER BY round, ",
        kind_order!()
    ))
    .bind(application.to_string())
    .fetch_all(&s.pool)
    .await
    .map_err(db)?;
    let mut out = rows
        .iter()
        .map(check_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    // The SQL order already is this one; sorting keeps it exact should a kind be
    // added that the CASE does not know.
    out.sort_by_key(|c| (c.round, c.kind));
    Ok(out)
}

pub(super) async fn claim_due_checks(
    s: &SqliteStore,
    now: OffsetDateTime,
    lease_until_at: OffsetDateTime,
    limit: u32,
) -> Result<Vec<IdentityCheck>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let (now_s, now_ns) = instant(now);
    let (lease_s, lease_ns) = instant(lease_until_at);
    let mut tx = s.write_tx().await?;
    let result = async {
        // One statement inside the write transaction: no other writer runs
        // between choosing the checks and leasing them.
        let rows = sqlx::query(concat!(
            "UPDATE identity_checks SET lease_until_s = ?1, lease_until_ns = ?2, \
             version = version + 1, \
             data = json_set(data, '$.lease_until', ?3, '$.version', version + 1) \
             WHERE rowid IN (SELECT rowid FROM identity_checks \
             WHERE state = 'pending' \
             AND (next_attempt_at_s, next_attempt_at_ns) <= (?4, ?5) \
             AND (lease_until_s IS NULL OR (lease_until_s, lease_until_ns) <= (?4, ?5)) \
             ORDER BY next_attempt_at_s, next_attempt_at_ns, application_id, round, ",
            kind_order!(),
            " LIMIT ?6) RETURNING version, data"
        ))
        .bind(lease_s)
        .bind(lease_ns)
        .bind(ts(lease_until_at)?)
        .bind(now_s)
        .bind(now_ns)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        rows.iter()
            .map(check_from_row)
            .collect::<Result<Vec<_>, _>>()
    }
    .await;
    let mut claimed = finish(tx, result).await?;
    sort_claimed(&mut claimed);
    Ok(claimed)
}

pub(super) async fn update_check(s: &SqliteStore, c: &IdentityCheck) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        let conflict_or_missing = async |conn: &mut SqliteConnection| -> StoreError {
            let found = sqlx::query(
                "SELECT 1 FROM identity_checks WHERE application_id = ? AND round = ? AND kind = ?",
            )
            .bind(c.application_id.to_string())
            .bind(i64::from(c.round))
            .bind(c.kind.as_str())
            .fetch_optional(&mut *conn)
            .await;
            match found {
                Ok(Some(_)) => StoreError::CheckVersionConflict {
                    key: c.idempotency_key.clone(),
                },
                Ok(None) => StoreError::NotFound {
                    entity: "identity check",
                    id: c.idempotency_key.clone(),
                },
                Err(e) => db(e),
            }
        };
        let Some(previous) = c.version.checked_sub(1) else {
            return Err(conflict_or_missing(&mut tx).await);
        };
        let (next_s, next_ns, lease_s, lease_ns) = instants(c);
        let done = sqlx::query(
            "UPDATE identity_checks SET state = ?, next_attempt_at_s = ?, next_attempt_at_ns = ?, \
             lease_until_s = ?, lease_until_ns = ?, version = ?, data = ? \
             WHERE application_id = ? AND round = ? AND kind = ? AND version = ?",
        )
        .bind(c.state.name())
        .bind(next_s)
        .bind(next_ns)
        .bind(lease_s)
        .bind(lease_ns)
        .bind(version_i64(c.version)?)
        .bind(to_json("identity check", c)?)
        .bind(c.application_id.to_string())
        .bind(i64::from(c.round))
        .bind(c.kind.as_str())
        .bind(version_i64(previous)?)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(conflict_or_missing(&mut tx).await);
        }
        Ok(())
    }
    .await;
    finish(tx, result).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::SmevCheckKind;

    #[test]
    fn kind_order_follows_the_enum() {
        let mut ranked: Vec<(usize, SmevCheckKind)> = SmevCheckKind::ALL
            .into_iter()
            .map(|k| {
                let needle = format!("'{}' THEN ", k.as_str());
                let at = KIND_ORDER.find(&needle).unwrap_or(usize::MAX);
                (at, k)
            })
            .collect();
        ranked.sort();
        let by_sql: Vec<SmevCheckKind> = ranked.into_iter().map(|(_, k)| k).collect();
        let mut by_enum = SmevCheckKind::ALL.to_vec();
        by_enum.sort();
        assert_eq!(by_sql, by_enum);
    }
}
