//! Embedded migrations, tracked in `schema_migrations`. Several processes may
//! start at once: each migrates inside one transaction holding a transaction-level
//! advisory lock keyed by the current schema, so exactly one applies a migration
//! and the others then see it recorded.

use sqlx::PgConnection;

use super::error::{Failure, Result};
use super::value::get;
use crate::ports::StoreError;

/// `(version, name, SQL)`, applied in order.
pub(super) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "identity_checks",
        include_str!("../../../migrations/postgres/0002_identity_checks.sql"),
    ),
    (
        3,
        "users",
        include_str!("../../../migrations/postgres/0003_users.sql"),
    ),
    (
        4,
        "devices",
        include_str!("../../../migrations/postgres/0004_devices.sql"),
    ),
    (
        5,
        "case_file",
        include_str!("../../../migrations/postgres/0005_case_file.sql"),
    ),
    (
        6,
        "accounts",
        include_str!("../../../migrations/postgres/0006_accounts.sql"),
    ),
];

/// First key of the advisory lock (`utrust` migrations); the second is a hash of
/// the schema.
const LOCK_CLASS: i32 = 0x7574_7275;

/// Applies the missing migrations. Runs inside the caller's transaction.
pub(super) async fn migrate(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))")
        .bind(LOCK_CLASS)
        .execute(&mut *conn)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
         version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *conn)
    .await?;
    let current = schema_version(conn).await?;
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > latest {
        return Err(Failure::Store(StoreError::Backend(format!(
            "database schema version {current} is newer than this build ({latest})"
        ))));
    }
    for (version, name, sql) in MIGRATIONS {
        if *version <= current {
            continue;
        }
        sqlx::raw_sql(*sql).execute(&mut *conn).await?;
        sqlx::query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)")
            .bind(*version)
            .bind(*name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The last applied migration (0 before any).
pub(super) async fn schema_version(conn: &mut PgConnection) -> Result<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0)::BIGINT AS v FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await?;
    get(&row, "v")
}
