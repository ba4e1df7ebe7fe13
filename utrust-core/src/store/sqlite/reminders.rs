//! Expiry reminders: one claim per certificate per window, across processes.

use time::OffsetDateTime;

use crate::domain::certificate::SerialNumber;
use crate::ports::StoreError;

use super::SqliteStore;
use super::codec::{db, ts};

pub(super) async fn claim_reminder(
    s: &SqliteStore,
    serial: &SerialNumber,
    window: &str,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    // One statement: the primary key decides which of several racing claims wins.
    let done = sqlx::query(
        "INSERT INTO reminders (serial, \"window\", claimed_at) VALUES (?, ?, ?) \
         ON CONFLICT (serial, \"window\") DO NOTHING",
    )
    .bind(serial.as_str().to_owned())
    .bind(window.to_owned())
    .bind(ts(at)?)
    .execute(&s.pool)
    .await
    .map_err(db)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn release_reminder(
    s: &SqliteStore,
    serial: &SerialNumber,
    window: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM reminders WHERE serial = ? AND \"window\" = ?")
        .bind(serial.as_str().to_owned())
        .bind(window.to_owned())
        .execute(&s.pool)
        .await
        .map_err(db)?;
    Ok(())
}
