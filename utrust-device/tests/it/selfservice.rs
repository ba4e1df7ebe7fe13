//! Self-service device issuance through the engine (issue #6) on SoftHSM2:
//! the engine's use cases on a SQLite file, the local CA, and this crate's
//! `TokenProvider`; checked with pkcs11-tool and OpenSSL.

use std::path::Path;
use std::sync::Arc;

use time::macros::date;
use time::{Duration, OffsetDateTime};
use utrust_core::Engine;
use utrust_core::Error;
use utrust_core::domain::agents::{IssuingPoint, Organization, PointParent, UserAccount};
use utrust_core::domain::application::Actor;
use utrust_core::domain::catalog::{KeyAlgorithm, OidSet, Product, Service};
use utrust_core::domain::devices::{
    AccountingDocument, AreaPins, DevicePolicy, DeviceStatus, DeviceTemplate, DeviceType,
    JournalKind, PinAlphabet, PinArea, PinDelivery, PolicyTarget, PolicyViolation, RandomPin,
};
use utrust_core::domain::identifiers::{Email, Inn, Oid, Snils};
use utrust_core::domain::ids::UserId;
use utrust_core::domain::lifecycle::ApplicationStatus;
use utrust_core::domain::profile::{OwnerEdits, UserProfile};
use utrust_core::domain::quota::Allotment;
use utrust_core::domain::request::StringType;
use utrust_core::domain::secret::Secret;
use utrust_core::engine::{DeviceIssueRequest, DeviceIssueStage, RegisterDevice};
use utrust_core::ports::{ApplicationFilter, TokenError};
use utrust_core::store::SqliteStore;
use utrust_device::{Pin, Pkcs11Module};
use utrust_pki::{CsrInspector, LocalCa, OsRandom};

use crate::support::{self, attr, isolated, run, run_ok, write_pem};

/// Factory PINs of the test's device type (a blank token "as delivered").
const FACTORY_SO: &str = "87654321";
const FACTORY_USER: &str = "12345678";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A blank token as the support desk hands it out: formatted with the factory
/// PINs, labelled `label`.
fn blank_token(module: &Pkcs11Module, label: &str) -> String {
    let so = Pin::new(FACTORY_SO);
    let t = module.init_token("", &so, label).unwrap();
    module
        .session(&t.serial)
        .unwrap()
        .init_user_pin(&so, &Pin::new(FACTORY_USER))
        .unwrap();
    t.serial
}

fn ca() -> Arc<LocalCa> {
    Arc::new(
        LocalCa::generate(
            &[
                attr("2.5.4.6", "RU", StringType::Printable),
                attr("2.5.4.3", "utrust self-service test CA", StringType::Utf8),
            ],
            KeyAlgorithm::EcdsaP256,
            Duration::days(3650),
            OffsetDateTime::now_utc(),
        )
        .unwrap(),
    )
}

async fn engine(db: &Path, ca: &Arc<LocalCa>) -> Engine {
    let store = SqliteStore::open(db).await.unwrap();
    Engine::new(
        Arc::new(store),
        ca.clone(),
        Arc::new(CsrInspector::new()),
        Arc::new(OsRandom::new()),
    )
    .with_tokens(Arc::new(
        Pkcs11Module::open(support::module_path()).unwrap(),
    ))
}

/// What the tests set up: a user in group `staff` whose policy offers the
/// template `personal` (a service with or without approval).
struct World {
    user: UserId,
}

fn policy_for(service: &Service, point: &IssuingPoint) -> DevicePolicy {
    DevicePolicy {
        name: "staff".into(),
        self_issue_allowed: true,
        max_devices_per_user: 2,
        secret_questions: 2,
        secret_questions_required: true,
        initialize_on_issue: true,
        random_user_pin: Some(RandomPin {
            length: 8,
            alphabet: PinAlphabet::Digits,
            delivery: PinDelivery::ShowOnce,
        }),
        templates: vec![DeviceTemplate {
            name: "personal".into(),
            service_id: service.id,
            qualified: false,
        }],
        point_id: Some(point.id),
        smev_for_qualified: false,
        smev_data_editable: false,
        crypto_accounting: true,
    }
}

async fn world(engine: &Engine, approval: bool) -> World {
    engine
        .put_device_type(DeviceType {
            name: "softhsm-factory".into(),
            model: "SoftHSM v2".into(),
            areas: vec![PinArea {
                name: "pki".into(),
                gost: false,
                default_admin_pin: Some(FACTORY_SO.into()),
                default_user_pin: Some(FACTORY_USER.into()),
                min_user_pin_length: 6,
            }],
        })
        .await
        .unwrap();
    let mut product = Product::new("TOKEN", "Сертификат на токене");
    product.oids = OidSet {
        common: vec![Oid::parse("1.3.6.1.5.5.7.3.2").unwrap()],
        ..OidSet::default()
    };
    let product = engine.create_product(product).await.unwrap();
    let org = engine
        .create_organization(Organization::new("ООО «Ромашка»"))
        .await
        .unwrap();
    let point = engine
        .create_point(IssuingPoint::new(
            PointParent::Organization(org.id),
            "Служба поддержки",
            Email::parse("support@example.ru").unwrap(),
            Allotment::Unlimited,
        ))
        .await
        .unwrap();
    let mut service = Service::new("Сертификат сотрудника на токене");
    service.products = vec![product.id];
    service.approval_required = approval;
    let service = engine.create_service(service).await.unwrap();
    let user = engine
        .create_user(UserAccount {
            id: UserId::from_random_bytes([0; 16]),
            username: "ivanov".into(),
            password_hash: String::new(),
            active: true,
            staff: false,
            superuser: false,
            groups: vec!["staff".into()],
            permissions: vec![],
        })
        .await
        .unwrap();
    // The directory knows the person but not the INN.
    engine
        .put_user_profile(UserProfile {
            surname: Some("Иванов".into()),
            given_name: Some("Иван".into()),
            patronymic: Some("Иванович".into()),
            snils: Some(Snils::parse("112-233-445 95").unwrap()),
            email: Some(Email::parse("ivanov@example.ru").unwrap()),
            ..UserProfile::empty(user.id)
        })
        .await
        .unwrap();
    engine
        .put_device_policy(policy_for(&service, &point))
        .await
        .unwrap();
    engine
        .assign_device_policy(PolicyTarget::Group("staff".into()), Some("staff"))
        .await
        .unwrap();
    World { user: user.id }
}

fn document() -> AccountingDocument {
    AccountingDocument {
        number: "17/2026".into(),
        date: date!(2026 - 11 - 20),
    }
}

fn request(token: &str) -> DeviceIssueRequest {
    DeviceIssueRequest {
        token: token.into(),
        device_type: "softhsm-factory".into(),
        template: "personal".into(),
        name: Some("Токен Иванова".into()),
        pins: vec![],
        document: Some(document()),
        owner: OwnerEdits {
            inn: Some(Inn::parse("500100732259").unwrap()),
            ..OwnerEdits::default()
        },
    }
}

async fn answer_questions(engine: &Engine, user: UserId) {
    engine
        .set_secret_questions(
            user,
            vec![
                ("Девичья фамилия матери?".into(), Secret::new("Петрова")),
                ("Кличка первого питомца?".into(), Secret::new("Шарик")),
            ],
        )
        .await
        .unwrap();
}

/// Checks the token with OpenSC and OpenSSL: the certificate sits next to the
/// key under `key_id`, the key never leaves the token, and the certificate read
/// back from the token verifies against the CA.
fn check_token(dir: &Path, label: &str, user_pin: &str, key_id: &str, ca: &LocalCa) {
    let module = support::module_path();
    let listing = run_ok(
        "pkcs11-tool",
        &[
            "--module",
            &module,
            "--token-label",
            label,
            "--login",
            "--pin",
            user_pin,
            "-O",
        ],
        dir,
    );
    assert!(listing.contains("Private Key Object; EC"), "{listing}");
    assert!(
        listing.contains("Certificate Object; type = X.509 cert"),
        "{listing}"
    );
    let ids = listing
        .lines()
        .filter(|l| l.trim() == format!("ID:         {key_id}"))
        .count();
    assert_eq!(ids, 3, "key pair and certificate share the ID:\n{listing}");
    assert!(
        listing.contains("Access:     sensitive, always sensitive, never extractable, local"),
        "{listing}"
    );
    run_ok(
        "pkcs11-tool",
        &[
            "--module",
            &module,
            "--token-label",
            label,
            "--read-object",
            "--type",
            "cert",
            "--id",
            key_id,
            "-o",
            "from-token.der",
        ],
        dir,
    );
    std::fs::write(dir.join("ca.pem"), ca.certificate_pem()).unwrap();
    let der = std::fs::read(dir.join("from-token.der")).unwrap();
    write_pem(&dir.join("from-token.pem"), "CERTIFICATE", &der);
    let text = run_ok(
        "openssl",
        &["verify", "-CAfile", "ca.pem", "from-token.pem"],
        dir,
    );
    assert!(text.contains("from-token.pem: OK"), "{text}");
}

#[test]
fn self_service_issuance_on_softhsm() {
    let Some(env) = isolated("selfservice::self_service_issuance_on_softhsm") else {
        return;
    };
    let dir = env.dir.clone();
    let module = env.module();
    let serial = blank_token(&module, "blank");
    let ca = ca();
    runtime().block_on(async {
        let engine = engine(&dir.join("utrust.db"), &ca).await;
        let w = world(&engine, false).await;

        // The policy asks for the secret questions first, and names it.
        let err = engine
            .issue_device(w.user, request("blank"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            Error::DevicePolicy(PolicyViolation::SecretQuestionsMissing { required: 2 })
        );
        answer_questions(&engine, w.user).await;
        // Crypto-means accounting: the document is required.
        let mut no_doc = request("blank");
        no_doc.document = None;
        assert_eq!(
            engine.issue_device(w.user, no_doc).await.unwrap_err(),
            Error::DevicePolicy(PolicyViolation::DocumentRequired)
        );
        // Editing prefilled data is not allowed; filling the missing INN is.
        let mut edit = request("blank");
        edit.owner.surname = Some("Петров".into());
        let err = engine.issue_device(w.user, edit).await.unwrap_err();
        assert_eq!(err.field().as_deref(), Some("owner.surname"), "{err}");
        assert!(engine.devices_of(w.user).await.unwrap().is_empty());

        let outcome = engine.issue_device(w.user, request("blank")).await.unwrap();
        let pin = outcome
            .user_pin
            .clone()
            .expect("a generated PIN, shown once");
        assert_eq!(pin.chars(), 8);
        assert!(pin.expose().bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(outcome.pin_delivery, Some(PinDelivery::ShowOnce));
        let DeviceIssueStage::Issued { certificate } = &outcome.stage else {
            panic!("issued at once: {:?}", outcome.stage);
        };
        let device = &outcome.device;
        assert_eq!(device.status, DeviceStatus::Issued);
        assert_eq!(device.serial, serial);
        assert_eq!(device.certificates, vec![certificate.clone()]);
        // The user's list shows type, serial, name and status.
        let mine = engine.devices_of(w.user).await.unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].device_type, "softhsm-factory");
        assert_eq!(mine[0].serial, serial);
        assert_eq!(mine[0].name, "Токен Иванова");
        assert_eq!(mine[0].status, DeviceStatus::Issued);
        // The journal: received, then issued, with the document.
        let journal = engine.device_journal(device.id).await.unwrap();
        let kinds: Vec<JournalKind> = journal.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [JournalKind::Received, JournalKind::Issued]);
        assert!(journal.iter().all(|e| e.document == document()));
        // The PIN is nowhere in what the engine stored or prints.
        let stored = format!("{device:?}{journal:?}{outcome:?}");
        assert!(!stored.contains(pin.expose()), "{stored}");
        // Answers are stored as argon2id hashes only.
        assert!(
            engine
                .verify_secret_answers(w.user, &[Secret::new(" ПЕТРОВА "), Secret::new("шарик")])
                .await
                .unwrap()
        );

        check_token(
            &dir,
            "Токен Иванова",
            pin.expose(),
            &device.key_id.clone().unwrap(),
            &ca,
        );
        // The factory user PIN no longer opens the token.
        let (ok, text) = run(
            "pkcs11-tool",
            &[
                "--module",
                &support::module_path(),
                "--token-label",
                "Токен Иванова",
                "--login",
                "--pin",
                FACTORY_USER,
                "-O",
            ],
            &dir,
        );
        assert!(!ok, "{text}");

        // Installed at the user's workplace (journal only; still issued).
        let installed = engine
            .record_installation(
                device.id,
                document(),
                "workstation WS-17, installed by support".into(),
                Actor::Admin("support".into()),
            )
            .await
            .unwrap();
        assert_eq!(installed.status, DeviceStatus::Issued);

        // Lost: the certificate is revoked with keyCompromise, the device is lost.
        let lost = engine
            .report_device(
                device.id,
                utrust_core::engine::DeviceReport::Lost,
                false,
                Actor::User(w.user),
            )
            .await
            .unwrap();
        assert_eq!(lost.status, DeviceStatus::Lost);
        let cert = engine.certificate(certificate).await.unwrap();
        assert!(
            format!("{:?}", cert.status).contains("KeyCompromise"),
            "{:?}",
            cert.status
        );
        let withdrawn = engine
            .withdraw_device(device.id, document(), Actor::Admin("root".into()))
            .await
            .unwrap();
        assert_eq!(withdrawn.status, DeviceStatus::Withdrawn);
        let kinds: Vec<JournalKind> = engine
            .device_journal(device.id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                JournalKind::Received,
                JournalKind::Issued,
                JournalKind::Installed,
                JournalKind::Withdrawn
            ]
        );
    });
}

#[test]
fn two_stage_issuance_survives_a_restart() {
    let Some(env) = isolated("selfservice::two_stage_issuance_survives_a_restart") else {
        return;
    };
    let dir = env.dir.clone();
    let module = env.module();
    blank_token(&module, "blank");
    let ca = ca();
    let db = dir.join("utrust.db");
    let rt = runtime();
    let (user, device_id, application, pin) = rt.block_on(async {
        let engine = engine(&db, &ca).await;
        let w = world(&engine, true).await;
        answer_questions(&engine, w.user).await;
        let outcome = engine.issue_device(w.user, request("blank")).await.unwrap();
        let DeviceIssueStage::AwaitingDecision {
            application,
            status,
        } = outcome.stage
        else {
            panic!("awaiting decision: {:?}", outcome.stage);
        };
        assert_eq!(status, ApplicationStatus::AwaitingApproval);
        assert_eq!(outcome.device.status, DeviceStatus::Pending);
        assert_eq!(outcome.device.application_id, Some(application));
        let pin = outcome
            .user_pin
            .expect("the generated PIN is shown at once");
        // Not yet decided.
        let err = engine
            .continue_device_issuance(w.user, outcome.device.id, pin.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "awaiting_decision");
        (w.user, outcome.device.id, application, pin)
    });
    drop(rt);

    // The server restarts: a new engine on the same database file.
    let rt = runtime();
    rt.block_on(async {
        let engine = engine(&db, &ca).await;
        let device = engine.device(device_id).await.unwrap();
        assert_eq!(device.status, DeviceStatus::Pending);
        engine
            .approve(application, Actor::Admin("ca-operator".into()))
            .await
            .unwrap();
        // A wrong PIN: a clear error, the device stays pending.
        let err = engine
            .continue_device_issuance(user, device_id, Secret::new("00000000"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::TokenPin {
                    field: "user_pin",
                    error: TokenError::PinIncorrect { .. }
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            engine.device(device_id).await.unwrap().status,
            DeviceStatus::Pending
        );
        let outcome = engine
            .continue_device_issuance(user, device_id, pin.clone())
            .await
            .unwrap();
        assert!(matches!(outcome.stage, DeviceIssueStage::Issued { .. }));
        assert_eq!(outcome.device.status, DeviceStatus::Issued);
        assert_eq!(outcome.user_pin, None);
        check_token(
            &dir,
            "Токен Иванова",
            pin.expose(),
            &outcome.device.key_id.clone().unwrap(),
            &ca,
        );
        // Continuing an issued device is a wrong-status error.
        let err = engine
            .continue_device_issuance(user, device_id, pin)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_transition");

        // Broken, certificates suspended (certificateHold), not revoked.
        let certificate = outcome.device.certificates[0].clone();
        let broken = engine
            .report_device(
                device_id,
                utrust_core::engine::DeviceReport::Broken,
                true,
                Actor::User(user),
            )
            .await
            .unwrap();
        assert_eq!(broken.status, DeviceStatus::Broken);
        let cert = engine.certificate(&certificate).await.unwrap();
        assert!(
            matches!(
                cert.status,
                utrust_core::domain::revocation::CertificateStatus::Suspended { .. }
            ),
            "{:?}",
            cert.status
        );
        // Destroying needs a withdrawal first in the journal: refused, unchanged.
        let err = engine
            .destroy_device(device_id, document(), Actor::Admin("support".into()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "journal_out_of_order", "{err:?}");
        assert_eq!(engine.device(device_id).await.unwrap(), broken);
        engine
            .withdraw_device(device_id, document(), Actor::Admin("support".into()))
            .await
            .unwrap();
        let destroyed = engine
            .destroy_device(device_id, document(), Actor::Admin("support".into()))
            .await
            .unwrap();
        assert_eq!(destroyed.status, DeviceStatus::Destroyed);
        let kinds: Vec<JournalKind> = engine
            .device_journal(device_id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                JournalKind::Received,
                JournalKind::Issued,
                JournalKind::Withdrawn,
                JournalKind::Destroyed
            ]
        );
    });
}

#[test]
fn token_errors_leave_the_device_record_unchanged() {
    let Some(env) = isolated("selfservice::token_errors_leave_the_device_record_unchanged") else {
        return;
    };
    let dir = env.dir.clone();
    let module = env.module();
    let serial = blank_token(&module, "blank");
    let ca = ca();
    runtime().block_on(async {
        let engine = engine(&dir.join("utrust.db"), &ca).await;
        let w = world(&engine, false).await;
        answer_questions(&engine, w.user).await;
        // The support desk received the device into accounting.
        let registered = engine
            .register_device(
                RegisterDevice {
                    device_type: "softhsm-factory".into(),
                    serial: serial.clone(),
                    name: "blank".into(),
                    model: "SoftHSM v2".into(),
                    user_id: Some(w.user),
                    document: document(),
                },
                Actor::Admin("support".into()),
            )
            .await
            .unwrap();
        let unchanged = |engine: Engine| {
            let registered = registered.clone();
            async move {
                assert_eq!(engine.device(registered.id).await.unwrap(), registered);
                assert_eq!(engine.device_journal(registered.id).await.unwrap().len(), 1);
                assert!(
                    engine
                        .list_applications(&ApplicationFilter::default(), None, 10)
                        .await
                        .unwrap()
                        .is_empty(),
                    "no application is stored"
                );
            }
        };

        // Missing token.
        let err = engine
            .issue_device(w.user, request("no-such-token"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Token(TokenError::NotPresent(_))),
            "{err:?}"
        );
        assert_eq!(err.code(), "token_not_present");
        unchanged(engine.clone()).await;

        // Wrong admin PIN.
        let mut wrong = request(&serial);
        wrong.pins = vec![AreaPins {
            area: "pki".into(),
            admin_pin: Some(Secret::new("00000000")),
            user_pin: None,
        }];
        let err = engine.issue_device(w.user, wrong).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::TokenPin {
                    field: "admin_pin",
                    error: TokenError::PinIncorrect { .. }
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.code(), "pin_incorrect");
        assert_eq!(err.field().as_deref(), Some("admin_pin"));
        unchanged(engine.clone()).await;

        // With the right (default) PIN the registered record is the one issued.
        let outcome = engine.issue_device(w.user, request(&serial)).await.unwrap();
        assert_eq!(outcome.device.id, registered.id);
        assert_eq!(outcome.device.status, DeviceStatus::Issued);
        let kinds: Vec<JournalKind> = engine
            .device_journal(registered.id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, [JournalKind::Received, JournalKind::Issued]);
        // The policy allows two devices; the same token cannot be issued twice.
        let err = engine
            .issue_device(w.user, request(&serial))
            .await
            .unwrap_err();
        assert_eq!(err.field().as_deref(), Some("token"), "{err}");
        // Named by its label, it is refused before the token is touched: the
        // certificate is still there.
        let err = engine
            .issue_device(w.user, request("Токен Иванова"))
            .await
            .unwrap_err();
        assert_eq!(err.field().as_deref(), Some("token"), "{err}");
        let pin = Pin::new(outcome.user_pin.clone().unwrap().expose());
        let session = module.session(&serial).unwrap();
        session.login_user(&pin).unwrap();
        assert_eq!(session.certificates().unwrap().len(), 1);
        session.logout().unwrap();
    });
}

/// Keeps the messages the engine sends.
#[derive(Default)]
struct Outbox(std::sync::Mutex<Vec<utrust_core::ports::Notification>>);

#[async_trait::async_trait]
impl utrust_core::ports::Notifier for Outbox {
    async fn send(
        &self,
        message: &utrust_core::ports::Notification,
    ) -> Result<(), utrust_core::ports::NotifyError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
}

#[test]
fn a_rejected_request_gives_the_device_back() {
    let Some(env) = isolated("selfservice::a_rejected_request_gives_the_device_back") else {
        return;
    };
    let dir = env.dir.clone();
    let module = env.module();
    let serial = blank_token(&module, "blank");
    let ca = ca();
    runtime().block_on(async {
        let outbox = Arc::new(Outbox::default());
        let engine = engine(&dir.join("utrust.db"), &ca)
            .await
            .with_notifier(outbox.clone());
        let w = world(&engine, true).await;
        answer_questions(&engine, w.user).await;
        // The generated PIN also goes to the manager.
        let mut policy = engine.device_policy("staff").await.unwrap();
        if let Some(rule) = policy.random_user_pin.as_mut() {
            rule.delivery = PinDelivery::ShowAndMailManager;
        }
        engine.put_device_policy(policy).await.unwrap();
        let mut profile = engine.user_profile(w.user).await.unwrap();
        profile.manager_email = Some(Email::parse("boss@example.ru").unwrap());
        engine.put_user_profile(profile).await.unwrap();

        let outcome = engine.issue_device(w.user, request("blank")).await.unwrap();
        let pin = outcome.user_pin.clone().unwrap();
        assert_eq!(
            outcome.pin_sent_to.as_ref().map(Email::as_str),
            Some("boss@example.ru")
        );
        {
            let sent = outbox.0.lock().unwrap();
            assert_eq!(sent.len(), 1);
            assert_eq!(sent[0].to.as_str(), "boss@example.ru");
            assert!(sent[0].body.contains(pin.expose()));
            assert!(!sent[0].subject.contains(pin.expose()));
        }
        let DeviceIssueStage::AwaitingDecision { application, .. } = outcome.stage else {
            panic!("{:?}", outcome.stage);
        };
        engine
            .reject(
                application,
                Actor::Admin("ca-operator".into()),
                "documents do not match".into(),
            )
            .await
            .unwrap();
        let err = engine
            .continue_device_issuance(w.user, outcome.device.id, pin)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "issuance_refused");
        let device = engine.device(outcome.device.id).await.unwrap();
        assert_eq!(device.status, DeviceStatus::Registered);
        assert_eq!(device.serial, serial);
        assert_eq!(device.key_id, None);
        // The same token may be issued again.
        let again = engine.issue_device(w.user, request(&serial)).await.unwrap();
        assert_eq!(again.device.id, device.id);
        assert_eq!(again.device.status, DeviceStatus::Pending);
        assert_ne!(again.device.application_id, Some(application));
    });
}

#[test]
fn without_initialisation_the_user_pin_logs_in() {
    let Some(env) = isolated("selfservice::without_initialisation_the_user_pin_logs_in") else {
        return;
    };
    let dir = env.dir.clone();
    let module = env.module();
    let serial = blank_token(&module, "blank");
    let ca = ca();
    runtime().block_on(async {
        let engine = engine(&dir.join("utrust.db"), &ca).await;
        let w = world(&engine, false).await;
        answer_questions(&engine, w.user).await;
        let mut policy = engine.device_policy("staff").await.unwrap();
        policy.initialize_on_issue = false;
        engine.put_device_policy(policy).await.unwrap();

        // A wrong current user PIN: refused by the token, nothing stored.
        let mut wrong = request("blank");
        wrong.pins = vec![AreaPins {
            area: String::new(),
            admin_pin: None,
            user_pin: Some(Secret::new("11112222")),
        }];
        let err = engine.issue_device(w.user, wrong).await.unwrap_err();
        assert_eq!(err.code(), "pin_incorrect", "{err:?}");
        assert!(engine.devices_of(w.user).await.unwrap().is_empty());

        // An empty PIN falls back to the type's factory user PIN; no PIN is
        // generated (the random rule applies only when initialising).
        let outcome = engine.issue_device(w.user, request("blank")).await.unwrap();
        assert_eq!(outcome.user_pin, None);
        assert_eq!(outcome.device.status, DeviceStatus::Issued);
        assert_eq!(outcome.device.serial, serial);
        // Not re-initialised: the label is the one it was delivered with.
        check_token(
            &dir,
            "blank",
            FACTORY_USER,
            &outcome.device.key_id.clone().unwrap(),
            &ca,
        );
    });
}
