//! Store conformance of [`DeviceStore`]: device types, policies and their
//! assignment, user profiles, secret answers, devices (optimistic version, a
//! serial unique among live devices) and the append-only crypto-means journal,
//! over every store.

use std::sync::Arc;

use time::macros::date;
use utrust_core::domain::application::Actor;
use utrust_core::domain::devices::{
    AccountingDocument, Device, DeviceEvent, DevicePolicy, DeviceStatus, DeviceTemplate,
    DeviceType, JournalEntry, JournalError, JournalKind, PolicyTarget, SecretAnswer,
};
use utrust_core::domain::ids::{DeviceId, ServiceId, UserId};
use utrust_core::domain::profile::UserProfile;
use utrust_core::ports::{Store, StoreError};

use crate::support::*;

type Dyn = Arc<dyn Store>;

conformance!(
    device_types_and_policies_are_replaced_by_name,
    policies_are_assigned_to_users_and_groups,
    profiles_round_trip,
    secret_answers_are_replaced_as_a_whole,
    devices_keep_their_version_and_a_live_serial_is_unique,
    the_journal_is_ordered_and_written_with_its_device,
    devices_are_listed_per_user_and_by_id,
    racing_device_writers_one_wins_and_the_journal_keeps_one_entry,
);

fn user() -> UserId {
    UserId::from_random_bytes(fresh_bytes())
}

fn device(user: Option<UserId>, serial: &str) -> Device {
    Device {
        id: DeviceId::from_random_bytes(fresh_bytes()),
        version: 1,
        user_id: user,
        device_type: "softhsm2".into(),
        serial: serial.into(),
        name: "token of Ivanov".into(),
        model: "SoftHSM v2".into(),
        status: DeviceStatus::Registered,
        template: None,
        application_id: None,
        key_id: None,
        csr_der: None,
        document: None,
        certificates: Vec::new(),
        created_at: t0(),
        updated_at: t0(),
    }
}

fn entry(kind: JournalKind) -> JournalEntry {
    JournalEntry {
        kind,
        document: AccountingDocument {
            number: "17/2026".into(),
            date: date!(2026 - 03 - 01),
        },
        actor: Actor::Admin("root".into()),
        at: t0(),
        note: "issued to Ivanov".into(),
    }
}

/// `d` after `event`, with its version bumped.
fn step(d: &Device, event: DeviceEvent) -> Device {
    let mut next = d.clone();
    next.apply(event, t0()).unwrap();
    next.version += 1;
    next
}

async fn device_types_and_policies_are_replaced_by_name(store: Dyn) {
    assert_eq!(store.device_types().await.unwrap(), vec![]);
    for t in DeviceType::builtin() {
        store.put_device_type(&t).await.unwrap();
    }
    let mut rutoken = DeviceType::builtin().remove(0);
    rutoken.model = "Rutoken ECP 3.0".into();
    store.put_device_type(&rutoken).await.unwrap();
    let names: Vec<String> = store
        .device_types()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["jacarta-2-pki-gost", "rutoken-ecp", "softhsm2"]);
    assert_eq!(
        store.device_type("rutoken-ecp").await.unwrap(),
        Some(rutoken)
    );
    assert_eq!(store.device_type("etoken").await.unwrap(), None);
    assert_eq!(
        store
            .device_type("jacarta-2-pki-gost")
            .await
            .unwrap()
            .unwrap()
            .areas
            .len(),
        2
    );

    let policy = DevicePolicy {
        name: "staff".into(),
        self_issue_allowed: true,
        templates: vec![DeviceTemplate {
            name: "qualified".into(),
            service_id: ServiceId::from_random_bytes(fresh_bytes()),
            qualified: true,
        }],
        ..DevicePolicy::default()
    };
    store.put_device_policy(&policy).await.unwrap();
    let mut changed = policy.clone();
    changed.max_devices_per_user = 3;
    store.put_device_policy(&changed).await.unwrap();
    assert_eq!(
        store.device_policy("staff").await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(store.device_policies().await.unwrap(), vec![changed]);
    assert_eq!(store.device_policy("nobody").await.unwrap(), None);
}

async fn policies_are_assigned_to_users_and_groups(store: Dyn) {
    let u = user();
    let err = store
        .assign_device_policy(&PolicyTarget::User(u), Some("missing"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                entity: "device policy",
                ..
            }
        ),
        "{err:?}"
    );
    for name in ["a", "b"] {
        store
            .put_device_policy(&DevicePolicy {
                name: name.into(),
                ..DevicePolicy::default()
            })
            .await
            .unwrap();
    }
    store
        .assign_device_policy(&PolicyTarget::Group("staff".into()), Some("a"))
        .await
        .unwrap();
    store
        .assign_device_policy(&PolicyTarget::User(u), Some("a"))
        .await
        .unwrap();
    store
        .assign_device_policy(&PolicyTarget::User(u), Some("b"))
        .await
        .unwrap();
    let a = store.device_policy_assignments().await.unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].target, PolicyTarget::User(u));
    assert_eq!(a[0].policy, "b");
    assert_eq!(a[1].target, PolicyTarget::Group("staff".into()));
    store
        .assign_device_policy(&PolicyTarget::User(u), None)
        .await
        .unwrap();
    let a = store.device_policy_assignments().await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].policy, "a");
}

async fn profiles_round_trip(store: Dyn) {
    let u = user();
    assert_eq!(store.user_profile(u).await.unwrap(), None);
    let mut p = UserProfile::empty(u);
    p.surname = Some("Иванов".into());
    p.email = Some(email());
    p.birth_date = Some(date!(1980 - 05 - 17));
    store.put_user_profile(&p).await.unwrap();
    assert_eq!(store.user_profile(u).await.unwrap(), Some(p.clone()));
    p.given_name = Some("Иван".into());
    store.put_user_profile(&p).await.unwrap();
    assert_eq!(store.user_profile(u).await.unwrap(), Some(p));
}

async fn secret_answers_are_replaced_as_a_whole(store: Dyn) {
    let u = user();
    let other = user();
    assert_eq!(store.secret_answers(u).await.unwrap(), vec![]);
    let answer = |q: &str| SecretAnswer {
        question: q.into(),
        answer_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$hash-of-{q}"),
    };
    let first = vec![answer("q1"), answer("q2"), answer("q3")];
    store.set_secret_answers(u, &first).await.unwrap();
    store
        .set_secret_answers(other, &[answer("x")])
        .await
        .unwrap();
    assert_eq!(store.secret_answers(u).await.unwrap(), first);
    let second = vec![answer("q9"), answer("q8")];
    store.set_secret_answers(u, &second).await.unwrap();
    assert_eq!(store.secret_answers(u).await.unwrap(), second);
    assert_eq!(
        store.secret_answers(other).await.unwrap(),
        vec![answer("x")]
    );
}

async fn devices_keep_their_version_and_a_live_serial_is_unique(store: Dyn) {
    let u = user();
    let d = device(Some(u), "0a1b2c3d");
    store.insert_device(&d, None).await.unwrap();
    assert_eq!(store.device(d.id).await.unwrap(), Some(d.clone()));
    // The same serial again while the first is live.
    let twin = device(Some(user()), "0a1b2c3d");
    assert_eq!(
        store.insert_device(&twin, None).await.unwrap_err(),
        StoreError::Duplicate {
            entity: "device",
            field: "serial"
        }
    );
    let pending = step(&d, DeviceEvent::RequestSent);
    store.update_device(&pending, None).await.unwrap();
    // A stale writer loses.
    let mut stale = step(&d, DeviceEvent::RequestSent);
    stale.name = "other".into();
    assert_eq!(
        store.update_device(&stale, None).await.unwrap_err(),
        StoreError::DeviceVersionConflict { id: d.id }
    );
    assert_eq!(store.device(d.id).await.unwrap(), Some(pending.clone()));
    assert_eq!(
        store.live_device_by_serial("0a1b2c3d").await.unwrap(),
        Some(pending.clone())
    );
    let unknown = device(None, "ffff");
    let mut unknown2 = unknown.clone();
    unknown2.version = 2;
    assert!(matches!(
        store.update_device(&unknown2, None).await.unwrap_err(),
        StoreError::NotFound {
            entity: "device",
            ..
        }
    ));
    // Withdrawn, the serial is free for a new record.
    let issued = step(&pending, DeviceEvent::IssuanceCompleted);
    store.update_device(&issued, None).await.unwrap();
    let withdrawn = step(&issued, DeviceEvent::Withdraw);
    store.update_device(&withdrawn, None).await.unwrap();
    assert_eq!(store.live_device_by_serial("0a1b2c3d").await.unwrap(), None);
    store.insert_device(&twin, None).await.unwrap();
    assert_eq!(
        store.live_device_by_serial("0a1b2c3d").await.unwrap(),
        Some(twin)
    );
    assert_eq!(
        store.device(d.id).await.unwrap().map(|x| x.status),
        Some(DeviceStatus::Withdrawn)
    );
}

async fn the_journal_is_ordered_and_written_with_its_device(store: Dyn) {
    let d = device(Some(user()), "journal-1");
    // A journal cannot start with "issued": nothing is stored.
    assert_eq!(
        store
            .insert_device(&d, Some(&entry(JournalKind::Issued)))
            .await
            .unwrap_err(),
        StoreError::Journal(JournalError::OutOfOrder {
            last: None,
            next: JournalKind::Issued
        })
    );
    assert_eq!(store.device(d.id).await.unwrap(), None);
    store
        .insert_device(&d, Some(&entry(JournalKind::Received)))
        .await
        .unwrap();
    let pending = step(&d, DeviceEvent::RequestSent);
    // "installed" before "issued": refused, and the device stays as it was.
    assert!(matches!(
        store
            .update_device(&pending, Some(&entry(JournalKind::Installed)))
            .await
            .unwrap_err(),
        StoreError::Journal(JournalError::OutOfOrder { .. })
    ));
    assert_eq!(store.device(d.id).await.unwrap(), Some(d.clone()));
    store.update_device(&pending, None).await.unwrap();
    let issued = step(&pending, DeviceEvent::IssuanceCompleted);
    store
        .update_device(&issued, Some(&entry(JournalKind::Issued)))
        .await
        .unwrap();
    let mut no_number = entry(JournalKind::Withdrawn);
    no_number.document.number = "  ".into();
    let withdrawn = step(&issued, DeviceEvent::Withdraw);
    assert_eq!(
        store
            .update_device(&withdrawn, Some(&no_number))
            .await
            .unwrap_err(),
        StoreError::Journal(JournalError::DocumentNumberMissing)
    );
    store
        .update_device(&withdrawn, Some(&entry(JournalKind::Withdrawn)))
        .await
        .unwrap();
    let destroyed = step(&withdrawn, DeviceEvent::Destroy);
    store
        .update_device(&destroyed, Some(&entry(JournalKind::Destroyed)))
        .await
        .unwrap();
    let kinds: Vec<JournalKind> = store
        .device_journal(d.id)
        .await
        .unwrap()
        .into_iter()
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
    let journal = store.device_journal(d.id).await.unwrap();
    assert_eq!(journal[0], entry(JournalKind::Received));
}

async fn devices_are_listed_per_user_and_by_id(store: Dyn) {
    let u = user();
    let mut mine = Vec::new();
    for i in 0..3 {
        let mut d = device(Some(u), &format!("list-{i}"));
        d.created_at = t0() + time::Duration::seconds(10 - i);
        store.insert_device(&d, None).await.unwrap();
        mine.push(d);
    }
    store
        .insert_device(&device(Some(user()), "list-other"), None)
        .await
        .unwrap();
    let listed: Vec<String> = store
        .devices_of_user(u)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.serial)
        .collect();
    assert_eq!(listed, ["list-2", "list-1", "list-0"]);
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_devices(after, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().map(|d| d.id);
        all.extend(page.into_iter().map(|d| d.id));
    }
    assert_eq!(all.len(), 4);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
}

async fn racing_device_writers_one_wins_and_the_journal_keeps_one_entry(store: Dyn) {
    let d = device(Some(user()), "race-1");
    store
        .insert_device(&d, Some(&entry(JournalKind::Received)))
        .await
        .unwrap();
    let pending = step(&d, DeviceEvent::RequestSent);
    store.update_device(&pending, None).await.unwrap();
    let issued = step(&pending, DeviceEvent::IssuanceCompleted);
    // Eight writers complete the same issuance at once: one wins.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            store
                .update_device(&issued, Some(&entry(JournalKind::Issued)))
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::DeviceVersionConflict { id }) => assert_eq!(id, d.id),
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(wins, 1);
    let kinds: Vec<JournalKind> = store
        .device_journal(d.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [JournalKind::Received, JournalKind::Issued]);
}

// ---------------------------------------------------------------------------
// Engine use cases that stop before any token is touched (the token paths are
// tested on SoftHSM2 in utrust-device/tests/it/selfservice.rs).

mod engine_before_the_token {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use async_trait::async_trait;
    use utrust_core::domain::agents::{IssuingPoint, Organization, PointParent, UserAccount};
    use utrust_core::domain::catalog::{Product, Service, SmevCheckKind};
    use utrust_core::domain::certificate::IssuedCertificate;
    use utrust_core::domain::devices::{
        Device, DevicePolicy, DeviceStatus, DeviceTemplate, PolicyTarget, PolicyViolation,
    };
    use utrust_core::domain::ids::UserId;
    use utrust_core::domain::quota::Allotment;
    use utrust_core::domain::secret::Secret;
    use utrust_core::engine::DeviceIssueRequest;
    use utrust_core::ports::{
        CaError, CertificateAuthority, IssueRequest, PrepareToken, PreparedToken, SeededRandom,
        TokenError, TokenInfo, TokenProvider,
    };
    use utrust_core::{Engine, Error};

    use crate::doubles::TestInspector;
    use crate::support::{email, t0};

    /// A CA these tests never reach.
    struct Unreachable;

    #[async_trait]
    impl CertificateAuthority for Unreachable {
        async fn issue(&self, _: IssueRequest) -> Result<IssuedCertificate, CaError> {
            Err(CaError::Unavailable("not reached in these tests".into()))
        }
        fn ca_certificate_der(&self) -> Vec<u8> {
            Vec::new()
        }
    }

    /// Counts token calls: a policy refusal must come before any.
    #[derive(Default)]
    struct CountingTokens(AtomicU32);

    #[async_trait]
    impl TokenProvider for CountingTokens {
        async fn tokens(&self) -> Result<Vec<TokenInfo>, TokenError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        }
        async fn prepare(&self, job: PrepareToken) -> Result<PreparedToken, TokenError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(TokenError::NotPresent(job.token))
        }
    }

    struct W {
        engine: Engine,
        tokens: Arc<CountingTokens>,
        user: UserId,
        other: UserId,
        service: Service,
        smev_service: Service,
        point: IssuingPoint,
    }

    async fn world() -> W {
        let store = crate::support::memory().store;
        let tokens = Arc::new(CountingTokens::default());
        let engine = Engine::new(
            store,
            Arc::new(Unreachable),
            Arc::new(TestInspector),
            Arc::new(SeededRandom::new(11)),
        )
        .with_tokens(tokens.clone());
        let product = engine
            .create_product(Product::new("TOKEN", "Сертификат на токене"))
            .await
            .unwrap();
        let org = engine
            .create_organization(Organization::new("ООО «Ромашка»"))
            .await
            .unwrap();
        let point = engine
            .create_point(IssuingPoint::new(
                PointParent::Organization(org.id),
                "Поддержка",
                email(),
                Allotment::Unlimited,
            ))
            .await
            .unwrap();
        let mut service = Service::new("Сертификат сотрудника");
        service.products = vec![product.id];
        let service = engine.create_service(service).await.unwrap();
        let mut smev = Service::new("Квалифицированный");
        smev.products = vec![product.id];
        smev.smev_checks = [SmevCheckKind::Snils].into_iter().collect();
        let smev_service = engine.create_service(smev).await.unwrap();
        let mut ids = Vec::new();
        for (name, groups) in [("ivanov", vec!["staff"]), ("petrov", vec!["staff", "it"])] {
            let u = engine
                .create_user(UserAccount {
                    id: UserId::from_random_bytes([0; 16]),
                    username: name.into(),
                    password_hash: String::new(),
                    active: true,
                    staff: false,
                    superuser: false,
                    groups: groups.into_iter().map(Into::into).collect(),
                    permissions: vec![],
                })
                .await
                .unwrap();
            ids.push(u.id);
        }
        W {
            engine,
            tokens,
            user: ids[0],
            other: ids[1],
            service,
            smev_service,
            point,
        }
    }

    fn policy(name: &str, w: &W) -> DevicePolicy {
        DevicePolicy {
            name: name.into(),
            self_issue_allowed: true,
            secret_questions: 2,
            secret_questions_required: true,
            templates: vec![DeviceTemplate {
                name: "personal".into(),
                service_id: w.service.id,
                qualified: false,
            }],
            point_id: Some(w.point.id),
            ..DevicePolicy::default()
        }
    }

    fn request(template: &str) -> DeviceIssueRequest {
        DeviceIssueRequest {
            token: "blank".into(),
            device_type: "rutoken-ecp".into(),
            template: template.into(),
            name: None,
            pins: vec![],
            document: None,
            owner: Default::default(),
        }
    }

    fn pairs(n: usize) -> Vec<(String, Secret)> {
        (0..n)
            .map(|i| (format!("Question {i}?"), Secret::new(format!("Answer {i}"))))
            .collect()
    }

    #[tokio::test]
    async fn policies_are_validated_and_resolved_user_first() {
        let w = world().await;
        let mut bad = policy("bad", &w);
        bad.templates[0].service_id =
            utrust_core::domain::ids::ServiceId::from_random_bytes([9; 16]);
        let err = w.engine.put_device_policy(bad).await.unwrap_err();
        assert_eq!(err.field().as_deref(), Some("templates[0].service_id"));
        let mut smev = policy("smev", &w);
        smev.smev_for_qualified = true;
        smev.templates[0].qualified = true;
        let err = w.engine.put_device_policy(smev.clone()).await.unwrap_err();
        assert_eq!(
            err.field().as_deref(),
            Some("templates[0].service_id"),
            "{err}"
        );
        smev.templates[0].service_id = w.smev_service.id;
        w.engine.put_device_policy(smev).await.unwrap();
        let mut no_point = policy("no-point", &w);
        no_point.point_id = None;
        let err = w.engine.put_device_policy(no_point).await.unwrap_err();
        assert_eq!(err.field().as_deref(), Some("point_id"));

        w.engine
            .put_device_policy(policy("staff", &w))
            .await
            .unwrap();
        let mut it = policy("it", &w);
        it.max_devices_per_user = 3;
        w.engine.put_device_policy(it).await.unwrap();
        w.engine
            .assign_device_policy(PolicyTarget::Group("it".into()), Some("it"))
            .await
            .unwrap();
        w.engine
            .assign_device_policy(PolicyTarget::Group("staff".into()), Some("staff"))
            .await
            .unwrap();
        let name = |p: Option<DevicePolicy>| p.map(|p| p.name);
        assert_eq!(
            name(w.engine.device_policy_for(w.user).await.unwrap()).as_deref(),
            Some("staff")
        );
        // petrov is in staff first, then it.
        assert_eq!(
            name(w.engine.device_policy_for(w.other).await.unwrap()).as_deref(),
            Some("staff")
        );
        w.engine
            .assign_device_policy(PolicyTarget::User(w.other), Some("it"))
            .await
            .unwrap();
        assert_eq!(
            name(w.engine.device_policy_for(w.other).await.unwrap()).as_deref(),
            Some("it")
        );
        // Built-in device types are there unless replaced.
        let types = w.engine.device_types().await.unwrap();
        assert!(types.iter().any(|t| t.name == "rutoken-ecp"));
        assert_eq!(
            w.engine.device_type("rutoken-ecp").await.unwrap().areas[0]
                .default_user_pin
                .as_deref(),
            Some("12345678")
        );
    }

    #[tokio::test]
    async fn secret_answers_are_counted_and_stored_as_argon2_hashes() {
        let w = world().await;
        let err = w
            .engine
            .set_secret_questions(w.user, pairs(2))
            .await
            .unwrap_err();
        assert_eq!(
            err.field().as_deref(),
            Some("questions"),
            "no policy: {err}"
        );
        w.engine
            .put_device_policy(policy("staff", &w))
            .await
            .unwrap();
        w.engine
            .assign_device_policy(PolicyTarget::Group("staff".into()), Some("staff"))
            .await
            .unwrap();
        let err = w
            .engine
            .set_secret_questions(w.user, pairs(3))
            .await
            .unwrap_err();
        assert_eq!(err.field().as_deref(), Some("questions"));
        w.engine
            .set_secret_questions(w.user, pairs(2))
            .await
            .unwrap();
        let stored = w.engine.store().secret_answers(w.user).await.unwrap();
        assert_eq!(stored.len(), 2);
        for (i, s) in stored.iter().enumerate() {
            assert!(s.answer_hash.starts_with("$argon2id$"), "{}", s.answer_hash);
            assert!(!s.answer_hash.contains(&format!("Answer {i}")));
            assert!(
                !s.answer_hash
                    .to_lowercase()
                    .contains(&format!("answer {i}"))
            );
        }
        assert_ne!(stored[0].answer_hash, stored[1].answer_hash);
        assert_eq!(
            w.engine.secret_questions(w.user).await.unwrap(),
            ["Question 0?", "Question 1?"]
        );
        let ok = [Secret::new("  answer 0 "), Secret::new("ANSWER 1")];
        assert!(w.engine.verify_secret_answers(w.user, &ok).await.unwrap());
        let wrong = [Secret::new("answer 0"), Secret::new("answer 2")];
        assert!(
            !w.engine
                .verify_secret_answers(w.user, &wrong)
                .await
                .unwrap()
        );
        // Changing them replaces both.
        let new = vec![
            ("Город рождения?".to_owned(), Secret::new("Тверь")),
            ("Любимая книга?".to_owned(), Secret::new("Идиот")),
        ];
        w.engine.set_secret_questions(w.user, new).await.unwrap();
        assert_eq!(
            w.engine.secret_questions(w.user).await.unwrap(),
            ["Город рождения?", "Любимая книга?"]
        );
        assert!(!w.engine.verify_secret_answers(w.user, &ok).await.unwrap());
    }

    #[tokio::test]
    async fn the_policy_refuses_before_any_token_call() {
        let w = world().await;
        // No token provider at all.
        let bare = Engine::new(
            w.engine.store().clone(),
            Arc::new(Unreachable),
            Arc::new(TestInspector),
            Arc::new(SeededRandom::new(3)),
        );
        let err = bare
            .issue_device(w.user, request("personal"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "token_unsupported");

        // No policy: self-issue is not allowed.
        let err = w
            .engine
            .issue_device(w.user, request("personal"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            Error::DevicePolicy(PolicyViolation::SelfIssueNotAllowed)
        );
        w.engine
            .put_device_policy(policy("staff", &w))
            .await
            .unwrap();
        w.engine
            .assign_device_policy(PolicyTarget::User(w.user), Some("staff"))
            .await
            .unwrap();
        let err = w
            .engine
            .issue_device(w.user, request("other"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            Error::DevicePolicy(PolicyViolation::SecretQuestionsMissing { required: 2 })
        );
        w.engine
            .set_secret_questions(w.user, pairs(2))
            .await
            .unwrap();
        let err = w
            .engine
            .issue_device(w.user, request("other"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            Error::DevicePolicy(PolicyViolation::TemplateNotOffered("other".into()))
        );
        assert_eq!(err.field().as_deref(), Some("template"));
        // The directory lacks the owner's data: named, before the token.
        let err = w
            .engine
            .issue_device(w.user, request("personal"))
            .await
            .unwrap_err();
        assert_eq!(err.field().as_deref(), Some("owner.surname"), "{err}");
        let mut unknown_type = request("personal");
        unknown_type.device_type = "etoken".into();
        let err = w
            .engine
            .issue_device(w.user, unknown_type)
            .await
            .unwrap_err();
        assert_eq!(err.field().as_deref(), Some("device_type"));
        // The user already holds the one device the policy allows.
        let held = Device {
            id: utrust_core::domain::ids::DeviceId::from_random_bytes([7; 16]),
            version: 1,
            user_id: Some(w.user),
            device_type: "rutoken-ecp".into(),
            serial: "0a0b0c0d".into(),
            name: "old".into(),
            model: "Rutoken ECP".into(),
            status: DeviceStatus::Issued,
            template: None,
            application_id: None,
            key_id: None,
            csr_der: None,
            document: None,
            certificates: vec![],
            created_at: t0(),
            updated_at: t0(),
        };
        w.engine.store().insert_device(&held, None).await.unwrap();
        let err = w
            .engine
            .issue_device(w.user, request("personal"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            Error::DevicePolicy(PolicyViolation::TooManyDevices { max: 1 })
        );
        assert_eq!(w.tokens.0.load(Ordering::SeqCst), 0, "no token call");
        assert!(
            w.engine
                .list_applications(&Default::default(), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

/// The SQL stores refuse to change or delete journal entries, whoever asks.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod journal_is_append_only {
    use super::*;
    use utrust_core::ports::DeviceStore;

    async fn journalled(store: &dyn Store) -> Device {
        let d = device(Some(user()), "append-only");
        store
            .insert_device(&d, Some(&entry(JournalKind::Received)))
            .await
            .unwrap();
        d
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = utrust_core::store::SqliteStore::open(&dir.path().join("j.db"))
            .await
            .unwrap();
        let d = journalled(&store).await;
        for sql in [
            "UPDATE device_journal SET kind = 'destroyed'",
            "DELETE FROM device_journal",
        ] {
            let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        assert_eq!(store.device_journal(d.id).await.unwrap().len(), 1);
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn on_postgres() {
        let Some(base) = crate::support::postgres_url() else {
            return;
        };
        let schema = crate::support::PgSchema::create(&base).await;
        let store = utrust_core::store::PgStore::connect(&schema.url())
            .await
            .unwrap();
        let d = journalled(&store).await;
        for sql in [
            "UPDATE device_journal SET kind = 'destroyed'",
            "DELETE FROM device_journal",
        ] {
            let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        assert_eq!(store.device_journal(d.id).await.unwrap().len(), 1);
        drop(store);
        drop(schema);
    }
}
