//! CRL numbers and published CRLs.

use sqlx::sqlite::SqliteRow;

use crate::ports::{PublishedCrl, StoreError};

use super::codec::{corrupt, db, get, insert_error, parse_ts, ts};
use super::{SqliteStore, finish};

/// The `counters` row of CRL numbers.
const CRL_NUMBER: &str = "crl_number";

pub(super) async fn next_crl_number(s: &SqliteStore) -> Result<u64, StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        let row =
            sqlx::query("UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value")
                .bind(CRL_NUMBER)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let row = row.ok_or_else(|| corrupt("counters", "the crl_number row is missing"))?;
        let value: i64 = get(&row, "value")?;
        u64::try_from(value).map_err(|e| corrupt("crl number", e))
    }
    .await;
    finish(tx, result).await
}

pub(super) async fn save_crl(s: &SqliteStore, crl: &PublishedCrl) -> Result<(), StoreError> {
    let number = i64::try_from(crl.number)
        .map_err(|_| StoreError::Backend(format!("CRL number {} out of range", crl.number)))?;
    sqlx::query("INSERT INTO crls (number, this_update, next_update, der) VALUES (?, ?, ?, ?)")
        .bind(number)
        .bind(ts(crl.this_update)?)
        .bind(ts(crl.next_update)?)
        .bind(crl.der.clone())
        .execute(&s.pool)
        .await
        .map_err(|e| insert_error(e, "crl", "number"))?;
    Ok(())
}

fn crl_from_row(row: &SqliteRow) -> Result<PublishedCrl, StoreError> {
    let number: i64 = get(row, "number")?;
    let this_update: String = get(row, "this_update")?;
    let next_update: String = get(row, "next_update")?;
    Ok(PublishedCrl {
        number: u64::try_from(number).map_err(|e| corrupt("crl number", e))?,
        this_update: parse_ts("crl this_update", &this_update)?,
        next_update: parse_ts("crl next_update", &next_update)?,
        der: get(row, "der")?,
    })
}

pub(super) async fn latest_crl(s: &SqliteStore) -> Result<Option<PublishedCrl>, StoreError> {
    let row = sqlx::query(
        "SELECT number, this_update, next_update, der FROM crls ORDER BY number DESC LIMIT 1",
    )
    .fetch_optional(&s.pool)
    .await
    .map_err(db)?;
    row.as_ref().map(crl_from_row).transpose()
}
