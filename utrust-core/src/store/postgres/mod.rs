//! The PostgreSQL [`Store`](crate::ports::Store) (feature `postgres`), on sqlx's
//! pure-Rust driver. Several server processes may share one database.
//!
//! Every method is one transaction at READ COMMITTED. Quota debits are
//! conditional `UPDATE`s (`… WHERE limit_allotment = -1 OR limit_issued +
//! limit_reserved < limit_allotment`) whose affected-row count decides: the row
//! lock serializes racing debits and PostgreSQL re-checks the condition on the
//! latest committed row, so limits hold exactly across pools and processes.
//! Application and certificate writes are version-checked (`WHERE version =
//! $n`). Unique violations (SQLSTATE 23505) become
//! [`StoreError::Duplicate`](crate::ports::StoreError::Duplicate); a unit of
//! work aborted by a serialization failure (40001) or a deadlock (40P01) is run
//! again a few times; other database errors become
//! [`StoreError::Backend`](crate::ports::StoreError::Backend).
//!
//! The schema mirrors the SQLite one (see `migrations/postgres/`): each entity
//! keeps its serde serialization in a JSONB `data` column plus the columns that
//! queries, uniqueness and atomic updates need; counters, versions and statuses
//! in columns are authoritative. Migrations are embedded, tracked in
//! `schema_migrations` and applied under a transaction-level advisory lock, so
//! processes starting together migrate once. Tables live in the first schema of
//! the connection's `search_path`.
//!
//! Layout: this module connects and migrates; `port` implements the trait by
//! delegating to one module per area (`catalog`, `points`, `applications`,
//! `certificates`, `crl`, `checks`, `users` for accounts, employees and sessions,
//! `lists` for the keyset listings by id); `tx` runs units of work with retries;
//! `error` and `value` convert.

mod accounts;
mod applications;
mod case;
mod catalog;
mod certificates;
mod checks;
mod crl;
mod devices;
mod error;
mod lists;
mod migrate;
mod points;
mod port;
mod tx;
mod users;
mod value;

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::ports::StoreError;
use tx::transaction;

/// Connections of the pool [`PgStore::connect`] opens.
const POOL_SIZE: u32 = 10;

/// How long a call waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The PostgreSQL store.
///
/// ```no_run
/// # async fn demo() -> Result<(), utrust_core::ports::StoreError> {
/// use utrust_core::store::PgStore;
/// let store = PgStore::connect("postgres://utrust:secret@localhost/utrust").await?;
/// # drop(store);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl core::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects with a `postgres://` URL (a pool of 10 connections) and runs the
    /// embedded migrations. Connection parameters go in the URL, e.g.
    /// `?sslmode=disable` or `?options[search_path]=utrust` for a schema.
    ///
    /// # Errors
    /// [`StoreError::Backend`] for a bad URL, an unreachable server or a failed
    /// migration.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("bad database URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Self::with_pool(pool).await
    }

    /// Wraps an existing pool and runs the embedded migrations on it.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a migration fails or the database was written
    /// by a newer schema.
    pub async fn with_pool(pool: PgPool) -> Result<Self, StoreError> {
        let store = Self { pool };
        transaction!(store.pool, |conn| migrate::migrate(conn))?;
        Ok(store)
    }

    /// The schema version of the database (the last applied migration).
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(migrate::schema_version(&mut conn).await?)
    }

    /// The underlying connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
