//! SQLite-only checks: persistence across reopening, migrations, corrupt rows.

use utrust_core::domain::ids::ServiceId;
use utrust_core::domain::lifecycle::{ApplicationEvent as E, ApplicationStatus as S};
use utrust_core::domain::quota::Allotment;
use utrust_core::ports::{Store, StoreError};
use utrust_core::store::SqliteStore;

use crate::support::*;

/// The number of embedded SQLite migrations (`migrations/sqlite/`): 0001–0007.
const SQLITE_SCHEMA: i64 = 7;

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
        assert_eq!(store.schema_version().await.unwrap(), SQLITE_SCHEMA);
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
    assert_eq!(store.schema_version().await.unwrap(), SQLITE_SCHEMA);
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
    assert_eq!(applied, SQLITE_SCHEMA);
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
    assert_eq!(store.schema_version().await.unwrap(), SQLITE_SCHEMA);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let o = organization();
    store.insert_organization(&o).await.unwrap();
    assert_eq!(store.organization(o.id).await.unwrap(), Some(o));
}

/// A database written by schema version 1 (certificates with a unit status, no
/// version; reservations without instants) migrates to version 2 and reads back.
#[tokio::test]
async fn version_1_certificates_and_reservations_survive_migration_2() {
    use time::Duration;
    use utrust_core::domain::certificate::CertificateStatus;
    use utrust_core::domain::revocation::RevocationReason;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("utrust.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let app = application(
        utrust_core::domain::ids::PointId::from_random_bytes(fresh_bytes()),
        ServiceId::from_random_bytes(fresh_bytes()),
        &[],
        S::Issued,
    );
    let valid = certificate(&app);
    let revoked = certificate(&app);
    let r = reservation(&app, &[]);
    {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::raw_sql(include_str!("../../migrations/sqlite/0001_init.sql"))
            .execute(&pool)
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL, \
             name TEXT NOT NULL, applied_at TEXT NOT NULL); \
             INSERT INTO schema_migrations VALUES (1, 'init', '2026-01-01T00:00:00Z');",
        )
        .execute(&pool)
        .await
        .unwrap();
        let fmt = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        for (c, status) in [(&valid, "valid"), (&revoked, "revoked")] {
            sqlx::query(
                "INSERT INTO certificates (serial, application_id, point_id, products, applicant_kind, \
                 subject, not_before, not_after, status, der) VALUES (?, ?, ?, '[]', 'individual', ?, ?, ?, ?, ?)",
            )
            .bind(c.serial.as_str().to_owned())
            .bind(c.application_id.to_string())
            .bind(c.point_id.to_string())
            .bind(c.subject.clone())
            .bind(fmt(c.not_before))
            .bind(fmt(c.not_after))
            .bind(status)
            .bind(c.der.clone())
            .execute(&pool)
            .await
            .unwrap();
        }
        sqlx::query(
            "INSERT INTO reservations (id, application_id, point_id, products, expires_at) \
             VALUES (?, ?, ?, '[]', ?)",
        )
        .bind(r.id.to_string())
        .bind(r.application_id.to_string())
        .bind(r.point_id.to_string())
        .bind(fmt(r.expires_at))
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), SQLITE_SCHEMA);
    let mut want = valid.clone();
    want.products = vec![];
    assert_eq!(
        store.certificate(&valid.serial).await.unwrap(),
        Some(want.clone())
    );
    assert_eq!(want.version, 1);
    assert_eq!(want.status, CertificateStatus::Valid);
    // The instants were filled: the range queries find the old rows.
    assert_eq!(
        store
            .certificates_expiring(valid.not_after - Duration::nanoseconds(1), valid.not_after)
            .await
            .unwrap(),
        vec![want]
    );
    assert_eq!(
        store.expired_reservations(r.expires_at, 10).await.unwrap(),
        vec![r]
    );
    // A revocation without reason or time gets `unspecified` and the migration time.
    let old = store.certificate(&revoked.serial).await.unwrap().unwrap();
    assert!(matches!(
        old.status,
        CertificateStatus::Revoked {
            reason: RevocationReason::Unspecified,
            ..
        }
    ));
    assert_eq!(store.revoked_certificates().await.unwrap(), vec![old]);
}
