//! Applications with their optimistic version and history.

use sqlx::AssertSqlSafe;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use crate::domain::application::{Application, HistoryEntry};
use crate::domain::ids::ApplicationId;
use crate::ports::{ApplicationFilter, StoreError};

use super::codec::{corrupt, db, from_json, get, insert_error, to_json, ts, version_i64};
use super::{SqliteStore, exists, finish};

pub(super) fn application_columns(
    app: &Application,
) -> Result<(String, String, String), StoreError> {
    let mut doc = app.clone();
    doc.csr_der = None;
    Ok((
        to_json("application", &doc)?,
        ts(app.created_at)?,
        ts(app.updated_at)?,
    ))
}

pub(super) async fn insert_application_row(
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
pub(super) async fn update_application_row(
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
pub(super) async fn append_history(
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

pub(super) async fn insert_application(
    s: &SqliteStore,
    app: &Application,
    entry: &HistoryEntry,
) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
    let result = async {
        insert_application_row(&mut tx, app).await?;
        append_history(&mut tx, app.id, entry).await
    }
    .await;
    finish(tx, result).await
}

pub(super) async fn application(
    s: &SqliteStore,
    id: ApplicationId,
) -> Result<Option<Application>, StoreError> {
    let row = sqlx::query("SELECT version, csr_der, data FROM applications WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&s.pool)
        .await
        .map_err(db)?;
    row.as_ref().map(application_from_row).transpose()
}

/// A page of applications by id (keyset pagination), with the filter's
/// conditions; the statement is one of eight fixed shapes.
pub(super) async fn list_applications(
    s: &SqliteStore,
    filter: &ApplicationFilter,
    after: Option<ApplicationId>,
    limit: u32,
) -> Result<Vec<Application>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut sql = String::from("SELECT version, csr_der, data FROM applications WHERE id > ?");
    // Without a cursor, `id > ''` holds for every (non-empty) id.
    let mut binds: Vec<String> = vec![after.map(|a| a.to_string()).unwrap_or_default()];
    if let Some(status) = filter.status {
        sql.push_str(" AND status = ?");
        binds.push(status.as_str().to_owned());
    }
    if let Some(point) = filter.point_id {
        sql.push_str(" AND point_id = ?");
        binds.push(point.to_string());
    }
    if let Some(service) = filter.service_id {
        sql.push_str(" AND service_id = ?");
        binds.push(service.to_string());
    }
    sql.push_str(" ORDER BY id LIMIT ?");
    // Only fixed fragments are concatenated; every value is bound.
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        query = query.bind(b);
    }
    let rows = query
        .bind(i64::from(limit))
        .fetch_all(&s.pool)
        .await
        .map_err(db)?;
    rows.iter().map(application_from_row).collect()
}

fn application_from_row(row: &SqliteRow) -> Result<Application, StoreError> {
    let data: String = get(row, "data")?;
    let mut app: Application = from_json("application", &data)?;
    let version: i64 = get(row, "version")?;
    app.version = u64::try_from(version).map_err(|e| corrupt("application version", e))?;
    app.csr_der = get(row, "csr_der")?;
    Ok(app)
}

pub(super) async fn history(
    s: &SqliteStore,
    id: ApplicationId,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows =
        sqlx::query("SELECT data FROM application_history WHERE application_id = ? ORDER BY seq")
            .bind(id.to_string())
            .fetch_all(&s.pool)
            .await
            .map_err(db)?;
    rows.iter()
        .map(|r| from_json("history entry", &get::<String>(r, "data")?))
        .collect()
}

pub(super) async fn update_application(
    s: &SqliteStore,
    app: &Application,
    entry: Option<&HistoryEntry>,
) -> Result<(), StoreError> {
    let mut tx = s.write_tx().await?;
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
