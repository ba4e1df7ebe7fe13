//! The SQLite [`Store`](crate::ports::Store) (feature `sqlite`), on sqlx.
//!
//! Every method is one transaction. Writes begin with `BEGIN IMMEDIATE`, so a
//! writer takes SQLite's write lock up front and never dead-locks upgrading a
//! read lock; concurrent writers queue on the busy timeout. Quota debits are
//! conditional `UPDATE`s (`… WHERE limit_issued + limit_reserved <
//! limit_allotment`) whose affected-row count decides, never a read-modify-write.
//!
//! The schema is document-style: each entity keeps its serde serialization in a
//! `data` JSON column plus the columns that queries, uniqueness and atomic updates
//! need (see `migrations/sqlite/`). Quota counters live only in columns and are
//! authoritative when reading. Migrations are embedded in the binary and tracked
//! in a `schema_migrations` table.
//!
//! Layout: this module opens the database and holds the transaction helpers;
//! `migrate` applies the schema; `port` implements the port by delegating to
//! one module per area (`catalog`, `agents`, `applications`, `issuance`,
//! `certificates`, `reminders`, `crl`, `ca`, `checks`, `users` for accounts,
//! employees and sessions, `lists` for the keyset listings by id); `codec`
//! converts values.

mod accounts;
mod agents;
mod applications;
mod ca;
mod case;
mod catalog;
mod certificates;
mod checks;
mod codec;
mod crl;
mod devices;
mod issuance;
mod lists;
mod migrate;
mod port;
mod reminders;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::ports::StoreError;

use codec::{db, get, is_busy};

/// How long a connection waits for another writer before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections of a file-backed pool.
const FILE_POOL_SIZE: u32 = 8;

/// Extra attempts to begin a write transaction after `SQLITE_BUSY`.
const BEGIN_RETRIES: u32 = 5;

type Tx = Transaction<'static, Sqlite>;

/// The SQLite store.
///
/// ```no_run
/// # async fn demo() -> Result<(), utrust_core::ports::StoreError> {
/// use utrust_core::store::SqliteStore;
/// let store = SqliteStore::open(std::path::Path::new("utrust.db")).await?;
/// # drop(store);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl core::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// Commits on success, rolls back on failure.
async fn finish<T>(tx: Tx, result: Result<T, StoreError>) -> Result<T, StoreError> {
    match result {
        Ok(v) => {
            tx.commit().await.map_err(db)?;
            Ok(v)
        }
        Err(e) => {
            // The error that matters is `e`; a failed rollback is also undone when
            // the connection is reused or closed.
            tx.rollback().await.ok();
            Err(e)
        }
    }
}

async fn exists(
    conn: &mut SqliteConnection,
    sql: &'static str,
    id: String,
) -> Result<bool, StoreError> {
    let row = sqlx::query(sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    Ok(row.is_some())
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path`: WAL journal,
    /// `synchronous = NORMAL`, foreign keys on, a 5 s busy timeout, a pool of 8
    /// connections; runs the embedded migrations.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_POOL_SIZE)
            .connect_with(options)
            .await
            .map_err(db)?;
        Self::with_pool(pool).await
    }

    /// A fresh private in-memory database (for tests): one connection that lives
    /// as long as the store, so every call sees the same database.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub async fn in_memory() -> Result<Self, StoreError> {
        Self::connect("sqlite::memory:").await
    }

    /// Connects with an sqlx SQLite URL (`sqlite://path?mode=rwc`, `sqlite::memory:`
    /// …). Foreign keys are switched on and the busy timeout set; file databases
    /// get WAL and `synchronous = NORMAL`. An in-memory URL gets a single
    /// connection kept open for the life of the store.
    ///
    /// # Errors
    /// [`StoreError::Backend`] for a bad URL or a database that cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(db)?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            SqlitePoolOptions::new().max_connections(FILE_POOL_SIZE)
        };
        let pool = pool_options.connect_with(options).await.map_err(db)?;
        Self::with_pool(pool).await
    }

    /// Wraps an existing pool and runs the embedded migrations on it.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a migration fails or the database was written by
    /// a newer schema.
    pub async fn with_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// The schema version of the database (the last applied migration).
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        get(&row, "v")
    }

    /// The underlying connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE`), retrying a few times when
    /// the database stays busy beyond the busy timeout.
    pub(super) async fn write_tx(&self) -> Result<Tx, StoreError> {
        let mut attempt = 0;
        loop {
            match self.pool.begin_with("BEGIN IMMEDIATE").await {
                Ok(tx) => return Ok(tx),
                Err(e) if is_busy(&e) && attempt < BEGIN_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                Err(e) => return Err(db(e)),
            }
        }
    }

    /// Begins a read transaction: a consistent snapshot across several queries.
    pub(super) async fn read_tx(&self) -> Result<Tx, StoreError> {
        self.pool.begin().await.map_err(db)
    }

    pub(super) async fn fetch_data(
        &self,
        sql: &'static str,
        id: String,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| get::<String>(&r, "data")).transpose()
    }
}
