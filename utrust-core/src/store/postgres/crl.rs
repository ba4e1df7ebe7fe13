//! CRL numbers and published CRLs; the CA material shared by server processes.

use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;
use time::OffsetDateTime;

use super::error::{Result, corrupt, insert_error, unencodable};
use super::value::{data, get, micros, to_json};
use crate::ports::{PublishedCrl, StoreError, StoredCa};

/// The exact instants of a CRL (the columns keep microseconds).
#[derive(Serialize, Deserialize)]
struct CrlTimes {
    #[serde(with = "time::serde::rfc3339")]
    this_update: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    next_update: OffsetDateTime,
}

/// Advances the single counter row; its row lock orders racing callers and each
/// sees the value the previous one committed.
pub(super) async fn next_number(ex: impl PgExecutor<'_>) -> Result<u64> {
    let row = sqlx::query("UPDATE crl_counter SET last = last + 1 WHERE id RETURNING last")
        .fetch_optional(ex)
        .await?;
    let Some(row) = row else {
        return Err(StoreError::Corrupt("the CRL number counter row is missing".into()).into());
    };
    let last: i64 = get(&row, "last")?;
    u64::try_from(last).map_err(|e| corrupt("CRL number", e))
}

pub(super) async fn save(ex: impl PgExecutor<'_>, crl: &PublishedCrl) -> Result<()> {
    let number = i64::try_from(crl.number).map_err(|e| unencodable("CRL number", e))?;
    let times = CrlTimes {
        this_update: crl.this_update,
        next_update: crl.next_update,
    };
    sqlx::query(
        "INSERT INTO crls (number, this_update, next_update, data, der) VALUES ($1, $2, $3, $4::jsonb, $5)",
    )
    .bind(number)
    .bind(micros(crl.this_update))
    .bind(micros(crl.next_update))
    .bind(to_json("CRL times", &times)?)
    .bind(crl.der.clone())
    .execute(ex)
    .await
    .map_err(|e| insert_error(e, "crl", "number"))?;
    Ok(())
}

pub(super) async fn latest(ex: impl PgExecutor<'_>) -> Result<Option<PublishedCrl>> {
    let row = sqlx::query(
        "SELECT number, der, data::text AS data FROM crls ORDER BY number DESC LIMIT 1",
    )
    .fetch_optional(ex)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let times: CrlTimes = data("CRL times", &row)?;
    let number: i64 = get(&row, "number")?;
    Ok(Some(PublishedCrl {
        number: u64::try_from(number).map_err(|e| corrupt("CRL number", e))?,
        this_update: times.this_update,
        next_update: times.next_update,
        der: get(&row, "der")?,
    }))
}

pub(super) async fn ca_material(ex: impl PgExecutor<'_>, name: &str) -> Result<Option<StoredCa>> {
    let row = sqlx::query(
        "SELECT name, certificate_der, encrypted_key, key_encryption FROM ca_material WHERE name = $1",
    )
    .bind(name.to_owned())
    .fetch_optional(ex)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(StoredCa {
        name: get(&row, "name")?,
        certificate_der: get(&row, "certificate_der")?,
        encrypted_key: get(&row, "encrypted_key")?,
        key_encryption: get(&row, "key_encryption")?,
    }))
}

/// `false` if a CA with that name was stored first.
pub(super) async fn insert_ca_material(ex: impl PgExecutor<'_>, ca: &StoredCa) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO ca_material (name, certificate_der, encrypted_key, key_encryption) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
    )
    .bind(ca.name.clone())
    .bind(ca.certificate_der.clone())
    .bind(ca.encrypted_key.clone())
    .bind(ca.key_encryption.clone())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}
