//! The engine on both stores, with honest test doubles: a request inspector for a
//! tiny test request format (defined here, with a checksum standing in for the
//! signature) and a CA that returns a test blob with a random serial, and can be
//! told to fail.

use std::sync::{Arc, Mutex};

use utrust_core::domain::agents::{IssuingPoint, PointParent};
use utrust_core::domain::application::{Account, Actor, Address, Application};
use utrust_core::domain::catalog::{KeyAlgorithm, Product, Service};
use utrust_core::domain::certificate::{IssuedCertificate, SerialNumber};
use utrust_core::domain::ids::ApplicationId;
use utrust_core::domain::lifecycle::{ApplicationEvent as E, ApplicationStatus as S, transition};
use utrust_core::domain::quota::{Allotment, Quota, QuotaError, QuotaScope};
use utrust_core::ports::{
    CaError, CertificateAuthority, IssueRequest, Random, SeededRandom, Store,
};
use utrust_core::{Engine, Error, NewApplication};

use crate::doubles::{TestInspector, test_csr};
use crate::support::{self, Fixture, email, owner};

// ---------------------------------------------------------------------------
// Test doubles.

/// Issues a test blob with a random serial, or fails as told.
struct TestCa {
    random: SeededRandom,
    fail_next: Mutex<Vec<CaError>>,
}

impl TestCa {
    fn new() -> Self {
        Self {
            random: SeededRandom::new(0xca),
            fail_next: Mutex::new(Vec::new()),
        }
    }
    fn fail_next(&self, e: CaError) {
        self.fail_next.lock().unwrap().push(e);
    }
}

#[async_trait::async_trait]
impl CertificateAuthority for TestCa {
    async fn issue(&self, request: IssueRequest) -> Result<IssuedCertificate, CaError> {
        tokio::task::yield_now().await;
        if let Some(e) = self.fail_next.lock().unwrap().pop() {
            return Err(e);
        }
        let mut serial = [0u8; 16];
        self.random.fill(&mut serial);
        serial[0] = (serial[0] & 0x7f) | 0x01;
        let mut der = b"TESTCERT".to_vec();
        der.extend_from_slice(&serial);
        der.extend_from_slice(&request.csr_der);
        Ok(IssuedCertificate {
            serial: SerialNumber::from_bytes(&serial).unwrap(),
            der,
            not_before: request.not_before,
            not_after: request.not_after,
        })
    }

    fn ca_certificate_der(&self) -> Vec<u8> {
        b"TESTCA".to_vec()
    }
}

// ---------------------------------------------------------------------------
// A world: engine, catalog, point.

struct World {
    _fixture: Fixture,
    engine: Engine,
    ca: Arc<TestCa>,
    service: Service,
    point: IssuingPoint,
    product: Product,
}

/// One product (under quantity accounting if `quantity` is given), a point with
/// `limit`, a service with `approval` on or off.
async fn world(
    fixture: Fixture,
    limit: Allotment,
    quantity: Option<Allotment>,
    approval: bool,
) -> World {
    let ca = Arc::new(TestCa::new());
    let engine = Engine::new(
        fixture.store.clone(),
        ca.clone(),
        Arc::new(TestInspector),
        Arc::new(SeededRandom::new(7)),
    );
    let mut product = Product::new("KEP", "Квалифицированный сертификат");
    product.quantity_accounting = quantity.is_some();
    let product = engine.create_product(product).await.unwrap();
    let org = engine
        .create_organization(support::organization())
        .await
        .unwrap();
    let mut point = IssuingPoint::new(PointParent::Organization(org.id), "Точка", email(), limit);
    if let Some(q) = quantity {
        point.quantities.insert(product.id, Quota::new(q));
    }
    let point = engine.create_point(point).await.unwrap();
    let mut service = Service::new("Выпуск");
    service.products = vec![product.id];
    service.points = vec![point.id];
    service.approval_required = approval;
    let service = engine.create_service(service).await.unwrap();
    World {
        _fixture: fixture,
        engine,
        ca,
        service,
        point,
        product,
    }
}

impl World {
    fn store(&self) -> &Arc<dyn Store> {
        self.engine.store()
    }

    async fn submit(&self) -> Application {
        self.engine
            .submit(
                NewApplication {
                    service_id: self.service.id,
                    point_id: self.point.id,
                    products: vec![self.product.id],
                    account: Account::Individual,
                    owner: owner(),
                    address: Address::default(),
                    renewal_notice: false,
                },
                Actor::Admin("agent".into()),
            )
            .await
            .unwrap()
    }

    /// Submitted with a fitting request attached (ReadyToIssue, or
    /// AwaitingApproval with approval on).
    async fn with_csr(&self) -> Application {
        let app = self.submit().await;
        let template = self.engine.request_template(app.id).await.unwrap();
        self.engine
            .attach_csr(app.id, &test_csr(&template), Actor::Admin("agent".into()))
            .await
            .unwrap()
    }

    async fn ready(&self) -> Application {
        let app = self.with_csr().await;
        if app.status == S::AwaitingApproval {
            return self
                .engine
                .approve(app.id, Actor::Admin("operator".into()))
                .await
                .unwrap();
        }
        app
    }

    async fn counters(&self) -> ((u32, u32), Option<(u32, u32)>) {
        let p = self.engine.point(self.point.id).await.unwrap();
        (
            (p.limit.issued, p.limit.reserved),
            p.quantities
                .get(&self.product.id)
                .map(|q| (q.issued, q.reserved)),
        )
    }
}

/// Every store, fresh.
async fn fixtures() -> Vec<(&'static str, Fixture)> {
    #[allow(unused_mut)]
    let mut v = vec![("memory", support::memory())];
    #[cfg(feature = "sqlite")]
    v.push(("sqlite", support::sqlite_memory().await));
    #[cfg(feature = "postgres")]
    v.extend(support::postgres().await.map(|f| ("postgres", f)));
    v
}

/// The fixture for the races: file-backed SQLite so pool connections really race.
async fn race_fixtures() -> Vec<(&'static str, Fixture)> {
    #[allow(unused_mut)]
    let mut v = vec![("memory", support::memory())];
    #[cfg(feature = "sqlite")]
    v.push(("sqlite-file", support::sqlite_file().await));
    #[cfg(feature = "postgres")]
    v.extend(support::postgres().await.map(|f| ("postgres", f)));
    v
}

// ---------------------------------------------------------------------------
// Tests.

#[derive(Debug, Clone, Copy)]
enum Op {
    AttachCsr,
    Approve,
    Reject,
    Cancel,
    Issue,
}

impl Op {
    const ALL: [Op; 5] = [
        Op::AttachCsr,
        Op::Approve,
        Op::Reject,
        Op::Cancel,
        Op::Issue,
    ];

    fn event(self) -> E {
        match self {
            Op::AttachCsr => E::CsrAccepted,
            Op::Approve => E::Approve,
            Op::Reject => E::Reject,
            Op::Cancel => E::Cancel,
            Op::Issue => E::StartIssuing,
        }
    }

    async fn run(self, w: &World, id: ApplicationId) -> Result<(), Error> {
        let actor = Actor::Admin("op".into());
        match self {
            Op::AttachCsr => {
                let template = w.engine.request_template(id).await?;
                w.engine
                    .attach_csr(id, &test_csr(&template), actor)
                    .await
                    .map(drop)
            }
            Op::Approve => w.engine.approve(id, actor).await.map(drop),
            Op::Reject => w
                .engine
                .reject(id, actor, "не подходит".into())
                .await
                .map(drop),
            Op::Cancel => w
                .engine
                .cancel(id, actor, "передумал".into())
                .await
                .map(drop),
            Op::Issue => w.engine.issue(id, actor).await.map(drop),
        }
    }
}

/// For every status × engine operation × plan: what the table refuses is refused
/// with a `Transition` error naming status and event and changes nothing; what it
/// allows writes exactly one history entry per transition, and the status is the
/// last entry's `to`.
#[tokio::test]
async fn transitions_follow_the_table_on_every_store() {
    for approval in [false, true] {
        for (name, fixture) in fixtures().await {
            let w = world(fixture, Allotment::Unlimited, None, approval).await;
            for status in S::ALL {
                for op in Op::ALL {
                    // A fresh application with a request attached, forced into `status`.
                    let mut app = w.with_csr().await;
                    app.version += 1;
                    app.status = status;
                    w.store().update_application(&app, None).await.unwrap();
                    let before = w.store().application(app.id).await.unwrap().unwrap();
                    let history_before = w.store().history(app.id).await.unwrap();
                    let counters_before = w.counters().await;

                    let expected = transition(status, op.event(), &app.plan);
                    let result = op.run(&w, app.id).await;
                    let ctx = format!("{name}, approval {approval}, {status} + {op:?}");
                    match expected {
                        Err(refusal) => {
                            assert_eq!(result, Err(Error::Transition(refusal)), "{ctx}");
                            assert_eq!(result.unwrap_err().code(), "invalid_transition");
                            assert_eq!(
                                w.store().application(app.id).await.unwrap().unwrap(),
                                before,
                                "{ctx}"
                            );
                            assert_eq!(
                                w.store().history(app.id).await.unwrap(),
                                history_before,
                                "{ctx}"
                            );
                            assert_eq!(w.counters().await, counters_before, "{ctx}");
                        }
                        Ok(to) => {
                            result.unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
                            let after = w.store().application(app.id).await.unwrap().unwrap();
                            let history = w.store().history(app.id).await.unwrap();
                            // Issuing is two transitions (StartIssuing, CaIssued).
                            let steps = if matches!(op, Op::Issue) { 2 } else { 1 };
                            assert_eq!(history.len(), history_before.len() + steps, "{ctx}");
                            assert_eq!(
                                history[..history_before.len()],
                                history_before[..],
                                "{ctx}"
                            );
                            let first_new = &history[history_before.len()];
                            assert_eq!(
                                (first_new.from, first_new.to, first_new.event),
                                (status, to, op.event()),
                                "{ctx}"
                            );
                            assert_eq!(after.status, history.last().unwrap().to, "{ctx}");
                            assert_eq!(after.version, before.version + steps as u64, "{ctx}");
                        }
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn history_of_the_happy_path() {
    for (name, fixture) in fixtures().await {
        let w = world(
            fixture,
            Allotment::Finite(3),
            Some(Allotment::Finite(2)),
            true,
        )
        .await;
        let app = w.submit().await;
        assert_eq!(app.status, S::AwaitingCsr, "{name}");
        let app = w.with_csr().await;
        assert_eq!(app.status, S::AwaitingApproval);
        let app = w
            .engine
            .approve(app.id, Actor::Admin("op".into()))
            .await
            .unwrap();
        assert_eq!(app.status, S::ReadyToIssue);
        let cert = w
            .engine
            .issue(app.id, Actor::Admin("op".into()))
            .await
            .unwrap();
        let app = w.engine.application(app.id).await.unwrap();
        assert_eq!(app.status, S::Issued);
        assert_eq!(app.certificate_serial.as_ref(), Some(&cert.serial));
        assert_eq!(w.engine.certificate_of(app.id).await.unwrap(), cert);
        let events: Vec<E> = w
            .engine
            .history(app.id)
            .await
            .unwrap()
            .iter()
            .map(|h| h.event)
            .collect();
        assert_eq!(
            events,
            [
                E::Submit,
                E::CsrAccepted,
                E::Approve,
                E::StartIssuing,
                E::CaIssued
            ],
            "{name}"
        );
        assert_eq!(w.counters().await, ((1, 0), Some((1, 0))));
        assert_eq!(
            w.store().count_certificates(w.point.id).await.unwrap(),
            (1, vec![(w.product.id, 1)])
        );
    }
}

#[tokio::test]
async fn a_bad_request_changes_nothing() {
    for (name, fixture) in fixtures().await {
        let w = world(fixture, Allotment::Unlimited, None, false).await;
        let app = w.submit().await;
        let template = w.engine.request_template(app.id).await.unwrap();
        let mut csr = test_csr(&template);
        let last = csr.len() - 2;
        csr[last] ^= 1; // breaks the checksum
        let e = w
            .engine
            .attach_csr(app.id, &csr, Actor::System)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "csr_bad_signature", "{name}");
        let e = w
            .engine
            .attach_csr(app.id, b"garbage", Actor::System)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "csr_malformed");
        let mut other = template.clone();
        other.key_algorithm = KeyAlgorithm::Ed25519;
        let e = w
            .engine
            .attach_csr(app.id, &test_csr(&other), Actor::System)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "csr_key_algorithm_mismatch");
        assert_eq!(w.engine.application(app.id).await.unwrap(), app);
        assert_eq!(w.engine.history(app.id).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn ca_unavailable_releases_the_quota_and_can_be_retried() {
    for (name, fixture) in fixtures().await {
        let w = world(
            fixture,
            Allotment::Finite(1),
            Some(Allotment::Finite(1)),
            false,
        )
        .await;
        let app = w.ready().await;
        w.ca.fail_next(CaError::Unavailable("connection refused".into()));
        let e = w.engine.issue(app.id, Actor::System).await.unwrap_err();
        assert_eq!(
            e,
            Error::Ca(CaError::Unavailable("connection refused".into())),
            "{name}"
        );
        assert_eq!(e.code(), "ca_unavailable");
        assert_eq!(w.counters().await, ((0, 0), Some((0, 0))), "{name}");
        let after = w.engine.application(app.id).await.unwrap();
        assert_eq!(after.status, S::ReadyToIssue);
        assert_eq!(after.version, app.version + 2);
        let h = w.engine.history(app.id).await.unwrap();
        let last = h.last().unwrap();
        assert_eq!(
            (last.from, last.to, last.event),
            (S::Issuing, S::ReadyToIssue, E::CaFailed)
        );
        assert!(
            last.reason
                .as_deref()
                .unwrap()
                .contains("connection refused"),
            "{name}"
        );
        assert_eq!(w.store().count_certificates(w.point.id).await.unwrap().0, 0);

        // The released unit is available again: the retry succeeds with limit 1.
        w.engine.issue(app.id, Actor::System).await.unwrap();
        assert_eq!(w.counters().await, ((1, 0), Some((1, 0))), "{name}");
    }
}

#[tokio::test]
async fn ca_refusal_rejects_and_releases() {
    for (name, fixture) in fixtures().await {
        let w = world(fixture, Allotment::Finite(1), None, false).await;
        let app = w.ready().await;
        w.ca.fail_next(CaError::Refused("policy".into()));
        let e = w.engine.issue(app.id, Actor::System).await.unwrap_err();
        assert_eq!(e.code(), "ca_refused", "{name}");
        let after = w.engine.application(app.id).await.unwrap();
        assert_eq!(after.status, S::Rejected);
        assert!(after.reason.as_deref().unwrap().contains("policy"));
        assert_eq!(w.counters().await, ((0, 0), None), "{name}");
        // Another application can take the unit.
        let other = w.ready().await;
        w.engine.issue(other.id, Actor::System).await.unwrap();
        assert_eq!(w.counters().await, ((1, 0), None));
    }
}

#[tokio::test]
async fn exhausted_quota_is_a_typed_error_and_changes_nothing() {
    for (name, fixture) in fixtures().await {
        let w = world(
            fixture,
            Allotment::Finite(1),
            Some(Allotment::Unlimited),
            false,
        )
        .await;
        let first = w.ready().await;
        w.engine.issue(first.id, Actor::System).await.unwrap();
        let app = w.ready().await;
        let e = w.engine.issue(app.id, Actor::System).await.unwrap_err();
        assert_eq!(
            e,
            Error::Quota(QuotaError::Exhausted {
                scope: QuotaScope::PointLimit(w.point.id)
            }),
            "{name}"
        );
        assert_eq!(e.code(), "quota_exhausted");
        assert_eq!(w.engine.application(app.id).await.unwrap(), app);
        assert_eq!(w.engine.history(app.id).await.unwrap().len(), 2);
        assert_eq!(w.counters().await, ((1, 0), Some((1, 0))));
        // Raising the limit lets it through; lowering below usage is refused.
        let e = w
            .engine
            .set_point_limit(w.point.id, Allotment::Finite(0))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "quota_below_usage");
        w.engine
            .set_point_limit(w.point.id, Allotment::Finite(2))
            .await
            .unwrap();
        w.engine.issue(app.id, Actor::System).await.unwrap();
        assert_eq!(w.counters().await, ((2, 0), Some((2, 0))), "{name}");
    }
}

/// 200 concurrent `issue` calls, each for its own application, at a point where
/// only 25 units remain: exactly 25 succeed, 175 are `quota_exhausted`.
async fn race(w: &World, scope: QuotaScope) {
    let mut apps = Vec::new();
    for _ in 0..200 {
        apps.push(w.ready().await);
    }
    let mut tasks = Vec::new();
    for app in &apps {
        let engine = w.engine.clone();
        let id = app.id;
        tasks.push(tokio::spawn(async move {
            (id, engine.issue(id, Actor::System).await)
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        let (id, result) = t.await.unwrap();
        match result {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e, Error::Quota(QuotaError::Exhausted { scope }));
                assert_eq!(e.code(), "quota_exhausted");
                let app = w.engine.application(id).await.unwrap();
                assert_eq!(app.status, S::ReadyToIssue);
                refused += 1;
            }
        }
    }
    assert_eq!((ok, refused), (25, 175));
    let (total, per) = w.store().count_certificates(w.point.id).await.unwrap();
    assert_eq!(total, 25);
    assert_eq!(per, vec![(w.product.id, 25)]);
    let issued = {
        let mut n = 0;
        for app in &apps {
            if w.engine.application(app.id).await.unwrap().status == S::Issued {
                n += 1;
            }
        }
        n
    };
    assert_eq!(issued, 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_issue_respects_the_point_limit() {
    for (name, fixture) in race_fixtures().await {
        let w = world(fixture, Allotment::Finite(25), None, false).await;
        race(&w, QuotaScope::PointLimit(w.point.id)).await;
        assert_eq!(w.counters().await, ((25, 0), None), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_issue_respects_a_product_quantity() {
    for (name, fixture) in race_fixtures().await {
        let w = world(
            fixture,
            Allotment::Unlimited,
            Some(Allotment::Finite(25)),
            false,
        )
        .await;
        race(&w, QuotaScope::ProductQuantity(w.point.id, w.product.id)).await;
        assert_eq!(w.counters().await, ((25, 0), Some((25, 0))), "{name}");
    }
}
