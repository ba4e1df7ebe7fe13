//! The SQLite [`Store`] (feature `sqlite`), on sqlx.
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

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::agents::{Branch, IssuingPoint, Organization};
use crate::domain::application::{Application, HistoryEntry};
use crate::domain::catalog::{ApplicantKind, ObjectIdentifier, Product, Service};
use crate::domain::certificate::{CertificateRecord, CertificateStatus, SerialNumber};
use crate::domain::ids::{
    ApplicationId, BranchId, OrganizationId, PointId, ProductId, ReservationId, ServiceId,
};
use crate::domain::quota::{Allotment, Quota, QuotaError, QuotaScope, Reservation};
use crate::ports::{Store, StoreError};

/// The embedded migrations: `(version, name, SQL)`, applied in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "init",
    include_str!("../../migrations/sqlite/0001_init.sql"),
)];

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

// ---------------------------------------------------------------------------
// Error and value conversions.

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// `SQLITE_BUSY` (5) or `SQLITE_LOCKED` (6), including their extended codes.
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

/// Maps an insert failure: unique violations become [`StoreError::Duplicate`].
fn insert_error(e: sqlx::Error, entity: &'static str, field: &'static str) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate { entity, field }
    } else {
        db(e)
    }
}

fn corrupt(what: &str, e: impl core::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn to_json<T: Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(format!("cannot encode {what}: {e}")))
}

fn from_json<T: DeserializeOwned>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt(what, e))
}

/// The string a unit enum serializes to (e.g. `"valid"`).
fn enum_text<T: Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Err(StoreError::Backend(format!(
            "{what} is not a string: {other}"
        ))),
        Err(e) => Err(StoreError::Backend(format!("cannot encode {what}: {e}"))),
    }
}

fn enum_from_text<T: DeserializeOwned>(what: &str, s: String) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(s)).map_err(|e| corrupt(what, e))
}

fn ts(t: OffsetDateTime) -> Result<String, StoreError> {
    t.format(&Rfc3339)
        .map_err(|e| StoreError::Backend(format!("cannot format timestamp: {e}")))
}

fn parse_ts(what: &str, s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| corrupt(what, e))
}

fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column).map_err(|e| corrupt(column, e))
}

fn count(what: &str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|e| corrupt(what, e))
}

fn version_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v)
        .map_err(|_| StoreError::Backend(format!("application version {v} out of range")))
}

fn parse_id<T: FromStr>(what: &str, s: &str) -> Result<T, StoreError>
where
    T::Err: core::fmt::Display,
{
    s.parse().map_err(|e| corrupt(what, e))
}

fn quota_from_row(
    what: &str,
    allotment: i64,
    issued: i64,
    reserved: i64,
) -> Result<Quota, StoreError> {
    Ok(Quota {
        allotment: Allotment::from_wire(allotment).map_err(|e| corrupt(what, e))?,
        issued: count(what, issued)?,
        reserved: count(what, reserved)?,
    })
}

// ---------------------------------------------------------------------------
// Work inside transactions.

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

fn application_columns(app: &Application) -> Result<(String, String, String), StoreError> {
    let mut doc = app.clone();
    doc.csr_der = None;
    Ok((
        to_json("application", &doc)?,
        ts(app.created_at)?,
        ts(app.updated_at)?,
    ))
}

async fn insert_application_row(
    conn: &mut SqliteConnection,
    app: &Application,
) -> Result<(), StoreError> {
    let (data, created, updated) = application_columns(app)?;
    sqlx::query(
        "INSERT INTO applications (id, version, status, point_id, service_id, created_at, updated_at, csr_der, data) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(app.id.to_string())
    .bind(version_i64(app.version)?)
    .bind(app.status.as_str())
    .bind(app.point_id.to_string())
    .bind(app.service_id.to_string())
    .bind(created)
    .bind(updated)
    .bind(app.csr_der.clone())
    .bind(data)
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, "application", "id"))?;
    Ok(())
}

/// Writes `app` if the stored version is exactly `app.version - 1`.
async fn update_application_row(
    conn: &mut SqliteConnection,
    app: &Application,
) -> Result<(), StoreError> {
    let conflict_or_missing = async |conn: &mut SqliteConnection| -> StoreError {
        match exists(
            conn,
            "SELECT 1 FROM applications WHERE id = ?",
            app.id.to_string(),
        )
        .await
        {
            Ok(true) => StoreError::VersionConflict { id: app.id },
            Ok(false) => StoreError::NotFound {
                entity: "application",
                id: app.id.to_string(),
            },
            Err(e) => e,
        }
    };
    let Some(previous) = app.version.checked_sub(1) else {
        return Err(conflict_or_missing(conn).await);
    };
    let (data, created, updated) = application_columns(app)?;
    let done = sqlx::query(
        "UPDATE applications SET version = ?, status = ?, point_id = ?, service_id = ?, created_at = ?, \
         updated_at = ?, csr_der = ?, data = ? WHERE id = ? AND version = ?",
    )
    .bind(version_i64(app.version)?)
    .bind(app.status.as_str())
    .bind(app.point_id.to_string())
    .bind(app.service_id.to_string())
    .bind(created)
    .bind(updated)
    .bind(app.csr_der.clone())
    .bind(data)
    .bind(app.id.to_string())
    .bind(version_i64(previous)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(conflict_or_missing(conn).await);
    }
    Ok(())
}

/// Appends a history entry to the application `id` (sequence numbers 1, 2, …).
async fn append_history(
    conn: &mut SqliteConnection,
    id: ApplicationId,
    entry: &HistoryEntry,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO application_history (application_id, seq, at, from_status, to_status, event, data) \
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM application_history WHERE application_id = ?1), \
         ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(id.to_string())
    .bind(ts(entry.at)?)
    .bind(entry.from.as_str())
    .bind(entry.to.as_str())
    .bind(entry.event.as_str())
    .bind(to_json("history entry", entry)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

fn point_not_found(id: PointId) -> StoreError {
    StoreError::NotFound {
        entity: "point",
        id: id.to_string(),
    }
}

/// Reserves one unit of the point's limit and of each listed product quantity.
async fn reserve(conn: &mut SqliteConnection, r: &Reservation) -> Result<(), StoreError> {
    let point = r.point_id.to_string();
    let done = sqlx::query(
        "UPDATE points SET limit_reserved = limit_reserved + 1 WHERE id = ? \
         AND (limit_allotment = -1 OR limit_issued + limit_reserved < limit_allotment)",
    )
    .bind(point.clone())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if done.rows_affected() == 0 {
        if exists(conn, "SELECT 1 FROM points WHERE id = ?", point).await? {
            return Err(QuotaError::Exhausted {
                scope: QuotaScope::PointLimit(r.point_id),
            }
            .into());
        }
        return Err(point_not_found(r.point_id));
    }
    for product in &r.products {
        let done = sqlx::query(
            "UPDATE point_quantities SET reserved = reserved + 1 WHERE point_id = ? AND product_id = ? \
             AND (allotment = -1 OR issued + reserved < allotment)",
        )
        .bind(point.clone())
        .bind(product.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(QuotaError::Exhausted {
                scope: QuotaScope::ProductQuantity(r.point_id, *product),
            }
            .into());
        }
    }
    Ok(())
}

/// Takes an active reservation out of the table.
async fn take_reservation(
    conn: &mut SqliteConnection,
    id: ReservationId,
) -> Result<(PointId, Vec<ProductId>), StoreError> {
    let row = sqlx::query("DELETE FROM reservations WHERE id = ? RETURNING point_id, products")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    let Some(row) = row else {
        return Err(StoreError::ReservationGone(id));
    };
    let point: String = get(&row, "point_id")?;
    let products: String = get(&row, "products")?;
    Ok((
        parse_id("reservation point", &point)?,
        from_json("reservation products", &products)?,
    ))
}

/// Commits (`commit = true`) or releases one unit of each reserved quota.
async fn settle(
    conn: &mut SqliteConnection,
    point: PointId,
    products: &[ProductId],
    commit: bool,
) -> Result<(), StoreError> {
    let issued_delta = i64::from(commit);
    let done = sqlx::query(
        "UPDATE points SET limit_reserved = MAX(limit_reserved - 1, 0), limit_issued = limit_issued + ? WHERE id = ?",
    )
    .bind(issued_delta)
    .bind(point.to_string())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(point_not_found(point));
    }
    for product in products {
        sqlx::query(
            "UPDATE point_quantities SET reserved = MAX(reserved - 1, 0), issued = issued + ? \
             WHERE point_id = ? AND product_id = ?",
        )
        .bind(issued_delta)
        .bind(point.to_string())
        .bind(product.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

async fn insert_certificate(
    conn: &mut SqliteConnection,
    c: &CertificateRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO certificates (serial, application_id, point_id, products, applicant_kind, subject, \
         not_before, not_after, status, der) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(c.serial.as_str().to_owned())
    .bind(c.application_id.to_string())
    .bind(c.point_id.to_string())
    .bind(to_json("certificate products", &c.products)?)
    .bind(c.applicant_kind.as_str())
    .bind(c.subject.clone())
    .bind(ts(c.not_before)?)
    .bind(ts(c.not_after)?)
    .bind(enum_text("certificate status", &c.status)?)
    .bind(c.der.clone())
    .execute(&mut *conn)
    .await
    .map_err(|e| insert_error(e, "certificate", "serial"))?;
    Ok(())
}

fn certificate_from_row(row: &SqliteRow) -> Result<CertificateRecord, StoreError> {
    let serial: String = get(row, "serial")?;
    let application: String = get(row, "application_id")?;
    let point: String = get(row, "point_id")?;
    let products: String = get(row, "products")?;
    let kind: String = get(row, "applicant_kind")?;
    let not_before: String = get(row, "not_before")?;
    let not_after: String = get(row, "not_after")?;
    Ok(CertificateRecord {
        serial: SerialNumber::parse(&serial).map_err(|e| corrupt("certificate serial", e))?,
        application_id: parse_id("certificate application", &application)?,
        point_id: parse_id("certificate point", &point)?,
        products: from_json("certificate products", &products)?,
        applicant_kind: ApplicantKind::from_name(&kind)
            .ok_or_else(|| corrupt("certificate applicant kind", &kind))?,
        subject: get(row, "subject")?,
        not_before: parse_ts("certificate not_before", &not_before)?,
        not_after: parse_ts("certificate not_after", &not_after)?,
        status: enum_from_text::<CertificateStatus>("certificate status", get(row, "status")?)?,
        der: get(row, "der")?,
    })
}

async fn load_point(
    conn: &mut SqliteConnection,
    id: PointId,
) -> Result<Option<IssuingPoint>, StoreError> {
    let row = sqlx::query(
        "SELECT limit_allotment, limit_issued, limit_reserved, data FROM points WHERE id = ?",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    let data: String = get(&row, "data")?;
    let mut point: IssuingPoint = from_json("point", &data)?;
    point.limit = quota_from_row(
        "point limit",
        get(&row, "limit_allotment")?,
        get(&row, "limit_issued")?,
        get(&row, "limit_reserved")?,
    )?;
    let rows = sqlx::query(
        "SELECT product_id, allotment, issued, reserved FROM point_quantities WHERE point_id = ?",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut quantities = BTreeMap::new();
    for row in &rows {
        let product: String = get(row, "product_id")?;
        quantities.insert(
            parse_id::<ProductId>("point quantity product", &product)?,
            quota_from_row(
                "point quantity",
                get(row, "allotment")?,
                get(row, "issued")?,
                get(row, "reserved")?,
            )?,
        );
    }
    point.quantities = quantities;
    Ok(Some(point))
}

/// The descriptive JSON of a point: limit and quantities live in columns and rows.
fn point_document(point: &IssuingPoint) -> Result<String, StoreError> {
    let mut doc = point.clone();
    doc.quantities = BTreeMap::new();
    to_json("point", &doc)
}

/// Issued + reserved of a quota row, for [`QuotaError::BelowUsage`].
async fn usage(
    conn: &mut SqliteConnection,
    sql: &'static str,
    binds: &[String],
) -> Result<Option<u32>, StoreError> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(b.clone());
    }
    let row = q.fetch_optional(&mut *conn).await.map_err(db)?;
    match row {
        None => Ok(None),
        Some(row) => Ok(Some(count("quota usage", get(&row, "used")?)?)),
    }
}

// ---------------------------------------------------------------------------
// Opening and migrations.

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

    async fn migrate(&self) -> Result<(), StoreError> {
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

    /// Begins a write transaction (`BEGIN IMMEDIATE`), retrying a few times when
    /// the database stays busy beyond the busy timeout.
    async fn write_tx(&self) -> Result<Tx, StoreError> {
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
    async fn read_tx(&self) -> Result<Tx, StoreError> {
        self.pool.begin().await.map_err(db)
    }

    async fn fetch_data(
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

// ---------------------------------------------------------------------------
// The port.

#[async_trait]
impl Store for SqliteStore {
    async fn insert_object_identifier(&self, oid: &ObjectIdentifier) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO object_identifiers (oid, data) VALUES (?, ?)")
            .bind(oid.oid.as_str().to_owned())
            .bind(to_json("oid", oid)?)
            .execute(&self.pool)
            .await
            .map_err(|e| insert_error(e, "oid", "oid"))?;
        Ok(())
    }

    async fn object_identifiers(&self) -> Result<Vec<ObjectIdentifier>, StoreError> {
        let rows = sqlx::query("SELECT data FROM object_identifiers ORDER BY oid")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| from_json("oid", &get::<String>(r, "data")?))
            .collect()
    }

    async fn insert_product(&self, product: &Product) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            // As the memory store: a taken code is refused, a known id is replaced.
            let taken = exists(
                &mut tx,
                "SELECT 1 FROM products WHERE code = ?",
                product.code.clone(),
            )
            .await?;
            if taken {
                return Err(StoreError::Duplicate {
                    entity: "product",
                    field: "code",
                });
            }
            sqlx::query(
                "INSERT INTO products (id, code, data) VALUES (?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET code = excluded.code, data = excluded.data",
            )
            .bind(product.id.to_string())
            .bind(product.code.clone())
            .bind(to_json("product", product)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_error(e, "product", "code"))?;
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
        self.fetch_data("SELECT data FROM products WHERE id = ?", id.to_string())
            .await?
            .map(|d| from_json("product", &d))
            .transpose()
    }

    async fn insert_service(&self, service: &Service) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO services (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data")
            .bind(service.id.to_string())
            .bind(to_json("service", service)?)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn service(&self, id: ServiceId) -> Result<Option<Service>, StoreError> {
        self.fetch_data("SELECT data FROM services WHERE id = ?", id.to_string())
            .await?
            .map(|d| from_json("service", &d))
            .transpose()
    }

    async fn insert_organization(&self, org: &Organization) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO organizations (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data",
        )
        .bind(org.id.to_string())
        .bind(to_json("organization", org)?)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, StoreError> {
        self.fetch_data(
            "SELECT data FROM organizations WHERE id = ?",
            id.to_string(),
        )
        .await?
        .map(|d| from_json("organization", &d))
        .transpose()
    }

    async fn update_organization(&self, org: &Organization) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE organizations SET data = ? WHERE id = ?")
            .bind(to_json("organization", org)?)
            .bind(org.id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: "organization",
                id: org.id.to_string(),
            });
        }
        Ok(())
    }

    async fn insert_branch(&self, branch: &Branch) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO branches (id, organization_id, data) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id, data = excluded.data",
        )
        .bind(branch.id.to_string())
        .bind(branch.organization_id.to_string())
        .bind(to_json("branch", branch)?)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn branch(&self, id: BranchId) -> Result<Option<Branch>, StoreError> {
        self.fetch_data("SELECT data FROM branches WHERE id = ?", id.to_string())
            .await?
            .map(|d| from_json("branch", &d))
            .transpose()
    }

    async fn update_branch(&self, branch: &Branch) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE branches SET organization_id = ?, data = ? WHERE id = ?")
            .bind(branch.organization_id.to_string())
            .bind(to_json("branch", branch)?)
            .bind(branch.id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: "branch",
                id: branch.id.to_string(),
            });
        }
        Ok(())
    }

    async fn insert_point(&self, point: &IssuingPoint) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            let id = point.id.to_string();
            // As the memory store: a known id is replaced, counters included.
            sqlx::query(
                "INSERT INTO points (id, organization_id, limit_allotment, limit_issued, limit_reserved, data) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET \
                 organization_id = excluded.organization_id, limit_allotment = excluded.limit_allotment, \
                 limit_issued = excluded.limit_issued, limit_reserved = excluded.limit_reserved, data = excluded.data",
            )
            .bind(id.clone())
            .bind(point.organization_id.to_string())
            .bind(point.limit.allotment.to_wire())
            .bind(i64::from(point.limit.issued))
            .bind(i64::from(point.limit.reserved))
            .bind(point_document(point)?)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            sqlx::query("DELETE FROM point_quantities WHERE point_id = ?")
                .bind(id.clone())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            for (product, q) in &point.quantities {
                sqlx::query(
                    "INSERT INTO point_quantities (point_id, product_id, allotment, issued, reserved) \
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind(id.clone())
                .bind(product.to_string())
                .bind(q.allotment.to_wire())
                .bind(i64::from(q.issued))
                .bind(i64::from(q.reserved))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    async fn point(&self, id: PointId) -> Result<Option<IssuingPoint>, StoreError> {
        let mut tx = self.read_tx().await?;
        let result = load_point(&mut tx, id).await;
        finish(tx, result).await
    }

    async fn update_point(&self, point: &IssuingPoint) -> Result<(), StoreError> {
        // Only the descriptive fields: limit, quantities and counters stay as stored.
        let done = sqlx::query("UPDATE points SET organization_id = ?, data = ? WHERE id = ?")
            .bind(point.organization_id.to_string())
            .bind(point_document(point)?)
            .bind(point.id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(point_not_found(point.id));
        }
        Ok(())
    }

    async fn set_point_limit(&self, id: PointId, limit: Allotment) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            let wire = limit.to_wire();
            let done = sqlx::query(
                "UPDATE points SET limit_allotment = ? WHERE id = ? \
                 AND (? = -1 OR limit_issued + limit_reserved <= ?)",
            )
            .bind(wire)
            .bind(id.to_string())
            .bind(wire)
            .bind(wire)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            if done.rows_affected() > 0 {
                return Ok(());
            }
            let used = usage(
                &mut tx,
                "SELECT limit_issued + limit_reserved AS used FROM points WHERE id = ?",
                &[id.to_string()],
            )
            .await?
            .ok_or_else(|| point_not_found(id))?;
            Err(QuotaError::BelowUsage {
                scope: QuotaScope::PointLimit(id),
                requested: match limit {
                    Allotment::Finite(n) => n,
                    Allotment::Unlimited => 0,
                },
                used,
            }
            .into())
        }
        .await;
        finish(tx, result).await
    }

    async fn set_point_quantity(
        &self,
        id: PointId,
        product: ProductId,
        quantity: Allotment,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            if !exists(&mut tx, "SELECT 1 FROM points WHERE id = ?", id.to_string()).await? {
                return Err(point_not_found(id));
            }
            let wire = quantity.to_wire();
            let done = sqlx::query(
                "INSERT INTO point_quantities (point_id, product_id, allotment, issued, reserved) \
                 VALUES (?, ?, ?, 0, 0) ON CONFLICT (point_id, product_id) DO UPDATE \
                 SET allotment = excluded.allotment \
                 WHERE excluded.allotment = -1 OR point_quantities.issued + point_quantities.reserved <= excluded.allotment",
            )
            .bind(id.to_string())
            .bind(product.to_string())
            .bind(wire)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            if done.rows_affected() > 0 {
                return Ok(());
            }
            let used = usage(
                &mut tx,
                "SELECT issued + reserved AS used FROM point_quantities WHERE point_id = ? AND product_id = ?",
                &[id.to_string(), product.to_string()],
            )
            .await?
            .ok_or_else(|| point_not_found(id))?;
            Err(QuotaError::BelowUsage {
                scope: QuotaScope::ProductQuantity(id, product),
                requested: match quantity {
                    Allotment::Finite(n) => n,
                    Allotment::Unlimited => 0,
                },
                used,
            }
            .into())
        }
        .await;
        finish(tx, result).await
    }

    async fn insert_application(
        &self,
        app: &Application,
        entry: &HistoryEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            insert_application_row(&mut tx, app).await?;
            append_history(&mut tx, app.id, entry).await
        }
        .await;
        finish(tx, result).await
    }

    async fn application(&self, id: ApplicationId) -> Result<Option<Application>, StoreError> {
        let row = sqlx::query("SELECT version, csr_der, data FROM applications WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let data: String = get(&row, "data")?;
        let mut app: Application = from_json("application", &data)?;
        let version: i64 = get(&row, "version")?;
        app.version = u64::try_from(version).map_err(|e| corrupt("application version", e))?;
        app.csr_der = get(&row, "csr_der")?;
        Ok(Some(app))
    }

    async fn history(&self, id: ApplicationId) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT data FROM application_history WHERE application_id = ? ORDER BY seq",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| from_json("history entry", &get::<String>(r, "data")?))
            .collect()
    }

    async fn update_application(
        &self,
        app: &Application,
        entry: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            update_application_row(&mut tx, app).await?;
            if let Some(e) = entry {
                append_history(&mut tx, app.id, e).await?;
            }
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    async fn begin_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        r: &Reservation,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            update_application_row(&mut tx, app).await?;
            reserve(&mut tx, r).await?;
            sqlx::query(
                "INSERT INTO reservations (id, application_id, point_id, products, expires_at) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(r.id.to_string())
            .bind(r.application_id.to_string())
            .bind(r.point_id.to_string())
            .bind(to_json("reservation products", &r.products)?)
            .bind(ts(r.expires_at)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_error(e, "reservation", "id"))?;
            append_history(&mut tx, app.id, entry).await
        }
        .await;
        finish(tx, result).await
    }

    async fn complete_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        reservation: ReservationId,
        certificate: &CertificateRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            update_application_row(&mut tx, app).await?;
            let (point, products) = take_reservation(&mut tx, reservation).await?;
            insert_certificate(&mut tx, certificate).await?;
            settle(&mut tx, point, &products, true).await?;
            append_history(&mut tx, app.id, entry).await
        }
        .await;
        finish(tx, result).await
    }

    async fn abort_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        reservation: ReservationId,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            update_application_row(&mut tx, app).await?;
            let (point, products) = take_reservation(&mut tx, reservation).await?;
            settle(&mut tx, point, &products, false).await?;
            append_history(&mut tx, app.id, entry).await
        }
        .await;
        finish(tx, result).await
    }

    async fn certificate(
        &self,
        serial: &SerialNumber,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT serial, application_id, point_id, products, applicant_kind, subject, not_before, not_after, \
             status, der FROM certificates WHERE serial = ?",
        )
        .bind(serial.as_str().to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    async fn count_certificates(
        &self,
        point: PointId,
    ) -> Result<(u32, Vec<(ProductId, u32)>), StoreError> {
        let mut tx = self.read_tx().await?;
        let result = async {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM certificates WHERE point_id = ?")
                .bind(point.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            let total = count("certificate count", get(&row, "n")?)?;
            let rows = sqlx::query(
                "SELECT j.value AS product_id, COUNT(*) AS n FROM certificates AS c, json_each(c.products) AS j \
                 WHERE c.point_id = ? GROUP BY j.value ORDER BY j.value",
            )
            .bind(point.to_string())
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            let mut per = Vec::with_capacity(rows.len());
            for row in &rows {
                let product: String = get(row, "product_id")?;
                per.push((
                    parse_id::<ProductId>("certificate product", &product)?,
                    count("certificate count", get(row, "n")?)?,
                ));
            }
            Ok((total, per))
        }
        .await;
        finish(tx, result).await
    }
}
