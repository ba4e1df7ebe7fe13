//! CA material shared by every server process on one database.

use time::OffsetDateTime;

use crate::ports::{StoreError, StoredCa};

use super::SqliteStore;
use super::codec::{db, get, ts};

pub(super) async fn ca_material(
    s: &SqliteStore,
    name: &str,
) -> Result<Option<StoredCa>, StoreError> {
    let row = sqlx::query(
        "SELECT name, certificate_der, encrypted_key, key_encryption FROM ca_material WHERE name = ?",
    )
    .bind(name.to_owned())
    .fetch_optional(&s.pool)
    .await
    .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(StoredCa {
        name: get(&row, "name")?,
        certificate_der: get(&row, "certificate_der")?,
        encrypted_key: get(&row, "encrypted_key")?,
        key_encryption: get(&row, "key_encryption")?,
    }))
}

pub(super) async fn insert_ca_material(s: &SqliteStore, ca: &StoredCa) -> Result<bool, StoreError> {
    // One statement: the primary key decides which of several racing processes wins.
    let done = sqlx::query(
        "INSERT INTO ca_material (name, certificate_der, encrypted_key, key_encryption, created_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
    )
    .bind(ca.name.clone())
    .bind(ca.certificate_der.clone())
    .bind(ca.encrypted_key.clone())
    .bind(ca.key_encryption.clone())
    .bind(ts(OffsetDateTime::now_utc())?)
    .execute(&s.pool)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}
