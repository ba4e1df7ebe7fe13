//! SQLite-only checks: persistence across reopening, migrations, corrupt rows.

use utrust_core::domain::ids::ServiceId;
use utrust_core::domain::lifecycle::{ApplicationEvent as E, ApplicationStatus as S};
use utrust_core::domain::quota::Allotment;
use utrust_core::ports::{Store, StoreError};
use utrust_core::store::SqliteStore;

use crate::support::*;

#[tokio::test]
async fn data_survives_reopening_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("utrust.db");
    let org = organization();
    let pt = point(org.id, Allotment::Finite(3), &[]);
    let app = application(
        pt.id,
        ServiceId::from_random_bytes(fresh_bytes()),
        &[],
        S::ReadyToIssue,
    );
    {
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 1);
        store.insert_organization(&org).await.unwrap();
        store.insert_point(&pt).await.unwrap();
        store
            .insert_application(&app, &entry(&app, S::Draft, E::Submit))
            .await
            .unwrap();
        let mut next = app.clone();
        let e = step(&mut next, S::Issuing, E::StartIssuing);
        store
            .begin_issuance(&next, &e, &reservation(&next, &[]))
            .await
            .unwrap();
        store.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 1);
    assert_eq!(store.organization(org.id).await.unwrap(), Some(org));
    let p = store.point(pt.id).await.unwrap().unwrap();
    assert_eq!((p.limit.issued, p.limit.reserved), (0, 1));
    assert_eq!(
        store.application(app.id).await.unwrap().unwrap().status,
        S::Issuing
    );
    assert_eq!(store.history(app.id).await.unwrap().len(), 2);
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, 1);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("utrust.db");
    let store = SqliteStore::open(&path).await.unwrap();
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    match SqliteStore::open(&path).await {
        Err(StoreError::Backend(m)) => assert!(m.contains("newer"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn corrupt_rows_are_reported_not_panicked() {
    let store = SqliteStore::in_memory().await.unwrap();
    let org = organization();
    store.insert_organization(&org).await.unwrap();
    let pt = point(org.id, Allotment::Finite(3), &[]);
    store.insert_point(&pt).await.unwrap();
    // Invalid JSON.
    sqlx::query("UPDATE organizations SET data = '{not json' WHERE id = ?")
        .bind(org.id.to_string())
        .execute(store.pool())
        .await
        .unwrap();
    assert!(matches!(
        store.organization(org.id).await,
        Err(StoreError::Corrupt(_))
    ));
    // Valid JSON failing validation (an e-mail without a domain).
    sqlx::query("UPDATE points SET data = json_set(data, '$.email', 'nobody@') WHERE id = ?")
        .bind(pt.id.to_string())
        .execute(store.pool())
        .await
        .unwrap();
    assert!(matches!(
        store.point(pt.id).await,
        Err(StoreError::Corrupt(_))
    ));
}

#[tokio::test]
async fn counters_in_columns_are_authoritative() {
    let store = SqliteStore::in_memory().await.unwrap();
    let org = organization();
    let mut pt = point(org.id, Allotment::Finite(3), &[]);
    store.insert_point(&pt).await.unwrap();
    // The JSON copy of the limit is ignored on read.
    sqlx::query("UPDATE points SET limit_issued = 2 WHERE id = ?")
        .bind(pt.id.to_string())
        .execute(store.pool())
        .await
        .unwrap();
    pt.limit.issued = 2;
    assert_eq!(store.point(pt.id).await.unwrap(), Some(pt));
}

#[tokio::test]
async fn connect_accepts_urls() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 1);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let o = organization();
    store.insert_organization(&o).await.unwrap();
    assert_eq!(store.organization(o.id).await.unwrap(), Some(o));
}
