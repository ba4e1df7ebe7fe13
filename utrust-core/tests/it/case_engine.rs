//! The case file through the engine, on the memory and SQLite stores: for every
//! combination of the case-file flags, an application is driven to `Completed`
//! by satisfying, one at a time, the first requirement `complete` names. Every
//! requirement named belongs to a flag that is on, every flag that is on is
//! asked for, and nothing else changes the path (with all flags off the
//! application completes right after issuing). Honest doubles: a CA returning
//! test blobs, a signature verifier for a tiny test format, an identity
//! verifier answering `valid`.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::OffsetDateTime;
use utrust_core::domain::access::Principal;
use utrust_core::domain::agents::{AgentRef, Employee, IssuingPoint, PointParent};
use utrust_core::domain::application::{Account, Actor, Address, Application};
use utrust_core::domain::casefile::{PaymentMethod, Requirement, Sha256Hex};
use utrust_core::domain::catalog::{DocumentKind, Product, Service, SmevCheckKind};
use utrust_core::domain::certificate::{IssuedCertificate, SerialNumber};
use utrust_core::domain::ids::{EmployeeId, ServiceId, UserId};
use utrust_core::domain::lifecycle::{ApplicationStatus as S, Step};
use utrust_core::domain::quota::Allotment;
use utrust_core::engine::NewDocument;
use utrust_core::ports::signature::{SignatureError, SignatureVerifier, SignerInfo};
use utrust_core::ports::{
    CaError, CertificateAuthority, CheckResult, CheckSubject, CheckTicket, IdentityVerifier,
    IssueRequest, Notification, Notifier, NotifyError, Random, SeededRandom, VerifierError,
};
use utrust_core::{Engine, Error, NewApplication};

use crate::doubles::{TestInspector, test_csr};
use crate::support::{self, Fixture, email, owner};

/// Issues `TESTCERT` blobs with random serials.
struct TestCa(SeededRandom);

#[async_trait::async_trait]
impl CertificateAuthority for TestCa {
    async fn issue(&self, request: IssueRequest) -> Result<IssuedCertificate, CaError> {
        let mut serial = [0u8; 16];
        self.0.fill(&mut serial);
        serial[0] = (serial[0] & 0x7f) | 0x01;
        Ok(IssuedCertificate {
            serial: SerialNumber::from_bytes(&serial).unwrap(),
            der: b"TESTCERT".to_vec(),
            not_before: request.not_before,
            not_after: request.not_after,
        })
    }

    fn ca_certificate_der(&self) -> Vec<u8> {
        b"TESTCA".to_vec()
    }
}

/// Test signatures: `SIG:<serial hex>:<sha256 of the content>`.
struct TestSignatures;

fn test_signature(serial: &SerialNumber, content: &[u8]) -> Vec<u8> {
    format!("SIG:{serial}:{}", Sha256Hex::of(content)).into_bytes()
}

impl SignatureVerifier for TestSignatures {
    fn verify_detached(
        &self,
        content: &[u8],
        signature: &[u8],
        at: OffsetDateTime,
    ) -> Result<SignerInfo, SignatureError> {
        let text = std::str::from_utf8(signature)
            .map_err(|_| SignatureError::Malformed("not UTF-8".into()))?;
        let mut parts = text.splitn(3, ':');
        let (Some("SIG"), Some(serial), Some(digest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SignatureError::Malformed("not a test signature".into()));
        };
        if digest != Sha256Hex::of(content).as_str() {
            return Err(SignatureError::ContentMismatch);
        }
        let serial = SerialNumber::parse(serial)
            .map_err(|_| SignatureError::Malformed("bad serial".into()))?;
        Ok(SignerInfo {
            serial,
            subject: "CN=Иванов Иван Иванович".into(),
            issuer: "CN=TESTCA".into(),
            not_before: at,
            not_after: at,
            signing_time: None,
            certificate_der: Vec::new(),
        })
    }
}

/// Every check (and ЕСИА registration) answers `valid` at the first poll.
struct AlwaysValid;

#[async_trait::async_trait]
impl IdentityVerifier for AlwaysValid {
    async fn submit(
        &self,
        idempotency_key: &str,
        _kind: SmevCheckKind,
        _subject: &CheckSubject,
    ) -> Result<CheckTicket, VerifierError> {
        Ok(CheckTicket {
            request_id: idempotency_key.to_owned(),
        })
    }

    async fn poll(&self, _ticket: &CheckTicket) -> Result<Option<CheckResult>, VerifierError> {
        Ok(Some(CheckResult::Valid))
    }
}

/// Records every message.
#[derive(Default)]
struct Outbox(std::sync::Mutex<Vec<Notification>>);

#[async_trait::async_trait]
impl Notifier for Outbox {
    async fn send(&self, message: &Notification) -> Result<(), NotifyError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
}

/// The case-file flags of one row of the table.
#[derive(Debug, Clone, Copy)]
struct Flags {
    documents: bool,
    signatures: bool,
    payment: bool,
    confirmation: bool,
    esia: bool,
    passport_on_verification: bool,
}

impl Flags {
    fn all() -> Vec<Self> {
        (0..64u8)
            .map(|b| Self {
                documents: b & 1 != 0,
                signatures: b & 2 != 0,
                payment: b & 4 != 0,
                confirmation: b & 8 != 0,
                esia: b & 16 != 0,
                passport_on_verification: b & 32 != 0,
            })
            .collect()
    }

    fn apply(self, s: &mut Service) {
        s.require_documents = self.documents;
        if self.documents {
            s.required_scans = [DocumentKind::Passport, DocumentKind::SignedBlank]
                .into_iter()
                .collect();
        }
        s.require_document_signature = self.signatures;
        s.price_from_kopecks = if self.payment { 150_000 } else { 0 };
        s.issuance_confirmation = self.confirmation;
        s.esia_registration = self.esia;
        s.passport_scan_on_verification = self.passport_on_verification;
    }
}

struct World {
    _fixture: Fixture,
    engine: Engine,
    outbox: Arc<Outbox>,
    point: IssuingPoint,
    product: Product,
    signer: SerialNumber,
}

fn admin() -> Actor {
    Actor::Admin("tester".into())
}

async fn world(fixture: Fixture) -> World {
    let outbox = Arc::new(Outbox::default());
    let engine = Engine::new(
        fixture.store.clone(),
        Arc::new(TestCa(SeededRandom::new(0xca))),
        Arc::new(TestInspector),
        Arc::new(SeededRandom::new(7)),
    )
    .with_signature_verifier(Arc::new(TestSignatures))
    .with_identity_verifier(Arc::new(AlwaysValid))
    .with_notifier(outbox.clone())
    .with_status_notifications(true)
    .with_check_timing(utrust_core::CheckTiming {
        poll_interval: time::Duration::ZERO,
        ..utrust_core::CheckTiming::default()
    });
    let product = engine
        .create_product(Product::new("KEP", "Квалифицированный сертификат"))
        .await
        .unwrap();
    let org = engine
        .create_organization(support::organization())
        .await
        .unwrap();
    let point = engine
        .create_point(IssuingPoint::new(
            PointParent::Organization(org.id),
            "Точка",
            email(),
            Allotment::Unlimited,
        ))
        .await
        .unwrap();
    // The responsible employee (same e-mail as the owner of the signing
    // certificate issued below).
    fixture
        .store
        .insert_employee(&Employee {
            id: EmployeeId::from_random_bytes(support::fresh_bytes()),
            user_id: UserId::from_random_bytes(support::fresh_bytes()),
            surname: "Иванов".into(),
            given_name: "Иван".into(),
            patronymic: None,
            position: "оператор".into(),
            email: email(),
            phone: "+7 495 000-00-00".into(),
            notify: false,
            permissions: Vec::new(),
            referral: AgentRef::Point(point.id),
            visibility: vec![AgentRef::Point(point.id)],
        })
        .await
        .unwrap();
    let mut w = World {
        _fixture: fixture,
        engine,
        outbox,
        point,
        product,
        signer: SerialNumber::from_bytes(&[1]).unwrap(),
    };
    // The employee's certificate, through a service with every flag off.
    let plain = w.service(Flags::all()[0]).await;
    let app = w.submit(plain).await;
    w.csr(&app).await.unwrap();
    w.signer = w.engine.issue(app.id, admin()).await.unwrap().serial;
    w
}

impl World {
    async fn service(&self, flags: Flags) -> ServiceId {
        let mut s = Service::new("Выпуск");
        s.products = vec![self.product.id];
        s.points = vec![self.point.id];
        flags.apply(&mut s);
        self.engine.create_service(s).await.unwrap().id
    }

    async fn submit(&self, service: ServiceId) -> Application {
        self.engine
            .submit(
                NewApplication {
                    service_id: service,
                    point_id: self.point.id,
                    products: vec![self.product.id],
                    account: Account::Individual,
                    owner: owner(),
                    address: Address::default(),
                    renewal_notice: false,
                },
                admin(),
            )
            .await
            .unwrap()
    }

    async fn csr(&self, app: &Application) -> Result<Application, Error> {
        let t = self.engine.request_template(app.id).await?;
        self.engine.attach_csr(app.id, &test_csr(&t), admin()).await
    }

    async fn upload(&self, app: &Application, kind: DocumentKind) -> Vec<u8> {
        let content = format!("%PDF {kind} of {}", app.id).into_bytes();
        self.engine
            .upload_document(
                app.id,
                NewDocument {
                    kind,
                    name: format!("{kind}.pdf"),
                    media_type: "application/pdf".into(),
                    content: content.clone(),
                },
                admin(),
            )
            .await
            .unwrap();
        content
    }

    /// Satisfies one requirement the way an agent would.
    async fn satisfy(&self, app: &Application, r: Requirement) {
        let id = app.id;
        match r {
            Requirement::Document(kind) => {
                self.upload(app, kind).await;
            }
            Requirement::AnyDocument => {
                self.upload(app, DocumentKind::Additional).await;
            }
            Requirement::Signature(kind) => {
                let docs = self.engine.documents(id).await.unwrap();
                let doc = docs
                    .iter()
                    .find(|d| d.kind == kind && d.signature.is_none())
                    .expect("an unsigned document of the kind");
                let (_, content) = self.engine.document_content(id, doc.id).await.unwrap();
                let admin = Principal::Admin { user: None };
                // Another content's signature is refused first.
                let wrong = test_signature(&self.signer, b"other content");
                assert!(matches!(
                    self.engine.sign_document(&admin, id, doc.id, &wrong).await,
                    Err(Error::Signature(SignatureError::ContentMismatch))
                ));
                let sig = test_signature(&self.signer, &content);
                self.engine
                    .sign_document(&admin, id, doc.id, &sig)
                    .await
                    .unwrap();
            }
            Requirement::Step(Step::Checks) | Requirement::EsiaRegistration => {
                self.engine.process_identity_checks(100).await.unwrap();
            }
            Requirement::Step(Step::Payment) | Requirement::PaymentMethod => {
                let now = self.engine.application(id).await.unwrap();
                if now.payment.method.is_none() {
                    self.engine
                        .choose_payment(id, PaymentMethod::Invoice, admin())
                        .await
                        .unwrap();
                }
                self.engine.mark_paid(id, admin()).await.unwrap();
            }
            Requirement::Step(Step::Csr) => {
                self.csr(app).await.unwrap();
            }
            Requirement::Step(Step::Approval) => {
                self.engine.approve(id, admin()).await.unwrap();
            }
            Requirement::Step(Step::Confirmation) => {
                self.engine.confirm_issuance(id, admin()).await.unwrap();
            }
            Requirement::Step(Step::Issuance) => {
                self.engine.issue(id, admin()).await.unwrap();
            }
            Requirement::Step(Step::Documents) => panic!("the documents step is expanded"),
        }
    }
}

/// Which flag a requirement belongs to (`None`: the core flow).
fn flag_of(r: Requirement) -> Option<&'static str> {
    match r {
        Requirement::Document(DocumentKind::Passport) => Some("documents|passport"),
        Requirement::Document(_) | Requirement::AnyDocument => Some("documents"),
        Requirement::Signature(_) => Some("signatures"),
        Requirement::Step(Step::Payment) | Requirement::PaymentMethod => Some("payment"),
        Requirement::Step(Step::Confirmation) => Some("confirmation"),
        Requirement::EsiaRegistration => Some("esia"),
        Requirement::Step(Step::Checks | Step::Approval | Step::Documents) => Some("other"),
        Requirement::Step(Step::Csr | Step::Issuance) => None,
    }
}

async fn table(fixture: Fixture) {
    let w = world(fixture).await;
    for flags in Flags::all() {
        let service = w.service(flags).await;
        let mut app = w.submit(service).await;
        let mut asked: BTreeSet<&'static str> = BTreeSet::new();
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 30, "{flags:?}: no progress at {}", app.status);
            match w.engine.complete(app.id, admin()).await {
                Ok(done) => {
                    assert_eq!(done.status, S::Completed, "{flags:?}");
                    break;
                }
                Err(Error::RequirementsMissing { missing, .. }) => {
                    assert!(!missing.is_empty());
                    for r in &missing {
                        if let Some(f) = flag_of(*r) {
                            asked.insert(f);
                        }
                    }
                    // The CSR may be refused for the passport scan only.
                    let first = missing[0];
                    if first == Requirement::Step(Step::Csr) && flags.passport_on_verification {
                        let docs = w.engine.documents(app.id).await.unwrap();
                        if !docs.iter().any(|d| d.kind == DocumentKind::Passport) {
                            match w.csr(&app).await {
                                Err(Error::RequirementsMissing { missing, .. }) => {
                                    assert_eq!(
                                        missing,
                                        [Requirement::Document(DocumentKind::Passport)]
                                    );
                                    asked.insert("passport");
                                }
                                other => panic!("{flags:?}: CSR without passport: {other:?}"),
                            }
                            w.satisfy(&app, Requirement::Document(DocumentKind::Passport))
                                .await;
                            continue;
                        }
                    }
                    w.satisfy(&app, first).await;
                }
                Err(other) => panic!("{flags:?} at {}: {other}", app.status),
            }
            app = w.engine.application(app.id).await.unwrap();
        }
        // Every requirement asked for belongs to a flag that is on, and every
        // flag that is on was asked for.
        let mut want = BTreeSet::new();
        if flags.documents {
            want.insert("documents");
            want.insert("documents|passport");
        }
        if flags.signatures && (flags.documents || flags.passport_on_verification) {
            want.insert("signatures");
        }
        if flags.payment {
            want.insert("payment");
        }
        if flags.confirmation {
            want.insert("confirmation");
        }
        if flags.esia {
            want.insert("esia");
        }
        if flags.passport_on_verification && !flags.documents {
            want.insert("passport");
        }
        assert_eq!(asked, want, "{flags:?}");
        // The history names exactly the steps of the flags that are on.
        let history = w.engine.history(app.id).await.unwrap();
        let events: Vec<String> = history.iter().map(|h| h.event.to_string()).collect();
        // Every status change but the transient `issuing` was announced to the
        // owner, the case-file steps included.
        let notices = w
            .outbox
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|n| n.subject.contains(&app.id.to_string()) && n.to == email())
            .count();
        assert_eq!(
            notices,
            history.iter().filter(|h| h.to != S::Issuing).count(),
            "{flags:?}: {events:?}"
        );
        assert_eq!(
            events.contains(&"documents_complete".to_owned()),
            flags.documents
        );
        assert_eq!(
            events.contains(&"payment_received".to_owned()),
            flags.payment
        );
        assert_eq!(events.contains(&"confirm".to_owned()), flags.confirmation);
    }
}

#[tokio::test]
async fn every_flag_combination_completes_through_exactly_its_requirements_memory() {
    table(support::memory()).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn every_flag_combination_completes_through_exactly_its_requirements_sqlite() {
    table(support::sqlite_memory().await).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn every_flag_combination_completes_through_exactly_its_requirements_postgres() {
    // A fresh schema; SKIPPED without a test database (a failure under CI=true).
    if let Some(f) = support::postgres().await {
        table(f).await;
    }
}

/// A signature must be by our CA's valid certificate of an employee.
#[tokio::test]
async fn signatures_by_unknown_or_foreign_certificates_are_refused() {
    let w = world(support::memory()).await;
    let mut flags = Flags::all()[0];
    flags.documents = true;
    flags.signatures = true;
    let service = w.service(flags).await;
    let app = w.submit(service).await;
    let content = w.upload(&app, DocumentKind::Passport).await;
    let doc = w.engine.documents(app.id).await.unwrap()[0].clone();
    let boss = Principal::Admin { user: None };
    // Not a certificate this CA issued.
    let unknown = SerialNumber::from_bytes(&[0x42; 8]).unwrap();
    assert!(matches!(
        w.engine
            .sign_document(&boss, app.id, doc.id, &test_signature(&unknown, &content))
            .await,
        Err(Error::SignerNotResponsible { .. })
    ));
    // Garbage.
    assert!(matches!(
        w.engine
            .sign_document(&boss, app.id, doc.id, b"garbage")
            .await,
        Err(Error::Signature(SignatureError::Malformed(_)))
    ));
    // An applicant may not sign.
    let applicant = Principal::Applicant {
        user: UserId::from_random_bytes(support::fresh_bytes()),
    };
    assert!(matches!(
        w.engine
            .sign_document(
                &applicant,
                app.id,
                doc.id,
                &test_signature(&w.signer, &content)
            )
            .await,
        Err(Error::Forbidden { .. })
    ));
    // Nothing was signed by the refusals.
    assert!(
        w.engine.documents(app.id).await.unwrap()[0]
            .signature
            .is_none()
    );
    assert_eq!(
        w.engine.application(app.id).await.unwrap().status,
        S::AwaitingDocuments
    );
    // A suspended signer certificate is refused.
    w.engine.suspend(&w.signer, admin()).await.unwrap();
    assert!(matches!(
        w.engine
            .sign_document(&boss, app.id, doc.id, &test_signature(&w.signer, &content))
            .await,
        Err(Error::Signature(SignatureError::CertificateRevoked { .. }))
    ));
}
