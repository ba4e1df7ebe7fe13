//! The store conformance suite: one set of async checks taking `Arc<dyn Store>`,
//! run against the memory store and the SQLite store (in memory and file-backed,
//! a fresh database per test).

use std::sync::Arc;

use utrust_core::domain::application::Application;
use utrust_core::domain::ids::{ApplicationId, PointId, ProductId, ReservationId, ServiceId};
use utrust_core::domain::lifecycle::{ApplicationEvent as E, ApplicationStatus as S};
use utrust_core::domain::quota::{Allotment, QuotaError, QuotaScope};
use utrust_core::ports::{Store, StoreError};

use time::macros::offset;
use time::{Duration, OffsetDateTime};
use utrust_core::domain::application::Actor;
use utrust_core::domain::catalog::SmevCheckKind;
use utrust_core::domain::certificate::{CertificateRecord, CertificateStatus};
use utrust_core::domain::checks::{CheckState, IdentityCheck};
use utrust_core::domain::revocation::{
    CertificateEvent, CertificateHistoryEntry, RevocationReason, certificate_transition,
};
use utrust_core::ports::ApplicationFilter;
use utrust_core::ports::{PublishedCrl, StoredCa};
use utrust_core::ports::{Session, SessionKind};

use crate::support::*;

type Dyn = Arc<dyn Store>;

conformance!(
    object_identifiers_round_trip_in_order,
    product_round_trip_and_duplicate_code,
    service_round_trip,
    organization_round_trip_and_update,
    branch_round_trip_and_update,
    point_round_trip_and_update_keeps_quotas,
    application_round_trip_with_history,
    stale_version_is_rejected_and_nothing_written,
    history_is_appended_with_updates_in_order,
    issuance_reserves_commits_and_stores_certificate,
    abort_releases_the_reservation,
    exhausted_limit_changes_nothing,
    zero_limit_and_zero_quantity_refuse,
    unlimited_never_refuses,
    only_listed_products_are_debited,
    set_point_limit_below_usage_is_refused,
    set_point_quantity_below_usage_is_refused,
    count_certificates_matches,
    settled_reservation_is_gone,
    duplicate_certificate_serial_changes_nothing,
    certificate_status_update_round_trip_with_history,
    stale_certificate_version_is_rejected_and_nothing_written,
    revoked_certificates_are_revoked_and_suspended_by_serial,
    certificates_expiring_bounds,
    certificates_past_validity_lists_valid_and_suspended,
    reminder_is_claimed_once_until_released,
    crl_numbers_are_sequential_and_unique_under_concurrency,
    latest_crl_is_the_highest_number,
    expired_reservations_respect_now_and_limit,
    ca_material_is_inserted_once,
    list_applications_filters_and_pages,
    ensure_checks_is_idempotent,
    checks_are_ordered_by_round_then_kind,
    claim_due_checks_leases_due_pending_checks,
    update_check_is_version_checked,
    concurrent_claims_never_share_a_check,
    user_round_trip_and_replace,
    duplicate_username_is_refused_and_changes_nothing,
    user_by_username_finds_the_exact_login,
    employee_round_trip_with_visibility,
    second_employee_for_a_user_is_refused,
    employee_by_user_finds_the_record,
    session_round_trip_duplicate_and_idempotent_delete,
    users_and_employees_page_by_id,
    products_and_services_page_by_id,
    organizations_branches_and_points_page_by_id,
);

// ---------------------------------------------------------------------------
// Helpers.

struct Scene {
    point: PointId,
    service: ServiceId,
    p_qty: ProductId,
    p_free: ProductId,
}

/// An organization, two products (one under quantity accounting), a service and a
/// point with `limit` and a quantity of the first product.
async fn scene(store: &Dyn, limit: Allotment, quantity: Allotment) -> Scene {
    let org = organization();
    store.insert_organization(&org).await.unwrap();
    let tag = u64::from_be_bytes(fresh_bytes()[..8].try_into().unwrap());
    let p_qty = product(&format!("QTY-{tag}"), true);
    let p_free = product(&format!("FREE-{tag}"), false);
    store.insert_product(&p_qty).await.unwrap();
    store.insert_product(&p_free).await.unwrap();
    let pt = point(org.id, limit, &[(p_qty.id, quantity)]);
    store.insert_point(&pt).await.unwrap();
    let svc = service(&[p_qty.id, p_free.id], &[pt.id]);
    store.insert_service(&svc).await.unwrap();
    Scene {
        point: pt.id,
        service: svc.id,
        p_qty: p_qty.id,
        p_free: p_free.id,
    }
}

/// A stored application in `ReadyToIssue` ordering both products.
async fn ready(store: &Dyn, sc: &Scene) -> Application {
    let app = application(
        sc.point,
        sc.service,
        &[sc.p_qty, sc.p_free],
        S::ReadyToIssue,
    );
    store
        .insert_application(&app, &entry(&app, S::Draft, E::Submit))
        .await
        .unwrap();
    app
}

/// Point limit and first-product quantity as `(issued, reserved)` pairs.
async fn counters(store: &Dyn, sc: &Scene) -> ((u32, u32), (u32, u32)) {
    let p = store.point(sc.point).await.unwrap().unwrap();
    let q = p.quantities[&sc.p_qty];
    ((p.limit.issued, p.limit.reserved), (q.issued, q.reserved))
}

/// Runs one full issuance; returns the application as stored afterwards.
async fn issue_one(
    store: &Dyn,
    sc: &Scene,
    products: &[ProductId],
) -> Result<Application, StoreError> {
    let mut app = ready(store, sc).await;
    let e = step(&mut app, S::Issuing, E::StartIssuing);
    let r = reservation(&app, products);
    store.begin_issuance(&app, &e, &r).await?;
    let cert = certificate(&app);
    app.certificate_serial = Some(cert.serial.clone());
    let e = step(&mut app, S::Issued, E::CaIssued);
    store.complete_issuance(&app, &e, r.id, &cert).await?;
    Ok(app)
}

fn exhausted(r: Result<impl std::fmt::Debug, StoreError>) -> QuotaScope {
    match r {
        Err(StoreError::Quota(QuotaError::Exhausted { scope })) => scope,
        other => panic!("expected an exhausted quota, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Checks.

async fn object_identifiers_round_trip_in_order(store: Dyn) {
    for s in ["1.3.6.1.5.5.7.3.4", "1.2.643.2.2.34.6", "1.3.6.1.5.5.7.3.2"] {
        store.insert_object_identifier(&oid(s)).await.unwrap();
    }
    assert_eq!(
        store
            .insert_object_identifier(&oid("1.2.643.2.2.34.6"))
            .await,
        Err(StoreError::Duplicate {
            entity: "oid",
            field: "oid"
        })
    );
    let all = store.object_identifiers().await.unwrap();
    let got: Vec<&str> = all.iter().map(|o| o.oid.as_str()).collect();
    assert_eq!(
        got,
        ["1.2.643.2.2.34.6", "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4"]
    );
    assert_eq!(all[0], oid("1.2.643.2.2.34.6"));
}

async fn product_round_trip_and_duplicate_code(store: Dyn) {
    let p = product("KEP-FL", true);
    store.insert_product(&p).await.unwrap();
    assert_eq!(store.product(p.id).await.unwrap(), Some(p.clone()));
    let mut other = product("KEP-FL", false);
    other.name = "другой".into();
    assert_eq!(
        store.insert_product(&other).await,
        Err(StoreError::Duplicate {
            entity: "product",
            field: "code"
        })
    );
    assert_eq!(store.product(other.id).await.unwrap(), None);
    assert_eq!(store.product(p.id).await.unwrap(), Some(p));
    assert_eq!(
        store
            .product(ProductId::from_random_bytes(fresh_bytes()))
            .await
            .unwrap(),
        None
    );
}

async fn service_round_trip(store: Dyn) {
    let mut s = service(&[ProductId::from_random_bytes(fresh_bytes())], &[]);
    s.crypto_provider = Some("КриптоПро CSP".into());
    s.validity_days = 455;
    s.approval_required = true;
    store.insert_service(&s).await.unwrap();
    assert_eq!(store.service(s.id).await.unwrap(), Some(s));
    assert_eq!(
        store
            .service(ServiceId::from_random_bytes(fresh_bytes()))
            .await
            .unwrap(),
        None
    );
}

async fn organization_round_trip_and_update(store: Dyn) {
    let mut o = organization();
    store.insert_organization(&o).await.unwrap();
    assert_eq!(store.organization(o.id).await.unwrap(), Some(o.clone()));
    o.blocked = true;
    o.comment = "заблокирована".into();
    store.update_organization(&o).await.unwrap();
    assert_eq!(store.organization(o.id).await.unwrap(), Some(o));
    let unknown = organization();
    assert!(matches!(
        store.update_organization(&unknown).await,
        Err(StoreError::NotFound {
            entity: "organization",
            ..
        })
    ));
    assert_eq!(store.organization(unknown.id).await.unwrap(), None);
}

async fn branch_round_trip_and_update(store: Dyn) {
    let o = organization();
    store.insert_organization(&o).await.unwrap();
    let mut b = branch(o.id);
    store.insert_branch(&b).await.unwrap();
    assert_eq!(store.branch(b.id).await.unwrap(), Some(b.clone()));
    b.blocked = true;
    store.update_branch(&b).await.unwrap();
    assert_eq!(store.branch(b.id).await.unwrap(), Some(b));
    let unknown = branch(o.id);
    assert!(matches!(
        store.update_branch(&unknown).await,
        Err(StoreError::NotFound {
            entity: "branch",
            ..
        })
    ));
}

async fn point_round_trip_and_update_keeps_quotas(store: Dyn) {
    let sc = scene(&store, Allotment::Finite(10), Allotment::Finite(5)).await;
    let stored = store.point(sc.point).await.unwrap().unwrap();
    assert_eq!(stored.limit.allotment, Allotment::Finite(10));
    assert_eq!(stored.quantities[&sc.p_qty].allotment, Allotment::Finite(5));
    assert_eq!(stored.latitude, Some(55.755_826_123_456_78));

    issue_one(&store, &sc, &[sc.p_qty]).await.unwrap();
    // update_point changes descriptive fields only: limit, quantities and counters stay.
    let mut changed = store.point(sc.point).await.unwrap().unwrap();
    let before = changed.clone();
    changed.name = "Новое имя".into();
    changed.blocked = true;
    changed.limit.allotment = Allotment::Finite(1000);
    changed.limit.issued = 0;
    changed.quantities.clear();
    store.update_point(&changed).await.unwrap();
    let after = store.point(sc.point).await.unwrap().unwrap();
    assert_eq!(after.name, "Новое имя");
    assert!(after.blocked);
    assert_eq!(after.limit, before.limit);
    assert_eq!(after.limit.issued, 1);
    assert_eq!(after.quantities, before.quantities);

    let mut unknown = changed.clone();
    unknown.id = PointId::from_random_bytes(fresh_bytes());
    assert!(matches!(
        store.update_point(&unknown).await,
        Err(StoreError::NotFound {
            entity: "point",
            ..
        })
    ));
    assert_eq!(store.point(unknown.id).await.unwrap(), None);
    // A full round trip of a fresh point.
    let o = organization();
    let p = point(
        o.id,
        Allotment::Unlimited,
        &[
            (sc.p_qty, Allotment::Finite(0)),
            (sc.p_free, Allotment::Unlimited),
        ],
    );
    store.insert_point(&p).await.unwrap();
    assert_eq!(store.point(p.id).await.unwrap(), Some(p));
}

async fn application_round_trip_with_history(store: Dyn) {
    let mut app = application(
        PointId::from_random_bytes(fresh_bytes()),
        ServiceId::from_random_bytes(fresh_bytes()),
        &[ProductId::from_random_bytes(fresh_bytes())],
        S::AwaitingCsr,
    );
    app.reason = Some("причина".into());
    let e = entry(&app, S::Draft, E::Submit);
    store.insert_application(&app, &e).await.unwrap();
    assert_eq!(store.application(app.id).await.unwrap(), Some(app.clone()));
    assert_eq!(store.history(app.id).await.unwrap(), vec![e.clone()]);
    assert_eq!(
        store.insert_application(&app, &e).await,
        Err(StoreError::Duplicate {
            entity: "application",
            field: "id"
        })
    );
    assert_eq!(store.history(app.id).await.unwrap().len(), 1);
    let unknown = ApplicationId::from_random_bytes(fresh_bytes());
    assert_eq!(store.application(unknown).await.unwrap(), None);
    assert_eq!(store.history(unknown).await.unwrap(), vec![]);
}

async fn stale_version_is_rejected_and_nothing_written(store: Dyn) {
    let app = application(
        PointId::from_random_bytes(fresh_bytes()),
        ServiceId::from_random_bytes(fresh_bytes()),
        &[],
        S::AwaitingCsr,
    );
    store
        .insert_application(&app, &entry(&app, S::Draft, E::Submit))
        .await
        .unwrap();

    // Two writers load version 1; the first wins.
    let mut a = app.clone();
    let mut b = app.clone();
    let ea = step(&mut a, S::ReadyToIssue, E::CsrAccepted);
    let eb = step(&mut b, S::Cancelled, E::Cancel);
    store.update_application(&a, Some(&ea)).await.unwrap();
    assert_eq!(
        store.update_application(&b, Some(&eb)).await,
        Err(StoreError::VersionConflict { id: app.id })
    );
    // Same version (not incremented) and a version from the future are refused too.
    let mut same = a.clone();
    same.reason = Some("x".into());
    assert_eq!(
        store.update_application(&same, None).await,
        Err(StoreError::VersionConflict { id: app.id })
    );
    let mut future = a.clone();
    future.version += 2;
    assert_eq!(
        store.update_application(&future, None).await,
        Err(StoreError::VersionConflict { id: app.id })
    );
    assert_eq!(store.application(app.id).await.unwrap(), Some(a.clone()));
    let h = store.history(app.id).await.unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[1], ea);

    let mut ghost = a.clone();
    ghost.id = ApplicationId::from_random_bytes(fresh_bytes());
    assert!(matches!(
        store.update_application(&ghost, None).await,
        Err(StoreError::NotFound {
            entity: "application",
            ..
        })
    ));
}

async fn history_is_appended_with_updates_in_order(store: Dyn) {
    let mut app = application(
        PointId::from_random_bytes(fresh_bytes()),
        ServiceId::from_random_bytes(fresh_bytes()),
        &[],
        S::AwaitingDocuments,
    );
    let mut want = vec![entry(&app, S::Draft, E::Submit)];
    store.insert_application(&app, &want[0]).await.unwrap();
    let path = [
        (S::ChecksPending, E::DocumentsComplete),
        (S::ChecksFailed, E::ChecksFailed),
        (S::ChecksPending, E::RerunChecks),
        (S::AwaitingCsr, E::ChecksPassed),
    ];
    for (i, (to, ev)) in path.into_iter().enumerate() {
        let e = step(&mut app, to, ev);
        store.update_application(&app, Some(&e)).await.unwrap();
        want.push(e);
        if i == 1 {
            // A write without an entry changes the application, not the history.
            app.version += 1;
            app.renewal_notice = false;
            store.update_application(&app, None).await.unwrap();
        }
        let h = store.history(app.id).await.unwrap();
        assert_eq!(h, want);
        assert_eq!(
            h.last().unwrap().to,
            store.application(app.id).await.unwrap().unwrap().status
        );
    }
    assert_eq!(store.application(app.id).await.unwrap(), Some(app));
}

async fn issuance_reserves_commits_and_stores_certificate(store: Dyn) {
    let sc = scene(&store, Allotment::Finite(3), Allotment::Finite(2)).await;
    let mut app = ready(&store, &sc).await;
    let e1 = step(&mut app, S::Issuing, E::StartIssuing);
    let r = reservation(&app, &[sc.p_qty]);
    store.begin_issuance(&app, &e1, &r).await.unwrap();
    assert_eq!(counters(&store, &sc).await, ((0, 1), (0, 1)));
    assert_eq!(store.application(app.id).await.unwrap(), Some(app.clone()));

    let cert = certificate(&app);
    app.certificate_serial = Some(cert.serial.clone());
    let e2 = step(&mut app, S::Issued, E::CaIssued);
    store
        .complete_issuance(&app, &e2, r.id, &cert)
        .await
        .unwrap();
    assert_eq!(counters(&store, &sc).await, ((1, 0), (1, 0)));
    assert_eq!(
        store.certificate(&cert.serial).await.unwrap(),
        Some(cert.clone())
    );
    assert_eq!(store.certificate(&fresh_serial()).await.unwrap(), None);
    assert_eq!(store.application(app.id).await.unwrap(), Some(app.clone()));
    let h = store.history(app.id).await.unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[1..], [e1, e2]);
    assert_eq!(store.count_certificates(sc.point).await.unwrap().0, 1);
}

async fn abort_releases_the_reservation(store: Dyn) {
    let sc = scene(&store, Allotment::Finite(1), Allotment::Finite(1)).await;
    let mut app = ready(&store, &sc).await;
    let e1 = step(&mut app, S::Issuing, E::StartIssuing);
    let r = reservation(&app, &[sc.p_qty]);
    store.begin_issuance(&app, &e1, &r).await.unwrap();
    assert_eq!(counters(&store, &sc).await, ((0, 1), (0, 1)));
    let mut e2 = step(&mut app, S::ReadyToIssue, E::CaFailed);
    e2.reason = Some("CA unavailable".into());
    store.abort_issuance(&app, &e2, r.id).await.unwrap();
    assert_eq!(counters(&store, &sc).await, ((0, 0), (0, 0)));
    assert_eq!(
        store.application(app.id).await.unwrap().unwrap().status,
        S::ReadyToIssue
    );
    assert_eq!(store.history(app.id).await.unwrap().last(), Some(&e2));
    // The released unit can be used again (limit 1).
    issue_one(&store, &sc, &[sc.p_qty]).await.unwrap();
    assert_eq!(counters(&store, &sc).await, ((1, 0), (1, 0)));
    assert_eq!(store.count_certificates(sc.point).await.unwrap().0, 1);
}

async fn exhausted_limit_changes_nothing(store: Dyn) {
    let sc = scene(&store, Allotment::Finite(1), Allotment::Unlimited).await;
    issue_one(&store, &sc, &[sc.p_qty]).await.unwrap();
    let app = ready(&store, &sc).await;
    let mut next = app.clone();
    let e = step(&mut next, S::Issuing, E::StartIssuing);
    let r = reservation(&next, &[sc.p_qty]);
    assert_eq!(
        exhausted(store.begin_issuance(&next, &e, &r).await),
        QuotaScope::PointLimit(sc.point)
    );
    assert_eq!(store.application(app.id).await.unwrap(), Some(app.clone()));
    assert_eq!(store.history(app.id).await.unwrap().len(), 1);
    assert_eq!(counters(&store, &sc).await, ((1, 0), (1, 0)));
    // No reservation was recorded: settling it finds nothing.
    let mut done = app.clone();
    let e = step(&mut done, S::ReadyToIssue, E::CaFailed);
    assert_eq!(
        store.abort_issuance(&done, &e, r.id).await,
        Err(StoreError::ReservationGone(r.id))
    );
    assert_eq!(store.application(app.id).await.unwrap(), Some(app));
}

async fn zero_limit_and_zero_quantity_refuse(store: Dyn) {
    let sc = scene(&store, Allotment::Finite(0), Allotment::Unlimited).await;
    assert_eq!(
        exhausted(issue_one(&store, &sc, &[]).await),
        QuotaScope::PointLimit(sc.point)
    );
    assert_eq!(counters(&store, &sc).await, ((0, 0), (0, 0)));

    let sc = scene(&store, Allotment::Unlimited, Allotment::Finite(0)).await;
    assert_eq!(
        exhausted(issue_one(&store, &sc, &[sc.p_qty]).await),
        QuotaScope::ProductQuantity(sc.point, sc.p_qty)
    );
    // The point limit reserved before the quantity refused is rolled back too.
    assert_eq!(counters(&store, &sc).await, ((0, 0), (0, 0)));
    // A product without a quantity at the point cannot be debited either.
    assert_eq!(
        exhausted(issue_one(&store, &sc, &[sc.p_free]).await),
        QuotaScope::ProductQuantity(sc.point, sc.p_free)
    );
    assert_eq!(counters(&store, &sc).await, ((0, 0), (0, 0)));
    assert_eq!(
        store.count_certificates(sc.point).await.unwrap(),
        (0, vec![])
    );
}

async fn unlimited_never_refuses(store: Dyn) {
    let sc = scene(&store, Allotment::Unlimited, Allotment::Unlimited).await;
    for _ in 0..40 {
        issue_one(&store, &sc, &[sc.p_qty]).await.unwrap();
    }
    assert_eq!(counters(&store, &sc).await, ((40, 0), (40, 0)));
    assert_eq!(store.count_certificates(sc.point).await.unwrap().0, 40);
}

async fn only_listed_products_are_debited(store: Dyn) {
    let sc = scene(&store, Allotment::Finite(5), Allotment::Finite(5)).await;
    // Give the second product a quantity too; the reservation lists only the first.
    store
        .set_point_quantity(sc.point, sc.p_free, Allotment::Finite(5))
        .await
        .unwrap();
    issue_one(&store, &sc, &[sc.p_qty]).await.unwrap();
    let p = store.point(sc.point).await.unwrap().unwrap();
    assert_eq!(
        (
            p.quantities[&sc.p_qty].issued,
            p.quantities[&sc.p_qty].reserved
        ),
        (1, 0)
    );
    assert_eq!(
        (
            p.quantities[&sc.p_free].issued,
            p.quantities[&sc.p_free].reserved
        ),
        (0, 0)
    );
    // An empty list debits only the point limit.
    issue_one(&store, &sc, &[]).await.unwrap();
    let p = store.point(sc.point).await.unwrap().unwrap();
    assert_eq!(p.limit.issued, 2);
    assert_eq!(p.quantities[&sc.p_qty].issued, 1);
    assert_eq!(p.quantities[&sc.p_free].issued, 0);
}

async fn set_point_limit_below_usage_is_refused(store: Dyn) {
    let sc = scene(&store, Allotment::Finite(5), Allotment::Unlimited).await;
    issue_one(&store, &sc, &[]).await.unwrap();
    issue_one(&store, &sc, &[]).await.unwrap();
    let mut app = ready(&store, &sc).await;
    let e = step(&mut app, S::Issuing, E::StartIssuing);
    store
        .begin_issuance(&app, &e, &reservation(&app, &[]))
        .await
        .unwrap();
    assert_eq!(counters(&store, &sc).await.0, (2, 1));

    assert_eq!(
        store.set_point_limit(sc.point, Allotment::Finite(2)).await,
        Err(StoreError::Quota(QuotaError::BelowUsage {
            scope: QuotaScope::PointLimit(sc.point),
            requested: 2,
            used: 3
        }))
    );
    let p = store.point(sc.point).await.unwrap().unwrap();
    assert_eq!(p.limit.allotment, Allotment::Finite(5));
    assert_eq!((p.limit.issued, p.limit.reserved), (2, 1));

    store
        .set_point_limit(sc.point, Allotment::Finite(3))
        .await
        .unwrap();
    assert_eq!(
        store
            .point(sc.point)
            .await
            .unwrap()
            .unwrap()
            .limit
            .allotment,
        Allotment::Finite(3)
    );
    // Now full: the next reservation is refused.
    assert_eq!(
        exhausted(issue_one(&store, &sc, &[]).await),
        QuotaScope::PointLimit(sc.point)
    );
    store
        .set_point_limit(sc.point, Allotment::Unlimited)
        .await
        .unwrap();
    assert_eq!(
        store
            .point(sc.point)
            .await
            .unwrap()
            .unwrap()
            .limit
            .allotment,
        Allotment::Unlimited
    );
    issue_one(&store, &sc, &[]).await.unwrap();

    assert!(matches!(
        store
            .set_point_limit(
                PointId::from_random_bytes(fresh_bytes()),
                Allotment::Finite(1)
            )
            .await,
        Err(StoreError::NotFound {
            entity: "point",
            ..
        })
    ));
}

async fn set_point_quantity_below_usage_is_refused(store: Dyn) {
    let sc = scene(&store, Allotment::Unlimited, Allotment::Finite(4)).await;
    issue_one(&store, &sc, &[sc.p_qty]).await.unwrap();
    issue_one(&store, &sc, &[sc.p_qty]).await.unwrap();
    assert_eq!(
        store
            .set_point_quantity(sc.point, sc.p_qty, Allotment::Finite(1))
            .await,
        Err(StoreError::Quota(QuotaError::BelowUsage {
            scope: QuotaScope::ProductQuantity(sc.point, sc.p_qty),
            requested: 1,
            used: 2
        }))
    );
    assert_eq!(
        store.point(sc.point).await.unwrap().unwrap().quantities[&sc.p_qty].allotment,
        Allotment::Finite(4)
    );
    store
        .set_point_quantity(sc.point, sc.p_qty, Allotment::Finite(2))
        .await
        .unwrap();
    let q = store.point(sc.point).await.unwrap().unwrap().quantities[&sc.p_qty];
    assert_eq!(
        (q.allotment, q.issued, q.reserved),
        (Allotment::Finite(2), 2, 0)
    );
    assert_eq!(
        exhausted(issue_one(&store, &sc, &[sc.p_qty]).await),
        QuotaScope::ProductQuantity(sc.point, sc.p_qty)
    );
    // Adding a quantity for a new product.
    store
        .set_point_quantity(sc.point, sc.p_free, Allotment::Finite(7))
        .await
        .unwrap();
    let q = store.point(sc.point).await.unwrap().unwrap().quantities[&sc.p_free];
    assert_eq!(
        (q.allotment, q.issued, q.reserved),
        (Allotment::Finite(7), 0, 0)
    );
    assert!(matches!(
        store
            .set_point_quantity(
                PointId::from_random_bytes(fresh_bytes()),
                sc.p_qty,
                Allotment::Finite(1)
            )
            .await,
        Err(StoreError::NotFound {
            entity: "point",
            ..
        })
    ));
}

async fn count_certificates_matches(store: Dyn) {
    let a = scene(&store, Allotment::Unlimited, Allotment::Unlimited).await;
    let b = Scene {
        point: {
            let o = organization();
            let p = point(
                o.id,
                Allotment::Unlimited,
                &[(a.p_qty, Allotment::Unlimited)],
            );
            store.insert_point(&p).await.unwrap();
            p.id
        },
        service: a.service,
        p_qty: a.p_qty,
        p_free: a.p_free,
    };
    for _ in 0..3 {
        issue_one(&store, &a, &[a.p_qty]).await.unwrap();
    }
    for _ in 0..2 {
        issue_one(&store, &b, &[b.p_qty]).await.unwrap();
    }
    let mut want: Vec<(ProductId, u32)> = vec![(a.p_qty, 3), (a.p_free, 3)];
    want.sort();
    assert_eq!(store.count_certificates(a.point).await.unwrap(), (3, want));
    let mut want: Vec<(ProductId, u32)> = vec![(a.p_qty, 2), (a.p_free, 2)];
    want.sort();
    assert_eq!(store.count_certificates(b.point).await.unwrap(), (2, want));
    assert_eq!(
        store
            .count_certificates(PointId::from_random_bytes(fresh_bytes()))
            .await
            .unwrap(),
        (0, vec![])
    );
    // Counts agree with the counters.
    let p = store.point(a.point).await.unwrap().unwrap();
    assert_eq!(p.limit.issued, 3);
}

async fn settled_reservation_is_gone(store: Dyn) {
    let sc = scene(&store, Allotment::Finite(5), Allotment::Finite(5)).await;
    let mut app = ready(&store, &sc).await;
    let e = step(&mut app, S::Issuing, E::StartIssuing);
    let r = reservation(&app, &[sc.p_qty]);
    store.begin_issuance(&app, &e, &r).await.unwrap();
    let cert = certificate(&app);
    let e = step(&mut app, S::Issued, E::CaIssued);
    store
        .complete_issuance(&app, &e, r.id, &cert)
        .await
        .unwrap();
    // A second settlement of the same reservation (with a fresh version) is refused
    // and changes nothing.
    let stored = store.application(app.id).await.unwrap().unwrap();
    let mut again = stored.clone();
    let e = step(&mut again, S::Completed, E::Complete);
    assert_eq!(
        store.abort_issuance(&again, &e, r.id).await,
        Err(StoreError::ReservationGone(r.id))
    );
    assert_eq!(
        store
            .complete_issuance(&again, &e, r.id, &certificate(&again))
            .await,
        Err(StoreError::ReservationGone(r.id))
    );
    let unknown = ReservationId::from_random_bytes(fresh_bytes());
    assert_eq!(
        store.abort_issuance(&again, &e, unknown).await,
        Err(StoreError::ReservationGone(unknown))
    );
    assert_eq!(store.application(app.id).await.unwrap(), Some(stored));
    assert_eq!(store.history(app.id).await.unwrap().len(), 3);
    assert_eq!(counters(&store, &sc).await, ((1, 0), (1, 0)));
    assert_eq!(store.count_certificates(sc.point).await.unwrap().0, 1);
}

async fn duplicate_certificate_serial_changes_nothing(store: Dyn) {
    let sc = scene(&store, Allotment::Finite(5), Allotment::Finite(5)).await;
    let first = issue_one(&store, &sc, &[sc.p_qty]).await.unwrap();
    let serial = first.certificate_serial.clone().unwrap();

    let mut app = ready(&store, &sc).await;
    let e = step(&mut app, S::Issuing, E::StartIssuing);
    let r = reservation(&app, &[sc.p_qty]);
    store.begin_issuance(&app, &e, &r).await.unwrap();
    let issuing = app.clone();
    let mut cert = certificate(&app);
    cert.serial = serial.clone();
    let e = step(&mut app, S::Issued, E::CaIssued);
    assert_eq!(
        store.complete_issuance(&app, &e, r.id, &cert).await,
        Err(StoreError::Duplicate {
            entity: "certificate",
            field: "serial"
        })
    );
    assert_eq!(
        store.application(app.id).await.unwrap(),
        Some(issuing.clone())
    );
    assert_eq!(counters(&store, &sc).await, ((1, 1), (1, 1)));
    assert_eq!(
        store
            .certificate(&serial)
            .await
            .unwrap()
            .unwrap()
            .application_id,
        first.id
    );
    // The reservation is still active and can be released.
    let mut back = issuing.clone();
    let e = step(&mut back, S::ReadyToIssue, E::CaFailed);
    store.abort_issuance(&back, &e, r.id).await.unwrap();
    assert_eq!(counters(&store, &sc).await, ((1, 0), (1, 0)));
}

// ---------------------------------------------------------------------------
// Concurrency.

/// 200 tasks race begin + complete at a point with limit 25, each with its own
/// application: exactly 25 win, the others see the limit exhausted.
async fn race_point_limit(store: Dyn) {
    let sc = scene(&store, Allotment::Finite(25), Allotment::Unlimited).await;
    let mut apps = Vec::new();
    for _ in 0..200 {
        apps.push(ready(&store, &sc).await);
    }
    let mut tasks = Vec::new();
    for mut app in apps {
        let store = store.clone();
        let p_qty = sc.p_qty;
        tasks.push(tokio::spawn(async move {
            let original = app.clone();
            let e = step(&mut app, S::Issuing, E::StartIssuing);
            let r = reservation(&app, &[p_qty]);
            match store.begin_issuance(&app, &e, &r).await {
                Ok(()) => {}
                Err(err) => return (original, Err(err)),
            }
            tokio::task::yield_now().await;
            let cert = certificate(&app);
            let e = step(&mut app, S::Issued, E::CaIssued);
            store
                .complete_issuance(&app, &e, r.id, &cert)
                .await
                .unwrap();
            (app, Ok(()))
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (app, result) = t.await.unwrap();
        match result {
            Ok(()) => {
                ok += 1;
                assert_eq!(
                    store.application(app.id).await.unwrap().unwrap().status,
                    S::Issued
                );
            }
            Err(e) => {
                assert_eq!(
                    e,
                    StoreError::Quota(QuotaError::Exhausted {
                        scope: QuotaScope::PointLimit(sc.point)
                    })
                );
                assert_eq!(store.application(app.id).await.unwrap(), Some(app.clone()));
                assert_eq!(store.history(app.id).await.unwrap().len(), 1);
            }
        }
    }
    assert_eq!(ok, 25);
    assert_eq!(counters(&store, &sc).await, ((25, 0), (25, 0)));
    assert_eq!(store.count_certificates(sc.point).await.unwrap().0, 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_point_limit_memory() {
    race_point_limit(memory().store).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_point_limit_sqlite_file() {
    let f = sqlite_file().await;
    race_point_limit(f.store.clone()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_point_limit_postgres() {
    if let Some(f) = postgres().await {
        race_point_limit(f.store.clone()).await;
    }
}

// ---------------------------------------------------------------------------
// The certificate lifecycle after issuance, reminders, CRLs, the reservation
// sweep and CA material.

/// Issues a certificate at `sc` whose record `edit` adjusts first; returns it as
/// stored.
async fn issue_certificate(
    store: &Dyn,
    sc: &Scene,
    edit: impl FnOnce(&mut CertificateRecord),
) -> CertificateRecord {
    let mut app = ready(store, sc).await;
    let e = step(&mut app, S::Issuing, E::StartIssuing);
    let r = reservation(&app, &[]);
    store.begin_issuance(&app, &e, &r).await.unwrap();
    let mut cert = certificate(&app);
    edit(&mut cert);
    app.certificate_serial = Some(cert.serial.clone());
    let e = step(&mut app, S::Issued, E::CaIssued);
    store
        .complete_issuance(&app, &e, r.id, &cert)
        .await
        .unwrap();
    cert
}

/// Applies `event` to `cert` (version + 1) and returns the history entry for it.
fn cert_step(
    cert: &mut CertificateRecord,
    event: CertificateEvent,
    at: OffsetDateTime,
) -> CertificateHistoryEntry {
    let from = cert.status;
    cert.status = certificate_transition(from, event, at).unwrap();
    cert.version += 1;
    CertificateHistoryEntry {
        serial: cert.serial.clone(),
        actor: Actor::Admin("tester".into()),
        at,
        from,
        to: cert.status,
        event,
        comment: Some(format!("{} by the suite", event.name())),
    }
}

/// Stores `event` applied to `cert`.
async fn cert_change(store: &Dyn, cert: &mut CertificateRecord, event: CertificateEvent) {
    let e = cert_step(cert, event, t0() + Duration::hours(1));
    store.update_certificate(cert, &e).await.unwrap();
}

const KEY_COMPROMISE: CertificateEvent = CertificateEvent::Revoke {
    reason: RevocationReason::KeyCompromise,
};

async fn certificate_status_update_round_trip_with_history(store: Dyn) {
    let sc = scene(&store, Allotment::Unlimited, Allotment::Unlimited).await;
    let mut cert = issue_certificate(&store, &sc, |_| {}).await;
    assert_eq!(
        store.certificate(&cert.serial).await.unwrap(),
        Some(cert.clone())
    );
    assert_eq!(cert.version, 1);
    assert!(
        store
            .certificate_history(&cert.serial)
            .await
            .unwrap()
            .is_empty()
    );

    let mut entries = Vec::new();
    for (i, event) in [
        CertificateEvent::Suspend,
        CertificateEvent::Resume,
        CertificateEvent::Suspend,
        KEY_COMPROMISE,
    ]
    .into_iter()
    .enumerate()
    {
        let at = t0() + Duration::minutes(i64::try_from(i).unwrap() + 1);
        let e = cert_step(&mut cert, event, at);
        store.update_certificate(&cert, &e).await.unwrap();
        entries.push(e);
        assert_eq!(
            store.certificate(&cert.serial).await.unwrap(),
            Some(cert.clone())
        );
    }
    assert_eq!(cert.version, 5);
    assert_eq!(
        cert.status,
        CertificateStatus::Revoked {
            reason: RevocationReason::KeyCompromise,
            at: t0() + Duration::minutes(4),
        }
    );
    assert_eq!(
        store.certificate_history(&cert.serial).await.unwrap(),
        entries
    );
    // Every status round-trips, Expired included.
    let mut other = issue_certificate(&store, &sc, |_| {}).await;
    cert_change(&store, &mut other, CertificateEvent::Expire).await;
    assert_eq!(
        store
            .certificate(&other.serial)
            .await
            .unwrap()
            .unwrap()
            .status,
        CertificateStatus::Expired
    );
    assert_eq!(
        store
            .certificate_history(&other.serial)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .certificate_history(&fresh_serial())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn stale_certificate_version_is_rejected_and_nothing_written(store: Dyn) {
    let sc = scene(&store, Allotment::Unlimited, Allotment::Unlimited).await;
    let mut cert = issue_certificate(&store, &sc, |_| {}).await;
    cert_change(&store, &mut cert, CertificateEvent::Suspend).await;
    let stored = cert.clone();
    let conflict = Err(StoreError::CertificateVersionConflict {
        serial: cert.serial.clone(),
    });

    // A writer that read version 1 (before the suspension) loses.
    let mut stale = certificate(&application(sc.point, sc.service, &[], S::Issued));
    stale.serial = cert.serial.clone();
    stale.application_id = cert.application_id;
    let e = cert_step(&mut stale, KEY_COMPROMISE, t0());
    assert_eq!(stale.version, 2);
    assert_eq!(store.update_certificate(&stale, &e).await, conflict);
    // Same version as stored, a version skipped, version 0: all refused.
    for version in [2, 4, 0] {
        let mut c = cert.clone();
        let e = cert_step(&mut c, CertificateEvent::Resume, t0());
        c.version = version;
        assert_eq!(store.update_certificate(&c, &e).await, conflict);
    }
    // An unknown certificate is not found.
    let mut unknown = cert.clone();
    unknown.serial = fresh_serial();
    let e = cert_step(&mut unknown, CertificateEvent::Resume, t0());
    assert_eq!(
        store.update_certificate(&unknown, &e).await,
        Err(StoreError::NotFound {
            entity: "certificate",
            id: unknown.serial.to_string(),
        })
    );
    assert_eq!(store.certificate(&cert.serial).await.unwrap(), Some(stored));
    assert_eq!(
        store.certificate_history(&cert.serial).await.unwrap().len(),
        1
    );
    assert!(
        store
            .certificate_history(&unknown.serial)
            .await
            .unwrap()
            .is_empty()
    );
    // The right version still wins.
    cert_change(&store, &mut cert, CertificateEvent::Resume).await;
    assert_eq!(store.certificate(&cert.serial).await.unwrap(), Some(cert));
}

async fn revoked_certificates_are_revoked_and_suspended_by_serial(store: Dyn) {
    let sc = scene(&store, Allotment::Unlimited, Allotment::Unlimited).await;
    assert!(store.revoked_certificates().await.unwrap().is_empty());
    let mut want = Vec::new();
    for i in 0..8 {
        let mut c = issue_certificate(&store, &sc, |_| {}).await;
        match i % 4 {
            0 => {}
            1 => {
                cert_change(&store, &mut c, CertificateEvent::Suspend).await;
                want.push(c);
            }
            2 => {
                cert_change(&store, &mut c, KEY_COMPROMISE).await;
                want.push(c);
            }
            _ => cert_change(&store, &mut c, CertificateEvent::Expire).await,
        }
    }
    // A suspended certificate resumed leaves the list.
    let mut resumed = issue_certificate(&store, &sc, |_| {}).await;
    cert_change(&store, &mut resumed, CertificateEvent::Suspend).await;
    cert_change(&store, &mut resumed, CertificateEvent::Resume).await;
    want.sort_by(|a, b| a.serial.cmp(&b.serial));
    assert_eq!(want.len(), 4);
    assert_eq!(store.revoked_certificates().await.unwrap(), want);
}

async fn certificates_expiring_bounds(store: Dyn) {
    let sc = scene(&store, Allotment::Unlimited, Allotment::Unlimited).await;
    let from = t0() + Duration::days(30);
    let to = from + Duration::days(10);
    let ns = Duration::nanoseconds(1);
    let at = |not_after: OffsetDateTime| {
        let store = store.clone();
        let sc = &sc;
        async move { issue_certificate(&store, sc, |c| c.not_after = not_after).await }
    };
    let _at_from = at(from).await;
    let _before = at(from - ns).await;
    let last = at(to).await;
    let _after = at(to + ns).await;
    let first = at(from + ns).await;
    // Stored with another offset: compared as an instant, not as text.
    let middle = at((from + Duration::days(5)).to_offset(offset!(+3))).await;
    let mut suspended = at(from + Duration::days(2)).await;
    cert_change(&store, &mut suspended, CertificateEvent::Suspend).await;
    let mut revoked = at(from + Duration::days(3)).await;
    cert_change(&store, &mut revoked, KEY_COMPROMISE).await;

    let got = store.certificates_expiring(from, to).await.unwrap();
    assert_eq!(got, vec![first.clone(), middle.clone(), last.clone()]);
    assert_eq!(got[1].not_after.offset(), offset!(+3));
    // The same bounds given with another offset.
    assert_eq!(
        store
            .certificates_expiring(from.to_offset(offset!(-5)), to.to_offset(offset!(+9)))
            .await
            .unwrap(),
        got
    );
    assert_eq!(
        store.certificates_expiring(from, from).await.unwrap(),
        vec![]
    );
    assert_eq!(
        store.certificates_expiring(from, from + ns).await.unwrap(),
        vec![first]
    );
    assert_eq!(
        store.certificates_expiring(to - ns, to).await.unwrap(),
        vec![last]
    );
    assert_eq!(store.certificates_expiring(to, from).await.unwrap(), vec![]);
}

async fn certificates_past_validity_lists_valid_and_suspended(store: Dyn) {
    let sc = scene(&store, Allotment::Unlimited, Allotment::Unlimited).await;
    let at = t0() + Duration::days(100);
    let ns = Duration::nanoseconds(1);
    let exactly = issue_certificate(&store, &sc, |c| c.not_after = at).await;
    let mut held = issue_certificate(&store, &sc, |c| c.not_after = at - Duration::days(2)).await;
    cert_change(&store, &mut held, CertificateEvent::Suspend).await;
    let before = issue_certificate(&store, &sc, |c| c.not_after = at - ns).await;
    let _later = issue_certificate(&store, &sc, |c| c.not_after = at + ns).await;
    let mut revoked = issue_certificate(&store, &sc, |c| c.not_after = at - ns).await;
    cert_change(&store, &mut revoked, KEY_COMPROMISE).await;
    let mut expired = issue_certificate(&store, &sc, |c| c.not_after = at - ns).await;
    cert_change(&store, &mut expired, CertificateEvent::Expire).await;

    assert_eq!(
        store.certificates_past_validity(at).await.unwrap(),
        vec![held.clone(), before, exactly]
    );
    assert_eq!(
        store
            .certificates_past_validity(at - Duration::days(1))
            .await
            .unwrap(),
        vec![held.clone()]
    );
    assert_eq!(
        store
            .certificates_past_validity(at - Duration::days(3))
            .await
            .unwrap(),
        vec![]
    );
    // Once expired it is no longer listed.
    cert_change(&store, &mut held, CertificateEvent::Expire).await;
    assert_eq!(
        store
            .certificates_past_validity(at - Duration::days(1))
            .await
            .unwrap(),
        vec![]
    );
}

async fn reminder_is_claimed_once_until_released(store: Dyn) {
    let sc = scene(&store, Allotment::Unlimited, Allotment::Unlimited).await;
    let a = issue_certificate(&store, &sc, |_| {}).await.serial;
    let b = issue_certificate(&store, &sc, |_| {}).await.serial;
    let at = t0();
    assert!(store.claim_reminder(&a, "30d", at).await.unwrap());
    assert!(!store.claim_reminder(&a, "30d", at).await.unwrap());
    assert!(
        !store
            .claim_reminder(&a, "30d", at + Duration::days(1))
            .await
            .unwrap()
    );
    // Other windows and other certificates are separate.
    assert!(store.claim_reminder(&a, "7d", at).await.unwrap());
    assert!(store.claim_reminder(&b, "30d", at).await.unwrap());
    // A released reminder can be claimed again, once.
    store.release_reminder(&a, "30d").await.unwrap();
    assert!(store.claim_reminder(&a, "30d", at).await.unwrap());
    assert!(!store.claim_reminder(&a, "30d", at).await.unwrap());
    assert!(!store.claim_reminder(&a, "7d", at).await.unwrap());
    // Releasing what is not claimed is harmless.
    store.release_reminder(&b, "1d").await.unwrap();
    store
        .release_reminder(&fresh_serial(), "30d")
        .await
        .unwrap();
    assert!(!store.claim_reminder(&b, "30d", at).await.unwrap());
}

async fn crl_numbers_are_sequential_and_unique_under_concurrency(store: Dyn) {
    for want in 1..=3 {
        assert_eq!(store.next_crl_number().await.unwrap(), want);
    }
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.next_crl_number().await.unwrap()
        }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    got.sort_unstable();
    assert_eq!(got, (4..=53).collect::<Vec<u64>>());
    assert_eq!(store.next_crl_number().await.unwrap(), 54);
}

async fn latest_crl_is_the_highest_number(store: Dyn) {
    assert_eq!(store.latest_crl().await.unwrap(), None);
    let crl = |number: u64| PublishedCrl {
        number,
        this_update: t0() + Duration::hours(i64::try_from(number).unwrap()),
        next_update: t0() + Duration::days(7),
        der: vec![0x30, 0x03, 0x02, 0x01, u8::try_from(number).unwrap()],
    };
    store.save_crl(&crl(2)).await.unwrap();
    assert_eq!(store.latest_crl().await.unwrap(), Some(crl(2)));
    store.save_crl(&crl(5)).await.unwrap();
    store.save_crl(&crl(3)).await.unwrap();
    assert_eq!(store.latest_crl().await.unwrap(), Some(crl(5)));
    // A number is published once; the first stays.
    let mut again = crl(5);
    again.der = vec![0x30, 0x00];
    assert!(matches!(
        store.save_crl(&again).await,
        Err(StoreError::Duplicate { .. })
    ));
    assert_eq!(store.latest_crl().await.unwrap(), Some(crl(5)));
    store.save_crl(&crl(12)).await.unwrap();
    assert_eq!(store.latest_crl().await.unwrap(), Some(crl(12)));
}

async fn expired_reservations_respect_now_and_limit(store: Dyn) {
    let sc = scene(&store, Allotment::Unlimited, Allotment::Unlimited).await;
    let mut reservations = Vec::new();
    // Begun out of order of expiry; one with another offset.
    for minutes in [3i64, 1, 2] {
        let mut app = ready(&store, &sc).await;
        let e = step(&mut app, S::Issuing, E::StartIssuing);
        let mut r = reservation(&app, &[sc.p_qty]);
        r.expires_at = t0() + Duration::minutes(minutes);
        if minutes == 2 {
            r.expires_at = r.expires_at.to_offset(offset!(+3));
        }
        store.begin_issuance(&app, &e, &r).await.unwrap();
        reservations.push((minutes, app, r));
    }
    reservations.sort_by_key(|(m, _, _)| *m);
    let r = |i: usize| reservations[i].2.clone();
    let ns = Duration::nanoseconds(1);

    assert_eq!(store.expired_reservations(t0(), 10).await.unwrap(), vec![]);
    assert_eq!(
        store
            .expired_reservations(t0() + Duration::minutes(1) - ns, 10)
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(
        store
            .expired_reservations(t0() + Duration::minutes(1), 10)
            .await
            .unwrap(),
        vec![r(0)]
    );
    assert_eq!(
        store
            .expired_reservations(t0() + Duration::minutes(2), 10)
            .await
            .unwrap(),
        vec![r(0), r(1)]
    );
    let late = t0() + Duration::hours(1);
    assert_eq!(
        store.expired_reservations(late, 10).await.unwrap(),
        vec![r(0), r(1), r(2)]
    );
    assert_eq!(
        store.expired_reservations(late, 2).await.unwrap(),
        vec![r(0), r(1)]
    );
    assert_eq!(store.expired_reservations(late, 0).await.unwrap(), vec![]);
    // A released reservation is no longer listed.
    let (_, app, res) = &reservations[0];
    let mut back = app.clone();
    let e = step(&mut back, S::ReadyToIssue, E::CaFailed);
    store.abort_issuance(&back, &e, res.id).await.unwrap();
    assert_eq!(
        store.expired_reservations(late, 10).await.unwrap(),
        vec![r(1), r(2)]
    );
}

async fn ca_material_is_inserted_once(store: Dyn) {
    let ca = |name: &str, key: u8| StoredCa {
        name: name.into(),
        certificate_der: vec![0x30, 0x82, 0x01, key],
        encrypted_key: vec![key; 48],
        key_encryption: "aes-256-gcm".into(),
    };
    assert_eq!(store.ca_material("default").await.unwrap(), None);
    assert!(store.insert_ca_material(&ca("default", 1)).await.unwrap());
    assert!(!store.insert_ca_material(&ca("default", 2)).await.unwrap());
    assert_eq!(
        store.ca_material("default").await.unwrap(),
        Some(ca("default", 1))
    );
    assert!(store.insert_ca_material(&ca("other", 3)).await.unwrap());
    assert_eq!(
        store.ca_material("other").await.unwrap(),
        Some(ca("other", 3))
    );
    assert_eq!(store.ca_material("missing").await.unwrap(), None);
}

// ---------------------------------------------------------------------------
// Application listing and identity checks.

/// Every page of `filter` with page size `size`, following the cursor.
async fn all_pages(store: &Dyn, filter: &ApplicationFilter, size: u32) -> Vec<Vec<Application>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_applications(filter, after, size).await.unwrap();
        assert!(page.len() <= size as usize);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let full = page.len() == size as usize;
        pages.push(page);
        if !full {
            break;
        }
    }
    pages
}

async fn list_applications_filters_and_pages(store: Dyn) {
    let sc = scene(&store, Allotment::Unlimited, Allotment::Unlimited).await;
    let other_point = PointId::from_random_bytes(fresh_bytes());
    let other_service = ServiceId::from_random_bytes(fresh_bytes());
    assert_eq!(
        store
            .list_applications(&ApplicationFilter::default(), None, 10)
            .await
            .unwrap(),
        vec![]
    );
    // Ids made out of creation order (hex digits and letters in the first place).
    let leads = [0x90u8, 0x10, 0xf0, 0xa0, 0x30, 0xc0, 0x70];
    let mut apps = Vec::new();
    for (i, lead) in leads.into_iter().enumerate() {
        let point = if i % 2 == 0 { sc.point } else { other_point };
        let status = if i % 3 == 0 {
            S::Draft
        } else {
            S::ReadyToIssue
        };
        let service = if i == 6 { other_service } else { sc.service };
        let mut app = application(point, service, &[sc.p_qty], status);
        let mut bytes = fresh_bytes();
        bytes[0] = lead;
        app.id = ApplicationId::from_random_bytes(bytes);
        app.check_round = u32::try_from(i).unwrap();
        store
            .insert_application(&app, &entry(&app, S::Draft, E::Submit))
            .await
            .unwrap();
        apps.push(app);
    }
    apps.sort_by_key(|a| a.id);

    // Everything: pages of 3, 3 and 1 in id order, each application once.
    let all = ApplicationFilter::default();
    let pages = all_pages(&store, &all, 3).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 1]
    );
    assert_eq!(pages.concat(), apps);
    assert_eq!(
        store.list_applications(&all, None, 100).await.unwrap(),
        apps
    );
    assert_eq!(
        store.list_applications(&all, None, 0).await.unwrap(),
        vec![]
    );
    // The cursor need not be a listed id.
    let mut between = apps[2].id.as_uuid().into_bytes();
    between[15] = between[15].wrapping_add(1);
    let cursor = ApplicationId::from_uuid(uuid::Uuid::from_bytes(between));
    assert!(apps[2].id < cursor && cursor < apps[3].id);
    assert_eq!(
        store
            .list_applications(&all, Some(cursor), 2)
            .await
            .unwrap(),
        apps[3..5].to_vec()
    );
    let last = apps[6].id;
    assert_eq!(
        store.list_applications(&all, Some(last), 3).await.unwrap(),
        vec![]
    );

    // Filters, alone and combined, each paged.
    let filters = [
        ApplicationFilter {
            status: Some(S::Draft),
            ..Default::default()
        },
        ApplicationFilter {
            status: Some(S::ReadyToIssue),
            ..Default::default()
        },
        ApplicationFilter {
            point_id: Some(other_point),
            ..Default::default()
        },
        ApplicationFilter {
            service_id: Some(other_service),
            ..Default::default()
        },
        ApplicationFilter {
            status: Some(S::ReadyToIssue),
            point_id: Some(sc.point),
            ..Default::default()
        },
        ApplicationFilter {
            status: Some(S::Draft),
            point_id: Some(sc.point),
            service_id: Some(other_service),
        },
        ApplicationFilter {
            status: Some(S::Issued),
            ..Default::default()
        },
        ApplicationFilter {
            point_id: Some(PointId::from_random_bytes(fresh_bytes())),
            ..Default::default()
        },
    ];
    for filter in &filters {
        let want: Vec<Application> = apps
            .iter()
            .filter(|a| filter.status.is_none_or(|s| a.status == s))
            .filter(|a| filter.point_id.is_none_or(|p| a.point_id == p))
            .filter(|a| filter.service_id.is_none_or(|s| a.service_id == s))
            .cloned()
            .collect();
        for size in [1, 2, 3, 10] {
            let pages = all_pages(&store, filter, size).await;
            assert_eq!(pages.concat(), want, "{filter:?}, pages of {size}");
        }
    }
    // All three conditions together match exactly one application.
    let draft_at_point = &filters[5];
    assert_eq!(
        store
            .list_applications(draft_at_point, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // A listed application reads back as written, and follows its updates.
    let mut changed = apps[0].clone();
    let e = step(&mut changed, S::Issuing, E::StartIssuing);
    store.update_application(&changed, Some(&e)).await.unwrap();
    let issuing = ApplicationFilter {
        status: Some(S::Issuing),
        ..Default::default()
    };
    assert_eq!(
        store.list_applications(&issuing, None, 10).await.unwrap(),
        vec![changed]
    );
}

fn identity_check(
    app: ApplicationId,
    round: u32,
    kind: SmevCheckKind,
    next: OffsetDateTime,
) -> IdentityCheck {
    IdentityCheck::new(app, round, kind, next, next + Duration::hours(1))
}

async fn ensure_checks_is_idempotent(store: Dyn) {
    let app = ApplicationId::from_random_bytes(fresh_bytes());
    store.ensure_checks(&[]).await.unwrap();
    assert_eq!(store.checks(app).await.unwrap(), vec![]);
    let first = identity_check(app, 0, SmevCheckKind::Passport, t0());
    store
        .ensure_checks(std::slice::from_ref(&first))
        .await
        .unwrap();
    assert_eq!(store.checks(app).await.unwrap(), vec![first.clone()]);

    // Again with other fields, and a new check alongside: the first stays.
    let mut again = first.clone();
    again.request_id = Some("req-1".into());
    again.state = CheckState::Invalid("expired".into());
    again.attempts = 4;
    again.next_attempt_at = t0() + Duration::minutes(5);
    again.lease_until = Some(t0() + Duration::minutes(1));
    again.version = 7;
    let snils = identity_check(
        app,
        0,
        SmevCheckKind::Snils,
        (t0() + Duration::seconds(1)).to_offset(offset!(+3)),
    );
    store.ensure_checks(&[again, snils.clone()]).await.unwrap();
    assert_eq!(
        store.checks(app).await.unwrap(),
        vec![first.clone(), snils.clone()]
    );
    store
        .ensure_checks(&[snils.clone(), first.clone()])
        .await
        .unwrap();
    assert_eq!(store.checks(app).await.unwrap(), vec![first, snils]);
}

async fn checks_are_ordered_by_round_then_kind(store: Dyn) {
    use SmevCheckKind::{Inn, Passport, Snils};
    let app = ApplicationId::from_random_bytes(fresh_bytes());
    let other = ApplicationId::from_random_bytes(fresh_bytes());
    let c = |round, kind| identity_check(app, round, kind, t0());
    // Written out of order; `inn` sorts after `snils` (declaration order, not name).
    store
        .ensure_checks(&[
            c(1, Inn),
            c(0, Snils),
            identity_check(other, 0, Passport, t0()),
            c(1, Passport),
            c(0, Inn),
            c(10, Snils),
            c(0, Passport),
            c(2, Snils),
        ])
        .await
        .unwrap();
    let got: Vec<(u32, SmevCheckKind)> = store
        .checks(app)
        .await
        .unwrap()
        .iter()
        .map(|c| (c.round, c.kind))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, Passport),
            (0, Snils),
            (0, Inn),
            (1, Passport),
            (1, Inn),
            (2, Snils),
            (10, Snils)
        ]
    );
    assert_eq!(store.checks(other).await.unwrap().len(), 1);
    let nobody = ApplicationId::from_random_bytes(fresh_bytes());
    assert_eq!(store.checks(nobody).await.unwrap(), vec![]);
}

/// `check` as a claim leaves it: leased until `lease`, one version on.
fn leased(check: &IdentityCheck, lease: OffsetDateTime) -> IdentityCheck {
    let mut c = check.clone();
    c.lease_until = Some(lease);
    c.version += 1;
    c
}

async fn claim_due_checks_leases_due_pending_checks(store: Dyn) {
    let app = ApplicationId::from_random_bytes(fresh_bytes());
    let t = t0();
    let ns = Duration::nanoseconds(1);
    let min = Duration::minutes;
    let at = |round: u32, next: OffsetDateTime| {
        identity_check(app, round, SmevCheckKind::Passport, next)
    };
    let d1 = at(1, t - min(2));
    let d2 = at(2, (t - min(1)).to_offset(offset!(+3)));
    let d3 = at(3, t);
    let not_yet = at(4, t + ns);
    let mut done = at(5, t - min(5));
    done.state = CheckState::Valid;
    let mut held = at(6, t - min(3));
    held.lease_until = Some(t + min(1));
    let mut lapsed = at(7, t - min(4));
    lapsed.lease_until = Some(t);
    let mut timed_out = at(8, t - min(6));
    timed_out.state = CheckState::Timeout;
    store
        .ensure_checks(&[
            d3.clone(),
            not_yet.clone(),
            done.clone(),
            d1.clone(),
            held.clone(),
            lapsed.clone(),
            d2.clone(),
            timed_out.clone(),
        ])
        .await
        .unwrap();

    assert_eq!(
        store.claim_due_checks(t, t + min(10), 0).await.unwrap(),
        vec![]
    );
    // Oldest due first, at most `limit`; a lease that ended at `now` is over.
    let l1 = t + min(10);
    let first = store.claim_due_checks(t, l1, 3).await.unwrap();
    assert_eq!(
        first,
        vec![leased(&lapsed, l1), leased(&d1, l1), leased(&d2, l1)]
    );
    assert_eq!(first[0].version, 2);
    assert_eq!(
        store.claim_due_checks(t, l1, 10).await.unwrap(),
        vec![leased(&d3, l1)]
    );
    // Everything due is leased now.
    assert_eq!(store.claim_due_checks(t, l1, 10).await.unwrap(), vec![]);
    // The not-yet check falls due; the held lease still runs until it ends.
    let l2 = t + min(20);
    assert_eq!(
        store
            .claim_due_checks(t + min(1) - ns, l2, 10)
            .await
            .unwrap(),
        vec![leased(&not_yet, l2)]
    );
    assert_eq!(
        store.claim_due_checks(t + min(1), l2, 10).await.unwrap(),
        vec![leased(&held, l2)]
    );
    assert_eq!(
        store.claim_due_checks(l1 - ns, l2, 10).await.unwrap(),
        vec![]
    );
    // The first leases pass: claimed again, one more version on.
    let l3 = t + min(30);
    let again = store.claim_due_checks(l1, l3, 10).await.unwrap();
    let want: Vec<IdentityCheck> = [&lapsed, &d1, &d2, &d3]
        .into_iter()
        .map(|c| leased(&leased(c, l1), l3))
        .collect();
    assert_eq!(again, want);
    assert!(again.iter().all(|c| c.version == 3));
    // Final checks are never claimed.
    let far = t + Duration::days(365);
    let last = store
        .claim_due_checks(far, far + min(1), 100)
        .await
        .unwrap();
    assert_eq!(last.len(), 6);
    assert!(last.iter().all(|c| !c.state.is_final()));
    assert_eq!(
        store
            .claim_due_checks(far, far + min(1), 100)
            .await
            .unwrap(),
        vec![]
    );
    // The store shows what the claims returned.
    let stored = store.checks(app).await.unwrap();
    assert_eq!(stored.len(), 8);
    assert_eq!(stored[4], done);
    assert_eq!(stored[7], timed_out);
    for c in &last {
        assert_eq!(stored[(c.round - 1) as usize], *c);
    }
}

async fn update_check_is_version_checked(store: Dyn) {
    let app = ApplicationId::from_random_bytes(fresh_bytes());
    let t = t0();
    let c = identity_check(app, 0, SmevCheckKind::Snils, t);
    store.ensure_checks(std::slice::from_ref(&c)).await.unwrap();
    let lease = t + Duration::minutes(5);
    let mut claimed = store.claim_due_checks(t, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let mut work = claimed.remove(0);

    // Submitted: the next version, written once.
    work.request_id = Some("smev-42".into());
    work.submitted_at = Some(t + Duration::seconds(1));
    work.attempts = 1;
    work.next_attempt_at = (t + Duration::seconds(30)).to_offset(offset!(+3));
    work.version += 1;
    store.update_check(&work).await.unwrap();
    assert_eq!(store.checks(app).await.unwrap(), vec![work.clone()]);

    // Stale, repeated and skipped versions are refused and change nothing.
    for version in [0, work.version - 1, work.version, work.version + 2] {
        let mut stale = work.clone();
        stale.state = CheckState::Error("stale writer".into());
        stale.version = version;
        match store.update_check(&stale).await {
            Err(StoreError::CheckVersionConflict { key }) => {
                assert_eq!(key, c.idempotency_key);
            }
            other => panic!("expected a version conflict for {version}, got {other:?}"),
        }
        assert_eq!(store.checks(app).await.unwrap(), vec![work.clone()]);
    }
    // An unknown check is not found.
    let mut missing = identity_check(app, 1, SmevCheckKind::Snils, t);
    missing.version = 2;
    assert!(matches!(
        store.update_check(&missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.checks(app).await.unwrap(), vec![work.clone()]);

    // Answered and released: final, so never claimed again.
    work.state = CheckState::Invalid("passport expired".into());
    work.completed_at = Some(t + Duration::minutes(1));
    work.lease_until = None;
    work.next_attempt_at = t;
    work.version += 1;
    store.update_check(&work).await.unwrap();
    assert_eq!(store.checks(app).await.unwrap(), vec![work.clone()]);
    let far = t + Duration::days(30);
    assert_eq!(store.claim_due_checks(far, far, 10).await.unwrap(), vec![]);

    // A pending check released early (lease cleared) is claimable at once.
    let other = identity_check(app, 0, SmevCheckKind::Inn, t);
    store
        .ensure_checks(std::slice::from_ref(&other))
        .await
        .unwrap();
    let mut held = store.claim_due_checks(t, far, 10).await.unwrap().remove(0);
    assert_eq!(store.claim_due_checks(t, far, 10).await.unwrap(), vec![]);
    held.lease_until = None;
    held.attempts = 1;
    held.version += 1;
    store.update_check(&held).await.unwrap();
    assert_eq!(
        store.claim_due_checks(t, far, 10).await.unwrap(),
        vec![leased(&held, far)]
    );
}

async fn concurrent_claims_never_share_a_check(store: Dyn) {
    let t = t0();
    let mut all = Vec::new();
    for _ in 0..4 {
        let app = ApplicationId::from_random_bytes(fresh_bytes());
        for round in 0..5u32 {
            let next = t - Duration::seconds(i64::from(round));
            all.push(identity_check(app, round, SmevCheckKind::Passport, next));
        }
    }
    store.ensure_checks(&all).await.unwrap();
    let lease = t + Duration::minutes(5);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.claim_due_checks(t, lease, 5).await.unwrap()
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        let got = task.await.unwrap();
        assert!(got.len() <= 5);
        claimed.extend(got);
    }
    // Whatever a racing claim skipped, a later one picks up.
    claimed.extend(store.claim_due_checks(t, lease, 100).await.unwrap());
    let mut keys: Vec<String> = claimed.iter().map(|c| c.idempotency_key.clone()).collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), before, "a check was claimed twice");
    let mut want: Vec<String> = all.iter().map(|c| c.idempotency_key.clone()).collect();
    want.sort();
    assert_eq!(keys, want);
    assert!(
        claimed
            .iter()
            .all(|c| c.version == 2 && c.lease_until == Some(lease))
    );
    assert_eq!(store.claim_due_checks(t, lease, 100).await.unwrap(), vec![]);
}

// ---------------------------------------------------------------------------
// Users, employees, sessions and the keyset listings by id.

use utrust_core::domain::agents::{AgentRef, Employee, UserAccount};
use utrust_core::domain::ids::{BranchId, EmployeeId, OrganizationId, UserId};

/// Fresh id bytes whose first byte is taken round-robin from a scrambled list, so
/// ids made in a row are not in id order (digits and letters in the first place).
fn scrambled_bytes(i: usize) -> [u8; 16] {
    const FIRST: [u8; 5] = [0xe1, 0x07, 0xa4, 0x3c, 0x9f];
    let mut b = fresh_bytes();
    b[0] = FIRST[i % FIRST.len()];
    b
}

fn user_account(username: &str) -> UserAccount {
    UserAccount {
        id: UserId::from_random_bytes(fresh_bytes()),
        username: username.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        active: true,
        staff: true,
        superuser: false,
        groups: vec!["operators".into()],
        permissions: vec!["applications.view".into(), "applications.issue".into()],
    }
}

fn employee_of(user: UserId, referral: AgentRef, visibility: Vec<AgentRef>) -> Employee {
    Employee {
        id: EmployeeId::from_random_bytes(fresh_bytes()),
        user_id: user,
        surname: "Иванов".into(),
        given_name: "Иван".into(),
        patronymic: Some("Иванович".into()),
        position: "оператор".into(),
        email: email(),
        phone: "+7 495 000-00-00".into(),
        notify: true,
        permissions: vec!["issue".into()],
        referral,
        visibility,
    }
}

fn duplicate(entity: &'static str, field: &'static str) -> StoreError {
    StoreError::Duplicate { entity, field }
}

async fn user_round_trip_and_replace(store: Dyn) {
    let mut u = user_account("ivanov");
    store.insert_user(&u).await.unwrap();
    assert_eq!(store.user(u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(
        store
            .user(UserId::from_random_bytes(fresh_bytes()))
            .await
            .unwrap(),
        None
    );

    u.username = "ivanov.i".into();
    u.active = false;
    u.superuser = true;
    u.groups.clear();
    store.update_user(&u).await.unwrap();
    assert_eq!(store.user(u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(store.user_by_username("ivanov").await.unwrap(), None);
    assert_eq!(
        store.user_by_username("ivanov.i").await.unwrap(),
        Some(u.clone())
    );

    // Inserting a known id replaces the account, its login included.
    u.username = "ivanov.ii".into();
    u.permissions = vec!["x".into()];
    store.insert_user(&u).await.unwrap();
    assert_eq!(store.user(u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(store.user_by_username("ivanov.i").await.unwrap(), None);
    assert_eq!(store.list_users(None, 10).await.unwrap(), vec![u.clone()]);

    let ghost = user_account("ghost");
    assert_eq!(
        store.update_user(&ghost).await,
        Err(StoreError::NotFound {
            entity: "user",
            id: ghost.id.to_string(),
        })
    );
    // A missing id is not found even when its login is taken.
    let mut ghost = user_account("ivanov.ii");
    ghost.active = false;
    assert!(matches!(
        store.update_user(&ghost).await,
        Err(StoreError::NotFound { entity: "user", .. })
    ));
    assert_eq!(store.user(ghost.id).await.unwrap(), None);
}

async fn duplicate_username_is_refused_and_changes_nothing(store: Dyn) {
    let a = user_account("petrov");
    let b = user_account("sidorov");
    store.insert_user(&a).await.unwrap();
    store.insert_user(&b).await.unwrap();

    let c = user_account("petrov");
    assert_eq!(
        store.insert_user(&c).await,
        Err(duplicate("user", "username"))
    );
    assert_eq!(store.user(c.id).await.unwrap(), None);
    assert_eq!(
        store.user_by_username("petrov").await.unwrap(),
        Some(a.clone())
    );

    // Replacing a known id with another's login is refused too.
    let mut b2 = b.clone();
    b2.username = "petrov".into();
    assert_eq!(
        store.insert_user(&b2).await,
        Err(duplicate("user", "username"))
    );

    let mut b3 = b.clone();
    b3.username = "petrov".into();
    b3.active = false;
    b3.groups = vec!["admins".into()];
    assert_eq!(
        store.update_user(&b3).await,
        Err(duplicate("user", "username"))
    );
    assert_eq!(store.user(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.user(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(
        store.user_by_username("sidorov").await.unwrap(),
        Some(b.clone())
    );

    // Keeping one's own login is not a duplicate.
    let mut b4 = b.clone();
    b4.active = false;
    store.update_user(&b4).await.unwrap();
    store.insert_user(&b4).await.unwrap();
    assert_eq!(store.user(b.id).await.unwrap(), Some(b4));
    let mut ids = vec![a.id, b.id];
    ids.sort();
    let listed: Vec<UserId> = store
        .list_users(None, 10)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(listed, ids);
}

async fn user_by_username_finds_the_exact_login(store: Dyn) {
    let a = user_account("operator");
    let b = user_account("operator2");
    let c = user_account("Оператор");
    for u in [&a, &b, &c] {
        store.insert_user(u).await.unwrap();
    }
    assert_eq!(
        store.user_by_username("operator").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.user_by_username("operator2").await.unwrap(),
        Some(b.clone())
    );
    assert_eq!(
        store.user_by_username("Оператор").await.unwrap(),
        Some(c.clone())
    );
    for missing in ["Operator", "operator ", "oper", "", "оператор"] {
        assert_eq!(
            store.user_by_username(missing).await.unwrap(),
            None,
            "{missing:?}"
        );
    }
}

async fn employee_round_trip_with_visibility(store: Dyn) {
    let u = user_account("emp");
    store.insert_user(&u).await.unwrap();
    let org = OrganizationId::from_random_bytes(fresh_bytes());
    let br = BranchId::from_random_bytes(fresh_bytes());
    let pt = PointId::from_random_bytes(fresh_bytes());
    let mut e = employee_of(
        u.id,
        AgentRef::Point(pt),
        vec![
            AgentRef::Organization(org),
            AgentRef::Branch(br),
            AgentRef::Point(pt),
        ],
    );
    store.insert_employee(&e).await.unwrap();
    assert_eq!(store.employee(e.id).await.unwrap(), Some(e.clone()));
    assert_eq!(
        store
            .employee(EmployeeId::from_random_bytes(fresh_bytes()))
            .await
            .unwrap(),
        None
    );

    // Inserting a known id replaces the record, its links included.
    e.referral = AgentRef::Branch(br);
    e.visibility = vec![AgentRef::Branch(br)];
    e.patronymic = None;
    e.notify = false;
    store.insert_employee(&e).await.unwrap();
    assert_eq!(store.employee(e.id).await.unwrap(), Some(e.clone()));
    e.visibility.clear();
    store.insert_employee(&e).await.unwrap();
    assert_eq!(store.employee(e.id).await.unwrap(), Some(e.clone()));
    assert_eq!(store.list_employees(None, 10).await.unwrap(), vec![e]);
}

async fn second_employee_for_a_user_is_refused(store: Dyn) {
    let u = user_account("one");
    let org = OrganizationId::from_random_bytes(fresh_bytes());
    let e1 = employee_of(u.id, AgentRef::Organization(org), vec![]);
    store.insert_employee(&e1).await.unwrap();
    let e2 = employee_of(
        u.id,
        AgentRef::Organization(org),
        vec![AgentRef::Organization(org)],
    );
    assert_eq!(
        store.insert_employee(&e2).await,
        Err(duplicate("employee", "user_id"))
    );
    assert_eq!(store.employee(e2.id).await.unwrap(), None);
    assert_eq!(
        store.employee_by_user(u.id).await.unwrap(),
        Some(e1.clone())
    );

    // Moving another employee onto that user is refused as well.
    let v = user_account("two");
    let e3 = employee_of(v.id, AgentRef::Organization(org), vec![]);
    store.insert_employee(&e3).await.unwrap();
    let mut moved = e3.clone();
    moved.user_id = u.id;
    assert_eq!(
        store.insert_employee(&moved).await,
        Err(duplicate("employee", "user_id"))
    );
    assert_eq!(store.employee(e3.id).await.unwrap(), Some(e3.clone()));
    assert_eq!(store.employee_by_user(v.id).await.unwrap(), Some(e3));
}

async fn employee_by_user_finds_the_record(store: Dyn) {
    let org = OrganizationId::from_random_bytes(fresh_bytes());
    let users: Vec<UserAccount> = (0..3).map(|i| user_account(&format!("u{i}"))).collect();
    let mut employees = Vec::new();
    for u in &users {
        store.insert_user(u).await.unwrap();
        let e = employee_of(u.id, AgentRef::Organization(org), vec![]);
        store.insert_employee(&e).await.unwrap();
        employees.push(e);
    }
    for (u, e) in users.iter().zip(&employees) {
        assert_eq!(store.employee_by_user(u.id).await.unwrap(), Some(e.clone()));
    }
    let loner = user_account("loner");
    store.insert_user(&loner).await.unwrap();
    assert_eq!(store.employee_by_user(loner.id).await.unwrap(), None);

    // Replacing a record under a new user frees the old one.
    let mut moved = employees[0].clone();
    moved.user_id = loner.id;
    store.insert_employee(&moved).await.unwrap();
    assert_eq!(store.employee_by_user(users[0].id).await.unwrap(), None);
    assert_eq!(store.employee_by_user(loner.id).await.unwrap(), Some(moved));
}

async fn session_round_trip_duplicate_and_idempotent_delete(store: Dyn) {
    let u = user_account("sess");
    store.insert_user(&u).await.unwrap();
    let login = Session {
        token_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        user_id: u.id,
        kind: SessionKind::Session,
        name: None,
        created_at: t0(),
        // Sub-microsecond precision and a non-UTC offset survive the round trip.
        expires_at: Some((t0() + Duration::hours(12)).to_offset(offset!(+3))),
    };
    let token = Session {
        token_hash: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752".into(),
        user_id: u.id,
        kind: SessionKind::ApiToken,
        name: Some("1С интеграция".into()),
        created_at: t0() + Duration::nanoseconds(1),
        expires_at: None,
    };
    store.insert_session(&login).await.unwrap();
    store.insert_session(&token).await.unwrap();
    assert_eq!(
        store.session(&login.token_hash).await.unwrap(),
        Some(login.clone())
    );
    assert_eq!(
        store.session(&token.token_hash).await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(store.session("00").await.unwrap(), None);

    let mut again = token.clone();
    again.kind = SessionKind::Session;
    again.name = None;
    again.expires_at = Some(t0());
    assert_eq!(
        store.insert_session(&again).await,
        Err(duplicate("session", "token_hash"))
    );
    assert_eq!(
        store.session(&token.token_hash).await.unwrap(),
        Some(token.clone())
    );

    store.delete_session(&login.token_hash).await.unwrap();
    assert_eq!(store.session(&login.token_hash).await.unwrap(), None);
    store.delete_session(&login.token_hash).await.unwrap();
    store.delete_session("never-stored").await.unwrap();
    assert_eq!(
        store.session(&token.token_hash).await.unwrap(),
        Some(token.clone())
    );
    // A deleted hash may be stored again.
    store.insert_session(&login).await.unwrap();
    assert_eq!(store.session(&login.token_hash).await.unwrap(), Some(login));
}

/// Every page of `$store.$method` with page size `$size`, following the cursor
/// (the last id of each page); checks each page's size.
macro_rules! pages_of {
    ($store:expr, $method:ident, $size:expr) => {{
        let size: u32 = $size;
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let page = $store.$method(after, size).await.unwrap();
            assert!(page.len() <= size as usize);
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let full = page.len() == size as usize;
            pages.push(page);
            if !full {
                break;
            }
        }
        pages
    }};
}

/// Checks a listing against the stored items `want` (any order): pages of 2 in id
/// order covering every item exactly once, an exclusive cursor, limit 0 empty, a
/// cursor past the end empty, one page holding everything.
macro_rules! check_listing {
    ($store:expr, $method:ident, $want:expr) => {{
        let mut want = $want;
        want.sort_by_key(|x| x.id);
        let n = want.len();
        let pages = pages_of!($store, $method, 2);
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        let mut expected_sizes = vec![2; n / 2];
        if n % 2 == 1 {
            expected_sizes.push(1);
        }
        assert_eq!(sizes, expected_sizes, "{}", stringify!($method));
        let flat: Vec<_> = pages.into_iter().flatten().collect();
        assert_eq!(flat, want, "{}", stringify!($method));
        assert_eq!($store.$method(None, n as u32 + 5).await.unwrap(), want);
        assert_eq!($store.$method(None, 0).await.unwrap(), vec![]);
        assert_eq!(
            $store.$method(Some(want[n - 1].id), 10).await.unwrap(),
            vec![]
        );
        // The cursor is exclusive: the page after item 1 starts at item 2.
        assert_eq!(
            $store.$method(Some(want[1].id), 2).await.unwrap(),
            want[2..4].to_vec()
        );
        assert_eq!(
            $store.$method(Some(want[0].id), 1).await.unwrap(),
            want[1..2].to_vec()
        );
    }};
}

async fn users_and_employees_page_by_id(store: Dyn) {
    assert_eq!(store.list_users(None, 10).await.unwrap(), vec![]);
    assert_eq!(store.list_employees(None, 10).await.unwrap(), vec![]);
    let org = OrganizationId::from_random_bytes(fresh_bytes());
    let mut users = Vec::new();
    let mut employees = Vec::new();
    for i in 0..5 {
        let mut u = user_account(&format!("user{i}"));
        u.id = UserId::from_random_bytes(scrambled_bytes(i));
        store.insert_user(&u).await.unwrap();
        let mut e = employee_of(u.id, AgentRef::Organization(org), vec![]);
        e.id = EmployeeId::from_random_bytes(scrambled_bytes(i + 2));
        store.insert_employee(&e).await.unwrap();
        users.push(u);
        employees.push(e);
    }
    check_listing!(store, list_users, users);
    check_listing!(store, list_employees, employees);
}

async fn products_and_services_page_by_id(store: Dyn) {
    assert_eq!(store.list_products(None, 10).await.unwrap(), vec![]);
    assert_eq!(store.list_services(None, 10).await.unwrap(), vec![]);
    let mut products = Vec::new();
    let mut services = Vec::new();
    for i in 0..5 {
        let mut p = product(&format!("P-{i}"), i % 2 == 0);
        p.id = ProductId::from_random_bytes(scrambled_bytes(i));
        store.insert_product(&p).await.unwrap();
        let mut s = service(&[p.id], &[]);
        s.id = ServiceId::from_random_bytes(scrambled_bytes(i + 3));
        store.insert_service(&s).await.unwrap();
        products.push(p);
        services.push(s);
    }
    check_listing!(store, list_products, products);
    check_listing!(store, list_services, services);
}

async fn organizations_branches_and_points_page_by_id(store: Dyn) {
    assert_eq!(store.list_organizations(None, 10).await.unwrap(), vec![]);
    assert_eq!(store.list_branches(None, 10).await.unwrap(), vec![]);
    assert_eq!(store.list_points(None, 10).await.unwrap(), vec![]);
    // A point with counters in use: one certificate issued, one reserved.
    let sc = scene(&store, Allotment::Finite(10), Allotment::Finite(5)).await;
    issue_one(&store, &sc, &[sc.p_qty]).await.unwrap();
    let mut app = ready(&store, &sc).await;
    let e = step(&mut app, S::Issuing, E::StartIssuing);
    store
        .begin_issuance(&app, &e, &reservation(&app, &[sc.p_qty]))
        .await
        .unwrap();
    store
        .set_point_quantity(sc.point, sc.p_free, Allotment::Unlimited)
        .await
        .unwrap();
    assert_eq!(counters(&store, &sc).await, ((1, 1), (1, 1)));

    let mut orgs = store.list_organizations(None, 10).await.unwrap();
    let mut branches = Vec::new();
    let mut point_ids = vec![sc.point];
    for i in 0..4 {
        let mut o = organization();
        o.id = OrganizationId::from_random_bytes(scrambled_bytes(i));
        o.name = format!("Организация {i}");
        store.insert_organization(&o).await.unwrap();
        let mut b = branch(o.id);
        b.id = BranchId::from_random_bytes(scrambled_bytes(i + 1));
        store.insert_branch(&b).await.unwrap();
        let mut p = point(o.id, Allotment::Finite(i as u32), &[]);
        if i % 2 == 0 {
            p = point(
                o.id,
                Allotment::Unlimited,
                &[
                    (sc.p_qty, Allotment::Finite(3)),
                    (sc.p_free, Allotment::Unlimited),
                ],
            );
        }
        p.id = PointId::from_random_bytes(scrambled_bytes(i + 2));
        store.insert_point(&p).await.unwrap();
        orgs.push(o);
        branches.push(b);
        point_ids.push(p.id);
    }
    let mut b = branch(orgs[0].id);
    b.id = BranchId::from_random_bytes(scrambled_bytes(4));
    store.insert_branch(&b).await.unwrap();
    branches.push(b);

    assert_eq!(orgs.len(), 5);
    check_listing!(store, list_organizations, orgs);
    check_listing!(store, list_branches, branches);
    // Points as `point()` returns them, counters included.
    let mut points = Vec::new();
    for id in point_ids {
        points.push(store.point(id).await.unwrap().unwrap());
    }
    let listed = store.list_points(None, 10).await.unwrap();
    let in_use = listed.iter().find(|p| p.id == sc.point).unwrap();
    assert_eq!((in_use.limit.issued, in_use.limit.reserved), (1, 1));
    let q = in_use.quantities[&sc.p_qty];
    assert_eq!((q.issued, q.reserved), (1, 1));
    assert_eq!(in_use.quantities.len(), 2);
    check_listing!(store, list_points, points);
}
