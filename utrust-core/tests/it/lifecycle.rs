//! The certificate lifecycle after issuance on every store: the transition table
//! as the engine applies it (refusals change nothing, allowed events append one
//! history entry and publish a CRL), renewal and supersession, expiry reminders
//! with a moved clock, expiry, and the recovery of lapsed reservations.
//!
//! The doubles are honest: a request inspector for a tiny test request format, a
//! CA that issues test blobs and records the CRLs it is asked to sign, and a
//! notifier that records messages and can be told to fail.

use std::sync::{Arc, Mutex};

use time::Duration;
use utrust_core::domain::agents::{IssuingPoint, PointParent};
use utrust_core::domain::application::{Account, Actor, Address, Application};
use utrust_core::domain::catalog::{Product, Service};
use utrust_core::domain::certificate::{CertificateRecord, IssuedCertificate, SerialNumber};
use utrust_core::domain::identifiers::Email;
use utrust_core::domain::ids::ReservationId;
use utrust_core::domain::lifecycle::{ApplicationEvent, ApplicationStatus};
use utrust_core::domain::quota::{Allotment, Quota, QuotaError, QuotaScope, Reservation};
use utrust_core::domain::revocation::{
    CertificateEvent, CertificateHistoryEntry, CertificateStatus, RevocationReason,
    certificate_transition,
};
use utrust_core::ports::{
    CaError, CertificateAuthority, Clock, CrlRequest, IssueRequest, ManualClock, Notification,
    Notifier, NotifyError, Random, SeededRandom, Store,
};
use utrust_core::{Engine, Error, NewApplication};

use crate::doubles::{TestInspector, test_csr};
use crate::support::{self, Fixture, email, owner};

// ---------------------------------------------------------------------------
// Test doubles.

/// Issues test blobs with random serials; signs "CRLs" (a blob naming the
/// number) and records every CRL request.
struct TestCa {
    random: SeededRandom,
    crls: Mutex<Vec<CrlRequest>>,
}

impl TestCa {
    fn new() -> Self {
        Self {
            random: SeededRandom::new(0xca),
            crls: Mutex::new(Vec::new()),
        }
    }

    fn crl_count(&self) -> usize {
        self.crls.lock().unwrap().len()
    }

    fn last_crl(&self) -> Option<CrlRequest> {
        self.crls.lock().unwrap().last().cloned()
    }
}

#[async_trait::async_trait]
impl CertificateAuthority for TestCa {
    async fn issue(&self, request: IssueRequest) -> Result<IssuedCertificate, CaError> {
        let mut serial = [0u8; 16];
        self.random.fill(&mut serial);
        serial[0] = (serial[0] & 0x7f) | 0x01;
        let mut der = b"TESTCERT".to_vec();
        der.extend_from_slice(&serial);
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

    async fn sign_crl(&self, request: CrlRequest) -> Result<Vec<u8>, CaError> {
        let der = format!("TESTCRL#{}", request.number).into_bytes();
        self.crls.lock().unwrap().push(request);
        Ok(der)
    }
}

/// Records messages; fails the next `fail` sends.
#[derive(Default)]
struct RecordingNotifier {
    sent: Mutex<Vec<Notification>>,
    fail: Mutex<usize>,
}

impl RecordingNotifier {
    fn fail_next(&self, n: usize) {
        *self.fail.lock().unwrap() = n;
    }

    fn take(&self) -> Vec<Notification> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

#[async_trait::async_trait]
impl Notifier for RecordingNotifier {
    async fn send(&self, message: &Notification) -> Result<(), NotifyError> {
        {
            let mut fail = self.fail.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(NotifyError("mail relay down".into()));
            }
        }
        self.sent.lock().unwrap().push(message.clone());
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// A world: engine on a manual clock, catalog, point, two services.

struct World {
    _fixture: Fixture,
    engine: Engine,
    clock: Arc<ManualClock>,
    ca: Arc<TestCa>,
    notifier: Arc<RecordingNotifier>,
    /// Renewal reminders on; revokes superseded certificates if asked.
    service: Service,
    /// Renewal reminders off.
    quiet: Service,
    point: IssuingPoint,
    product: Product,
}

#[derive(Clone, Copy)]
struct Setup {
    limit: Allotment,
    quantity: Option<Allotment>,
    validity_days: u32,
    supersede: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            limit: Allotment::Unlimited,
            quantity: None,
            validity_days: 365,
            supersede: false,
        }
    }
}

async fn world(fixture: Fixture, setup: Setup) -> World {
    let ca = Arc::new(TestCa::new());
    let clock = Arc::new(ManualClock::new(support::t0()));
    let notifier = Arc::new(RecordingNotifier::default());
    let engine = Engine::new(
        fixture.store.clone(),
        ca.clone(),
        Arc::new(TestInspector),
        Arc::new(SeededRandom::new(11)),
    )
    .with_clock(clock.clone())
    .with_notifier(notifier.clone());
    let mut product = Product::new("KEP", "Квалифицированный сертификат");
    product.quantity_accounting = setup.quantity.is_some();
    let product = engine.create_product(product).await.unwrap();
    let org = engine
        .create_organization(support::organization())
        .await
        .unwrap();
    let mut point = IssuingPoint::new(
        PointParent::Organization(org.id),
        "Точка",
        email(),
        setup.limit,
    );
    if let Some(q) = setup.quantity {
        point.quantities.insert(product.id, Quota::new(q));
    }
    let point = engine.create_point(point).await.unwrap();
    let mut service = Service::new("Выпуск");
    service.products = vec![product.id];
    service.points = vec![point.id];
    service.validity_days = setup.validity_days;
    service.renewal_reminders = true;
    service.revoke_superseded_on_renewal = setup.supersede;
    let service = engine.create_service(service).await.unwrap();
    let mut quiet = Service::new("Выпуск без напоминаний");
    quiet.products = vec![product.id];
    quiet.points = vec![point.id];
    quiet.validity_days = setup.validity_days;
    quiet.renewal_reminders = false;
    let quiet = engine.create_service(quiet).await.unwrap();
    World {
        _fixture: fixture,
        engine,
        clock,
        ca,
        notifier,
        service,
        quiet,
        point,
        product,
    }
}

fn admin() -> Actor {
    Actor::Admin("operator".into())
}

impl World {
    fn store(&self) -> &Arc<dyn Store> {
        self.engine.store()
    }

    /// Submits an application (owner e-mail `mail`) and attaches a fitting
    /// request: ReadyToIssue.
    async fn ready_for(&self, service: &Service, mail: &str, notice: bool) -> Application {
        let mut o = owner();
        o.email = Email::parse(mail).unwrap();
        let app = self
            .engine
            .submit(
                NewApplication {
                    service_id: service.id,
                    point_id: self.point.id,
                    products: vec![self.product.id],
                    account: Account::Individual,
                    owner: o,
                    address: Address::default(),
                    renewal_notice: notice,
                },
                admin(),
            )
            .await
            .unwrap();
        self.attach(&app).await
    }

    async fn attach(&self, app: &Application) -> Application {
        let template = self.engine.request_template(app.id).await.unwrap();
        let app = self
            .engine
            .attach_csr(app.id, &test_csr(&template), admin())
            .await
            .unwrap();
        assert_eq!(app.status, ApplicationStatus::ReadyToIssue);
        app
    }

    async fn issue_for(&self, service: &Service, mail: &str, notice: bool) -> CertificateRecord {
        let app = self.ready_for(service, mail, notice).await;
        self.engine.issue(app.id, admin()).await.unwrap()
    }

    async fn issue(&self) -> CertificateRecord {
        self.issue_for(&self.service, "owner@example.ru", true)
            .await
    }

    /// The stored certificate and its history.
    async fn snapshot(
        &self,
        serial: &SerialNumber,
    ) -> (CertificateRecord, Vec<CertificateHistoryEntry>) {
        (
            self.engine.certificate(serial).await.unwrap(),
            self.engine.certificate_history(serial).await.unwrap(),
        )
    }

    /// Forces a certificate into `status` (version + 1, with an entry), as if
    /// earlier events had put it there.
    async fn force(&self, cert: &CertificateRecord, status: CertificateStatus) {
        let mut c = self.engine.certificate(&cert.serial).await.unwrap();
        let entry = CertificateHistoryEntry {
            serial: c.serial.clone(),
            actor: Actor::System,
            at: self.clock.now(),
            from: c.status,
            to: status,
            event: CertificateEvent::Expire,
            comment: Some("forced by the test".into()),
        };
        c.status = status;
        c.version += 1;
        self.store().update_certificate(&c, &entry).await.unwrap();
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

// ---------------------------------------------------------------------------
// Transitions.

#[derive(Debug, Clone, Copy)]
enum Op {
    Suspend,
    Resume,
    Revoke(RevocationReason),
    Renew,
}

impl Op {
    fn all() -> Vec<Op> {
        let mut v = vec![Op::Suspend, Op::Resume, Op::Renew];
        v.extend(RevocationReason::ALL.map(Op::Revoke));
        v
    }
}

/// For every status × operation: what the table refuses is a typed error
/// (`invalid_transition`, or `invalid_field` on `reason` for a non-final reason)
/// and changes nothing — record, version, history, CRLs; what it allows appends
/// exactly one history entry and publishes a CRL carrying the change.
#[tokio::test]
async fn certificate_transitions_follow_the_table_on_every_store() {
    for (name, fixture) in fixtures().await {
        let w = world(fixture, Setup::default()).await;
        let at = w.clock.now();
        let statuses = [
            CertificateStatus::Valid,
            CertificateStatus::Suspended { since: at },
            CertificateStatus::Revoked {
                reason: RevocationReason::KeyCompromise,
                at,
            },
            CertificateStatus::Expired,
        ];
        for status in statuses {
            for op in Op::all() {
                let cert = w.issue().await;
                if status != CertificateStatus::Valid {
                    w.force(&cert, status).await;
                }
                let (before, history_before) = w.snapshot(&cert.serial).await;
                assert_eq!(before.status, status);
                let crls_before = w.ca.crl_count();
                let ctx = format!("{name}: {} + {op:?}", status.name());
                w.clock.advance(Duration::seconds(1));
                let now = w.clock.now();

                let result = match op {
                    Op::Suspend => w.engine.suspend(&cert.serial, admin()).await.map(Some),
                    Op::Resume => w.engine.resume(&cert.serial, admin()).await.map(Some),
                    Op::Revoke(r) => w.engine.revoke(&cert.serial, r, admin()).await.map(Some),
                    Op::Renew => w.engine.renew(&cert.serial, admin()).await.map(|app| {
                        // The renewal: same owner, products, point, service.
                        let old = before.application_id;
                        assert_eq!(app.renews.as_ref(), Some(&cert.serial), "{ctx}");
                        assert_eq!(app.status, ApplicationStatus::AwaitingCsr, "{ctx}");
                        assert_ne!(app.id, old, "{ctx}");
                        assert_eq!(app.products, before.products, "{ctx}");
                        assert_eq!(app.point_id, before.point_id, "{ctx}");
                        assert_eq!(app.service_id, w.service.id, "{ctx}");
                        assert_eq!(app.owner.email.as_str(), "owner@example.ru", "{ctx}");
                        None
                    }),
                };
                let expected: Result<Option<CertificateStatus>, Error> = match op {
                    Op::Revoke(r) if !r.is_final() => Err(Error::Invalid {
                        field: "reason".into(),
                        message: String::new(),
                    }),
                    // Renewal is in the table too, and leaves the certificate as it is.
                    Op::Renew => certificate_transition(status, CertificateEvent::Renew, now)
                        .map(|_| None)
                        .map_err(Error::CertificateTransition),
                    Op::Suspend | Op::Resume | Op::Revoke(_) => {
                        let event = match op {
                            Op::Suspend => CertificateEvent::Suspend,
                            Op::Resume => CertificateEvent::Resume,
                            Op::Revoke(reason) => CertificateEvent::Revoke { reason },
                            Op::Renew => CertificateEvent::Renew,
                        };
                        certificate_transition(status, event, now)
                            .map(Some)
                            .map_err(Error::CertificateTransition)
                    }
                };
                let (after, history) = w.snapshot(&cert.serial).await;
                match (expected, result) {
                    (Err(want), Err(got)) => {
                        match (&want, &got) {
                            (
                                Error::Invalid { field: f1, .. },
                                Error::Invalid { field: f2, .. },
                            ) => {
                                assert_eq!(f1, f2, "{ctx}");
                                assert_eq!(got.code(), "invalid_field", "{ctx}");
                                assert_eq!(got.field().as_deref(), Some("reason"), "{ctx}");
                            }
                            _ => {
                                assert_eq!(got, want, "{ctx}");
                                assert_eq!(got.code(), "invalid_transition", "{ctx}");
                            }
                        }
                        assert_eq!(after, before, "{ctx}: the record changed");
                        assert_eq!(history, history_before, "{ctx}: history changed");
                        assert_eq!(w.ca.crl_count(), crls_before, "{ctx}: a CRL was published");
                    }
                    (Ok(None), Ok(None)) => {
                        // A renewal does not touch the certificate.
                        assert_eq!(after, before, "{ctx}");
                        assert_eq!(history, history_before, "{ctx}");
                    }
                    (Ok(Some(to)), Ok(Some(returned))) => {
                        assert_eq!(returned, after, "{ctx}");
                        assert_eq!(after.status, to, "{ctx}");
                        assert_eq!(after.version, before.version + 1, "{ctx}");
                        assert_eq!(history.len(), history_before.len() + 1, "{ctx}");
                        assert_eq!(history[..history_before.len()], history_before[..]);
                        let e = history.last().unwrap();
                        assert_eq!((e.from, e.to, e.at), (status, to, now), "{ctx}");
                        assert_eq!(e.actor, admin(), "{ctx}");
                        // A CRL was published, with the certificate iff it is now
                        // revoked or on hold.
                        assert_eq!(w.ca.crl_count(), crls_before + 1, "{ctx}");
                        let crl = w.ca.last_crl().unwrap();
                        let entry = crl.entries.iter().find(|e| e.serial == cert.serial);
                        match to {
                            CertificateStatus::Revoked { reason, at } => {
                                let e = entry.unwrap_or_else(|| panic!("{ctx}: not on the CRL"));
                                assert_eq!((e.reason, e.revoked_at), (reason, at), "{ctx}");
                            }
                            CertificateStatus::Suspended { since } => {
                                let e = entry.unwrap_or_else(|| panic!("{ctx}: not on the CRL"));
                                assert_eq!(
                                    (e.reason, e.revoked_at),
                                    (RevocationReason::CertificateHold, since),
                                    "{ctx}"
                                );
                            }
                            _ => assert!(entry.is_none(), "{ctx}: still on the CRL"),
                        }
                        let latest = w.store().latest_crl().await.unwrap().unwrap();
                        assert_eq!(latest.number, crl.number, "{ctx}");
                    }
                    (want, got) => panic!("{ctx}: expected {want:?}, got {got:?}"),
                }
            }
        }
    }
}

/// The sequences the issue names, end to end: suspend → resume → revoke; then
/// resume, revoke again and renew are refused; the history tells the story.
#[tokio::test]
async fn suspend_resume_revoke_and_the_refusals_after() {
    for (name, fixture) in fixtures().await {
        let w = world(fixture, Setup::default()).await;
        let cert = w.issue().await;
        let s = &cert.serial;
        let held = w.engine.suspend(s, admin()).await.unwrap();
        assert!(matches!(held.status, CertificateStatus::Suspended { .. }));
        let e = w.engine.suspend(s, admin()).await.unwrap_err();
        assert_eq!(e.code(), "invalid_transition", "{name}");
        let e = w.engine.renew(s, admin()).await.unwrap_err();
        assert!(
            matches!(e, Error::CertificateTransition(_)),
            "{name}: {e:?}"
        );
        assert_eq!(
            w.engine.resume(s, admin()).await.unwrap().status,
            CertificateStatus::Valid
        );
        let e = w
            .engine
            .revoke(s, RevocationReason::CertificateHold, admin())
            .await
            .unwrap_err();
        assert_eq!(e.field().as_deref(), Some("reason"), "{name}");
        let e = w
            .engine
            .revoke(s, RevocationReason::RemoveFromCrl, admin())
            .await
            .unwrap_err();
        assert_eq!(e.field().as_deref(), Some("reason"), "{name}");
        w.clock.advance(Duration::minutes(5));
        let revoked = w
            .engine
            .revoke(s, RevocationReason::KeyCompromise, admin())
            .await
            .unwrap();
        assert_eq!(
            revoked.status,
            CertificateStatus::Revoked {
                reason: RevocationReason::KeyCompromise,
                at: w.clock.now()
            }
        );
        let (before, history_before) = w.snapshot(s).await;
        for e in [
            w.engine.resume(s, admin()).await.unwrap_err(),
            w.engine
                .revoke(s, RevocationReason::KeyCompromise, admin())
                .await
                .unwrap_err(),
            w.engine
                .revoke(s, RevocationReason::Superseded, admin())
                .await
                .unwrap_err(),
            w.engine.suspend(s, admin()).await.unwrap_err(),
            w.engine.renew(s, admin()).await.unwrap_err(),
        ] {
            assert!(
                matches!(e, Error::CertificateTransition(_)),
                "{name}: {e:?}"
            );
            assert_eq!(e.code(), "invalid_transition");
        }
        assert_eq!(w.snapshot(s).await, (before, history_before.clone()));
        let events: Vec<&str> = history_before.iter().map(|h| h.event.name()).collect();
        assert_eq!(events, ["suspend", "resume", "revoke"], "{name}");
        let e = w
            .engine
            .suspend(&support::fresh_serial(), admin())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "not_found", "{name}");
    }
}

// ---------------------------------------------------------------------------
// Renewal.

#[tokio::test]
async fn renewal_keeps_the_old_certificate_until_issued_then_follows_the_service() {
    for supersede in [false, true] {
        for (name, fixture) in fixtures().await {
            let ctx = format!("{name}, supersede {supersede}");
            let w = world(
                fixture,
                Setup {
                    supersede,
                    ..Setup::default()
                },
            )
            .await;
            let old = w.issue().await;
            let old_app = w.engine.application(old.application_id).await.unwrap();
            let renewal = w.engine.renew(&old.serial, admin()).await.unwrap();
            assert_eq!(renewal.owner, old_app.owner, "{ctx}");
            assert_eq!(renewal.account, old_app.account, "{ctx}");
            assert_eq!(renewal.products, old_app.products, "{ctx}");
            assert_eq!(renewal.point_id, old_app.point_id, "{ctx}");
            assert_eq!(renewal.service_id, old_app.service_id, "{ctx}");
            assert_eq!(renewal.renewal_notice, old_app.renewal_notice, "{ctx}");
            assert_eq!(renewal.renews.as_ref(), Some(&old.serial), "{ctx}");
            let h = w.engine.history(renewal.id).await.unwrap();
            assert_eq!(h.len(), 1, "{ctx}");
            assert_eq!(h[0].event, ApplicationEvent::Submit);

            // Until the new one is issued the old one stays valid.
            assert_eq!(w.engine.certificate(&old.serial).await.unwrap(), old);
            w.attach(&renewal).await;
            assert_eq!(w.engine.certificate(&old.serial).await.unwrap(), old);

            let new = w.engine.issue(renewal.id, admin()).await.unwrap();
            assert_eq!(new.status, CertificateStatus::Valid);
            assert_ne!(new.serial, old.serial);
            let (after, history) = w.snapshot(&old.serial).await;
            if supersede {
                assert!(
                    matches!(
                        after.status,
                        CertificateStatus::Revoked {
                            reason: RevocationReason::Superseded,
                            ..
                        }
                    ),
                    "{ctx}: {:?}",
                    after.status
                );
                assert_eq!(history.len(), 1, "{ctx}");
                assert_eq!(history[0].actor, Actor::System);
                assert_eq!(
                    history[0].comment.as_deref(),
                    Some(format!("superseded by {}", new.serial).as_str()),
                    "{ctx}"
                );
                let crl = w.ca.last_crl().expect("a CRL after supersession");
                assert!(
                    crl.entries.iter().any(|e| e.serial == old.serial
                        && e.reason == RevocationReason::Superseded),
                    "{ctx}: {crl:?}"
                );
            } else {
                assert_eq!(after, old, "{ctx}");
                assert!(history.is_empty(), "{ctx}");
            }
            // The new certificate belongs to the renewal application.
            assert_eq!(w.engine.certificate_of(renewal.id).await.unwrap(), new);
            assert_eq!(w.counters().await.0, (2, 0), "{ctx}");
        }
    }
}

#[tokio::test]
async fn renewal_is_subject_to_the_points_quota() {
    for (name, fixture) in fixtures().await {
        let w = world(
            fixture,
            Setup {
                limit: Allotment::Finite(1),
                quantity: Some(Allotment::Finite(1)),
                supersede: true,
                ..Setup::default()
            },
        )
        .await;
        let old = w.issue().await;
        let renewal = w.engine.renew(&old.serial, admin()).await.unwrap();
        let renewal = w.attach(&renewal).await;
        let e = w.engine.issue(renewal.id, admin()).await.unwrap_err();
        assert_eq!(
            e,
            Error::Quota(QuotaError::Exhausted {
                scope: QuotaScope::PointLimit(w.point.id)
            }),
            "{name}"
        );
        assert_eq!(e.code(), "quota_exhausted");
        assert_eq!(w.engine.application(renewal.id).await.unwrap(), renewal);
        assert_eq!(w.engine.certificate(&old.serial).await.unwrap(), old);
        assert_eq!(w.counters().await, ((1, 0), Some((1, 0))), "{name}");
        // More room: the renewal goes through and supersedes the old one.
        w.engine
            .set_point_limit(w.point.id, Allotment::Finite(2))
            .await
            .unwrap();
        let e = w.engine.issue(renewal.id, admin()).await.unwrap_err();
        assert_eq!(
            e,
            Error::Quota(QuotaError::Exhausted {
                scope: QuotaScope::ProductQuantity(w.point.id, w.product.id)
            }),
            "{name}"
        );
        assert_eq!(w.engine.certificate(&old.serial).await.unwrap(), old);
    }
}

// ---------------------------------------------------------------------------
// Reminders and expiry.

/// Certificates valid for 30 days; the clock moves to day 25. A 7-day window
/// sends one reminder per eligible certificate, once; a 30-day window its own;
/// nothing for the service with reminders off, an owner without renewal
/// notices, or revoked and suspended certificates.
#[tokio::test]
async fn one_reminder_per_certificate_per_window() {
    for (name, fixture) in fixtures().await {
        let w = world(
            fixture,
            Setup {
                validity_days: 30,
                ..Setup::default()
            },
        )
        .await;
        let a = w.issue_for(&w.service, "a@example.ru", true).await;
        let b = w.issue_for(&w.service, "b@example.ru", true).await;
        let _no_notice = w.issue_for(&w.service, "c@example.ru", false).await;
        let _quiet = w.issue_for(&w.quiet, "d@example.ru", true).await;
        let revoked = w.issue_for(&w.service, "e@example.ru", true).await;
        let suspended = w.issue_for(&w.service, "f@example.ru", true).await;
        w.engine
            .revoke(
                &revoked.serial,
                RevocationReason::AffiliationChanged,
                admin(),
            )
            .await
            .unwrap();
        w.engine.suspend(&suspended.serial, admin()).await.unwrap();

        // 30 days left: outside a 7-day window.
        assert_eq!(
            w.engine
                .send_expiry_reminders(Duration::days(7))
                .await
                .unwrap(),
            0
        );
        assert!(w.notifier.take().is_empty());

        w.clock.advance(Duration::days(25));
        assert_eq!(
            w.engine
                .send_expiry_reminders(Duration::days(7))
                .await
                .unwrap(),
            2,
            "{name}"
        );
        let check = |sent: Vec<Notification>| {
            let mut got: Vec<(String, String)> = sent
                .iter()
                .map(|m| {
                    let serial = [&a, &b]
                        .into_iter()
                        .find(|c| m.subject.contains(&c.serial.to_string()))
                        .unwrap_or_else(|| panic!("{name}: subject {:?}", m.subject));
                    assert!(m.body.contains(&serial.serial.to_string()));
                    (m.to.as_str().to_owned(), serial.serial.to_string())
                })
                .collect();
            got.sort();
            let mut want = vec![
                ("a@example.ru".to_owned(), a.serial.to_string()),
                ("b@example.ru".to_owned(), b.serial.to_string()),
            ];
            want.sort();
            assert_eq!(got, want, "{name}");
        };
        check(w.notifier.take());
        assert_eq!(
            w.engine
                .send_expiry_reminders(Duration::days(7))
                .await
                .unwrap(),
            0
        );
        assert!(w.notifier.take().is_empty(), "{name}: second run sent");
        // Another window is another reminder, once.
        assert_eq!(
            w.engine
                .send_expiry_reminders(Duration::days(30))
                .await
                .unwrap(),
            2
        );
        check(w.notifier.take());
        assert_eq!(
            w.engine
                .send_expiry_reminders(Duration::days(30))
                .await
                .unwrap(),
            0
        );
        w.clock.advance(Duration::days(2));
        assert_eq!(
            w.engine
                .send_expiry_reminders(Duration::days(7))
                .await
                .unwrap(),
            0
        );
        assert!(w.notifier.take().is_empty(), "{name}");
    }
}

#[tokio::test]
async fn a_failed_delivery_is_retried_on_the_next_run() {
    for (name, fixture) in fixtures().await {
        let w = world(
            fixture,
            Setup {
                validity_days: 30,
                ..Setup::default()
            },
        )
        .await;
        let a = w.issue_for(&w.service, "a@example.ru", true).await;
        let b = w.issue_for(&w.service, "b@example.ru", true).await;
        w.clock.advance(Duration::days(25));
        w.notifier.fail_next(1);
        assert_eq!(
            w.engine
                .send_expiry_reminders(Duration::days(7))
                .await
                .unwrap(),
            1
        );
        let first = w.notifier.take();
        assert_eq!(first.len(), 1, "{name}");
        assert_eq!(
            w.engine
                .send_expiry_reminders(Duration::days(7))
                .await
                .unwrap(),
            1
        );
        let second = w.notifier.take();
        assert_eq!(second.len(), 1, "{name}");
        assert_eq!(
            w.engine
                .send_expiry_reminders(Duration::days(7))
                .await
                .unwrap(),
            0
        );
        let mut to: Vec<&str> = first.iter().chain(&second).map(|m| m.to.as_str()).collect();
        to.sort_unstable();
        assert_eq!(to, ["a@example.ru", "b@example.ru"], "{name}");
        for m in first.iter().chain(&second) {
            let c = if m.to.as_str() == "a@example.ru" {
                &a
            } else {
                &b
            };
            assert!(m.subject.contains(&c.serial.to_string()), "{name}: {m:?}");
        }
    }
}

#[tokio::test]
async fn certificates_expire_after_not_after_and_stay_expired() {
    for (name, fixture) in fixtures().await {
        let w = world(
            fixture,
            Setup {
                validity_days: 30,
                ..Setup::default()
            },
        )
        .await;
        let valid = w.issue().await;
        let held = w.issue().await;
        let revoked = w.issue().await;
        w.engine.suspend(&held.serial, admin()).await.unwrap();
        w.engine
            .revoke(&revoked.serial, RevocationReason::Unspecified, admin())
            .await
            .unwrap();
        let revoked_before = w.snapshot(&revoked.serial).await;
        w.clock.advance(Duration::days(29));
        assert_eq!(w.engine.expire_certificates().await.unwrap(), 0, "{name}");
        w.clock.advance(Duration::days(2));
        assert_eq!(w.engine.expire_certificates().await.unwrap(), 2, "{name}");
        assert_eq!(w.engine.expire_certificates().await.unwrap(), 0, "{name}");
        for c in [&valid, &held] {
            let (after, history) = w.snapshot(&c.serial).await;
            assert_eq!(after.status, CertificateStatus::Expired, "{name}");
            let last = history.last().unwrap();
            assert_eq!(
                (last.event, last.to),
                (CertificateEvent::Expire, CertificateStatus::Expired)
            );
            assert_eq!(last.actor, Actor::System);
            let before = w.snapshot(&c.serial).await;
            let e = w
                .engine
                .revoke(&c.serial, RevocationReason::KeyCompromise, admin())
                .await
                .unwrap_err();
            assert_eq!(e.code(), "invalid_transition", "{name}");
            assert!(w.engine.resume(&c.serial, admin()).await.is_err());
            assert!(w.engine.renew(&c.serial, admin()).await.is_err());
            assert_eq!(w.snapshot(&c.serial).await, before, "{name}");
        }
        // A revoked certificate stays revoked.
        assert_eq!(w.snapshot(&revoked.serial).await, revoked_before, "{name}");
        // Expired certificates get no reminders and leave the CRL.
        assert_eq!(
            w.engine
                .send_expiry_reminders(Duration::days(30))
                .await
                .unwrap(),
            0
        );
        let crl = w.engine.publish_crl().await.unwrap();
        let req = w.ca.last_crl().unwrap();
        assert_eq!(req.number, crl.number);
        let serials: Vec<&SerialNumber> = req.entries.iter().map(|e| &e.serial).collect();
        assert_eq!(serials, [&revoked.serial], "{name}");
    }
}

#[tokio::test]
async fn crl_numbers_increase_and_current_crl_is_refreshed_at_half_life() {
    for (name, fixture) in fixtures().await {
        let w = world(fixture, Setup::default()).await;
        let first = w.engine.current_crl().await.unwrap();
        assert_eq!(w.engine.current_crl().await.unwrap(), first, "{name}");
        let cert = w.issue().await;
        w.engine.suspend(&cert.serial, admin()).await.unwrap();
        let second = w.store().latest_crl().await.unwrap().unwrap();
        assert!(second.number > first.number, "{name}");
        assert_eq!(second.next_update - second.this_update, Duration::days(1));
        // Past half of its validity, the current CRL is a fresh one.
        w.clock.advance(Duration::hours(13));
        let third = w.engine.current_crl().await.unwrap();
        assert!(third.number > second.number, "{name}");
        assert_eq!(third.this_update, w.clock.now());
        assert_eq!(
            w.ca.last_crl().unwrap().entries.len(),
            1,
            "{name}: the hold stays on the CRL"
        );
    }
}

// ---------------------------------------------------------------------------
// Recovery.

/// An application left in Issuing by a crash (the reservation taken, the CA
/// never answered): once the reservation lapses the sweep puts it back to
/// ReadyToIssue with the reason in history and releases the quotas.
#[tokio::test]
async fn lapsed_reservations_are_released() {
    for (name, fixture) in fixtures().await {
        let w = world(
            fixture,
            Setup {
                limit: Allotment::Finite(1),
                quantity: Some(Allotment::Finite(1)),
                ..Setup::default()
            },
        )
        .await;
        let mut app = w.ready_for(&w.service, "a@example.ru", true).await;
        let ready = app.clone();
        app.version += 1;
        let entry = app
            .apply(
                ApplicationEvent::StartIssuing,
                Actor::System,
                w.clock.now(),
                None,
            )
            .unwrap();
        let reservation = Reservation {
            id: ReservationId::from_random_bytes(support::fresh_bytes()),
            application_id: app.id,
            point_id: app.point_id,
            products: vec![w.product.id],
            expires_at: w.clock.now() + Duration::minutes(10),
        };
        w.store()
            .begin_issuance(&app, &entry, &reservation)
            .await
            .unwrap();
        assert_eq!(w.counters().await, ((0, 1), Some((0, 1))), "{name}");
        // Another application cannot take the reserved unit.
        let other = w.ready_for(&w.service, "b@example.ru", true).await;
        assert_eq!(
            w.engine.issue(other.id, admin()).await.unwrap_err().code(),
            "quota_exhausted"
        );

        // Not lapsed yet.
        w.clock.advance(Duration::minutes(9));
        assert_eq!(w.engine.release_expired_reservations(10).await.unwrap(), 0);
        assert_eq!(
            w.engine.application(app.id).await.unwrap().status,
            ApplicationStatus::Issuing
        );

        w.clock.advance(Duration::minutes(2));
        assert_eq!(
            w.engine.release_expired_reservations(10).await.unwrap(),
            1,
            "{name}"
        );
        assert_eq!(
            w.engine.release_expired_reservations(10).await.unwrap(),
            0,
            "{name}"
        );
        let after = w.engine.application(app.id).await.unwrap();
        assert_eq!(after.status, ApplicationStatus::ReadyToIssue, "{name}");
        assert_eq!(after.version, ready.version + 2);
        let h = w.engine.history(app.id).await.unwrap();
        let last = h.last().unwrap();
        assert_eq!(
            (last.from, last.to, last.event),
            (
                ApplicationStatus::Issuing,
                ApplicationStatus::ReadyToIssue,
                ApplicationEvent::CaFailed
            ),
            "{name}"
        );
        assert_eq!(last.actor, Actor::System);
        assert!(
            last.reason
                .as_deref()
                .is_some_and(|r| r.contains("reservation")),
            "{name}: {:?}",
            last.reason
        );
        assert_eq!(w.counters().await, ((0, 0), Some((0, 0))), "{name}");
        assert_eq!(w.store().count_certificates(w.point.id).await.unwrap().0, 0);

        // The released unit can be used: the application issues normally.
        w.engine.issue(app.id, admin()).await.unwrap();
        assert_eq!(w.counters().await, ((1, 0), Some((1, 0))), "{name}");
    }
}
