//! The embedded migrations and their application.

use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::ports::StoreError;

use super::codec::{db, get, instant, parse_ts, ts};
use super::{SqliteStore, Tx, exists, finish};

/// The embedded migrations: `(version, name, SQL)`, applied in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "certificate_lifecycle",
        include_str!("../../../migrations/sqlite/0002_certificate_lifecycle.sql"),
    ),
    (
        3,
        "identity_checks",
        include_str!("../../../migrations/sqlite/0003_identity_checks.sql"),
    ),
    (
        4,
        "users",
        include_str!("../../../migrations/sqlite/0004_users.sql"),
    ),
    (
        5,
        "devices",
        include_str!("../../../migrations/sqlite/0005_devices.sql"),
    ),
    (
        6,
        "case_file",
        include_str!("../../../migrations/sqlite/0006_case_file.sql"),
    ),
    (
        7,
        "accounts",
        include_str!("../../../migrations/sqlite/0007_accounts.sql"),
    ),
];

impl SqliteStore {
    /// Applies the migrations the database lacks, each in its own transaction.
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        let latest = MIGRATIONS.last().map_or(0, |m| m.0);
        for (version, name, sql) in MIGRATIONS {
            let mut tx = self.write_tx().await?;
            let result = async {
                sqlx::raw_sql(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (\
                     version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                )
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                let current: i64 = get(&row, "v")?;
                if current > latest {
                    return Err(StoreError::Backend(format!(
                        "database schema version {current} is newer than this build ({latest})"
                    )));
                }
                if exists(&mut tx, "SELECT 1 FROM schema_migrations WHERE version = ?", version.to_string()).await? {
                    return Ok(());
                }
                sqlx::raw_sql(*sql).execute(&mut *tx).await.map_err(db)?;
                if *version == 2 {
                    fill_instants(&mut tx).await?;
                }
                sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
                    .bind(*version)
                    .bind(*name)
                    .bind(ts(OffsetDateTime::now_utc())?)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                Ok(())
            }
            .await;
            finish(tx, result).await?;
        }
        Ok(())
    }
}

/// Fills the instant columns added by migration 2 (`*_s`, `*_ns`) from the
/// RFC 3339 text of the rows written by version 1.
async fn fill_instants(tx: &mut Tx) -> Result<(), StoreError> {
    for (table, key, text) in [
        ("certificates", "serial", "not_after"),
        ("reservations", "id", "expires_at"),
    ] {
        let select = format!("SELECT {key} AS k, {text} AS t FROM {table} WHERE {text}_s IS NULL");
        let update = format!("UPDATE {table} SET {text}_s = ?, {text}_ns = ? WHERE {key} = ?");
        let rows = sqlx::query(AssertSqlSafe(select))
            .fetch_all(&mut **tx)
            .await
            .map_err(db)?;
        for row in &rows {
            let k: String = get(row, "k")?;
            let t: String = get(row, "t")?;
            let (s, ns) = instant(parse_ts(text, &t)?);
            sqlx::query(AssertSqlSafe(update.clone()))
                .bind(s)
                .bind(ns)
                .bind(k)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
    }
    Ok(())
}
