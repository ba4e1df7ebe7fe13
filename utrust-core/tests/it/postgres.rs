//! PostgreSQL only: what the shared suite cannot show with one store — several
//! pools (as several server processes) on one database, processes migrating at
//! once, and exact instants in range queries.

use std::sync::Arc;

use time::Duration;
use utrust_core::domain::certificate::CertificateStatus;
use utrust_core::domain::ids::ProductId;
use utrust_core::domain::lifecycle::{ApplicationEvent as E, ApplicationStatus as S};
use utrust_core::domain::quota::{Allotment, QuotaError, QuotaScope};
use utrust_core::ports::{Store, StoreError, StoredCa};
use utrust_core::store::PgStore;

use crate::support::*;

/// A fresh schema and `n` stores on it, each with its own pool.
async fn pools(n: usize) -> Option<(PgSchema, Vec<Arc<dyn Store>>)> {
    let base = postgres_url()?;
    let schema = PgSchema::create(&base).await;
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..n {
        stores.push(Arc::new(PgStore::connect(&schema.url()).await.unwrap()));
    }
    Some((schema, stores))
}

/// 200 issuances at a point with limit 25, alternating between two pools:
/// exactly 25 win and the counters agree with the certificates.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_race_one_point_limit() {
    let Some((_schema, stores)) = pools(2).await else {
        return;
    };
    let a = stores[0].clone();
    let org = organization();
    a.insert_organization(&org).await.unwrap();
    let p = product("RACE", true);
    a.insert_product(&p).await.unwrap();
    let pt = point(
        org.id,
        Allotment::Finite(25),
        &[(p.id, Allotment::Unlimited)],
    );
    a.insert_point(&pt).await.unwrap();
    let svc = service(&[p.id], &[pt.id]);
    a.insert_service(&svc).await.unwrap();
    let mut apps = Vec::new();
    for _ in 0..200 {
        let app = application(pt.id, svc.id, &[p.id], S::ReadyToIssue);
        a.insert_application(&app, &entry(&app, S::Draft, E::Submit))
            .await
            .unwrap();
        apps.push(app);
    }
    let mut tasks = Vec::new();
    for (i, mut app) in apps.into_iter().enumerate() {
        let store = stores[i % 2].clone();
        let product = p.id;
        tasks.push(tokio::spawn(async move {
            let e = step(&mut app, S::Issuing, E::StartIssuing);
            let r = reservation(&app, &[product]);
            store.begin_issuance(&app, &e, &r).await?;
            tokio::task::yield_now().await;
            let cert = certificate(&app);
            let e = step(&mut app, S::Issued, E::CaIssued);
            store.complete_issuance(&app, &e, r.id, &cert).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(
                e,
                StoreError::Quota(QuotaError::Exhausted {
                    scope: QuotaScope::PointLimit(pt.id)
                })
            ),
        }
    }
    assert_eq!(ok, 25);
    for store in &stores {
        let stored = store.point(pt.id).await.unwrap().unwrap();
        assert_eq!((stored.limit.issued, stored.limit.reserved), (25, 0));
        assert_eq!(
            (
                stored.quantities[&p.id].issued,
                stored.quantities[&p.id].reserved
            ),
            (25, 0)
        );
        assert_eq!(
            store.count_certificates(pt.id).await.unwrap(),
            (25, vec![(p.id, 25)])
        );
    }
}

/// Eight processes starting at once on an empty schema: every one connects, the
/// schema is migrated once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_start_migrates_once() {
    let Some(base) = postgres_url() else {
        return;
    };
    let schema = PgSchema::create(&base).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let url = schema.url();
        tasks.push(tokio::spawn(async move { PgStore::connect(&url).await }));
    }
    let mut stores = Vec::new();
    for t in tasks {
        stores.push(t.await.unwrap().unwrap());
    }
    for s in &stores {
        assert_eq!(s.schema_version().await.unwrap(), 6);
    }
    // Reconnecting to a migrated schema changes nothing.
    let again = PgStore::connect(&schema.url()).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), 6);
    for s in &stores {
        s.close().await;
    }
    again.close().await;
}

/// CRL numbers, reminder claims and the CA material are unique across pools.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_counters_and_claims_across_pools() {
    let Some((_schema, stores)) = pools(3).await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = stores[i % 3].clone();
        tasks.push(tokio::spawn(async move { store.next_crl_number().await }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap().unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=60).collect::<Vec<u64>>());

    let serial = fresh_serial();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let store = stores[i % 3].clone();
        let serial = serial.clone();
        tasks.push(tokio::spawn(async move {
            store.claim_reminder(&serial, "30d", t0()).await
        }));
    }
    let mut claimed = 0;
    for t in tasks {
        claimed += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(claimed, 1);

    let mut tasks = Vec::new();
    for i in 0..9u8 {
        let store = stores[usize::from(i) % 3].clone();
        tasks.push(tokio::spawn(async move {
            let ca = StoredCa {
                name: "default".into(),
                certificate_der: vec![0x30, i],
                encrypted_key: vec![i; 8],
                key_encryption: "aes-256-gcm".into(),
            };
            (store.insert_ca_material(&ca).await.unwrap(), ca)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (won, ca) = t.await.unwrap();
        if won {
            winners.push(ca);
        }
    }
    assert_eq!(winners.len(), 1);
    for store in &stores {
        assert_eq!(
            store.ca_material("default").await.unwrap().as_ref(),
            winners.first()
        );
    }
}

/// Two pools inserting products with one code at once: one wins, the other gets
/// `Duplicate` (a unique violation, not a backend error).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_duplicate_codes_are_duplicates() {
    let Some((_schema, stores)) = pools(2).await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = stores[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut p = product("SAME-CODE", false);
            p.id = ProductId::from_random_bytes(fresh_bytes());
            store.insert_product(&p).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(
                e,
                StoreError::Duplicate {
                    entity: "product",
                    field: "code"
                }
            ),
        }
    }
    assert_eq!(ok, 1);
}

/// TIMESTAMPTZ keeps microseconds; range queries must still be exact to the
/// nanosecond at their bounds.
#[tokio::test]
async fn range_bounds_are_exact_below_a_microsecond() {
    let Some(f) = postgres().await else {
        return;
    };
    let store = f.store.clone();
    let org = organization();
    store.insert_organization(&org).await.unwrap();
    let pt = point(org.id, Allotment::Unlimited, &[]);
    store.insert_point(&pt).await.unwrap();
    let svc = service(&[], &[pt.id]);
    store.insert_service(&svc).await.unwrap();
    let mut app = application(pt.id, svc.id, &[], S::ReadyToIssue);
    store
        .insert_application(&app, &entry(&app, S::Draft, E::Submit))
        .await
        .unwrap();
    let e = step(&mut app, S::Issuing, E::StartIssuing);
    let mut r = reservation(&app, &[]);
    r.expires_at = t0() + Duration::nanoseconds(1); // …30.123456790
    store.begin_issuance(&app, &e, &r).await.unwrap();
    let mut cert = certificate(&app);
    cert.not_after = t0() + Duration::nanoseconds(1);
    let e = step(&mut app, S::Issued, E::CaIssued);
    store
        .complete_issuance(&app, &e, r.id, &cert)
        .await
        .unwrap();
    assert_eq!(
        store.certificate(&cert.serial).await.unwrap(),
        Some(cert.clone())
    );

    // not_after = t0 + 1 ns: in (t0, t0 + 1 ns], not in (t0 + 1 ns, …] nor (…, t0].
    let found = store
        .certificates_expiring(t0(), t0() + Duration::nanoseconds(1))
        .await
        .unwrap();
    assert_eq!(found, vec![cert.clone()]);
    assert!(
        store
            .certificates_expiring(t0() + Duration::nanoseconds(1), t0() + Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .certificates_expiring(t0() - Duration::days(1), t0())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .certificates_past_validity(t0())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .certificates_past_validity(t0() + Duration::nanoseconds(1))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(cert.status, CertificateStatus::Valid);
}

/// Expired reservations: `expires_at <= now` exactly, oldest first, limited.
#[tokio::test]
async fn expired_reservations_bound_is_exact() {
    let Some(f) = postgres().await else {
        return;
    };
    let store = f.store.clone();
    let org = organization();
    store.insert_organization(&org).await.unwrap();
    let pt = point(org.id, Allotment::Unlimited, &[]);
    store.insert_point(&pt).await.unwrap();
    let svc = service(&[], &[pt.id]);
    store.insert_service(&svc).await.unwrap();
    let mut expected = Vec::new();
    for i in (0..3).rev() {
        let mut app = application(pt.id, svc.id, &[], S::ReadyToIssue);
        store
            .insert_application(&app, &entry(&app, S::Draft, E::Submit))
            .await
            .unwrap();
        let e = step(&mut app, S::Issuing, E::StartIssuing);
        let mut r = reservation(&app, &[]);
        r.expires_at = t0() + Duration::nanoseconds(i);
        store.begin_issuance(&app, &e, &r).await.unwrap();
        expected.insert(0, r);
    }
    let now = t0() + Duration::nanoseconds(1);
    assert_eq!(
        store.expired_reservations(now, 10).await.unwrap(),
        expected[..2].to_vec()
    );
    assert_eq!(
        store.expired_reservations(now, 1).await.unwrap(),
        expected[..1].to_vec()
    );
}
