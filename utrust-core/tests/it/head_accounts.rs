//! The engine's head accounts and power of attorney on every store: concurrent
//! submissions of one company share one account, legal entities of a service with
//! an attorney type carry the organization's attorney data, and only staff with
//! `process_applications` browse and edit accounts (optimistically).

use std::sync::Arc;

use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::agents::{AgentRef, Employee, IssuingPoint, PointParent};
use utrust_core::domain::application::{Account, Actor, Address};
use utrust_core::domain::attorney::add_years;
use utrust_core::domain::catalog::{AttorneyType, Product, Service};
use utrust_core::domain::head_accounts::AccountPatch;
use utrust_core::domain::identifiers::{InnLe, Kpp, Ogrn};
use utrust_core::domain::ids::{EmployeeId, UserId};
use utrust_core::domain::quota::Allotment;
use utrust_core::ports::{
    AccountFilter, CaError, CertificateAuthority, IssueRequest, SeededRandom,
};
use utrust_core::{Engine, Error, NewApplication};

use crate::doubles::TestInspector;
use crate::support::{self, Fixture, email, fresh_bytes, owner};

/// Refuses to issue: these tests never issue.
struct NoCa;

#[async_trait::async_trait]
impl CertificateAuthority for NoCa {
    async fn issue(
        &self,
        _request: IssueRequest,
    ) -> Result<utrust_core::domain::certificate::IssuedCertificate, CaError> {
        Err(CaError::Refused("not in these tests".into()))
    }

    fn ca_certificate_der(&self) -> Vec<u8> {
        b"TESTCA".to_vec()
    }
}

macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::support::memory()).await;
                }
            )*
        }
        #[cfg(feature = "sqlite")]
        mod sqlite_file {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::support::sqlite_file().await).await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    // A fresh schema per test; SKIPPED without a test database.
                    if let Some(f) = crate::support::postgres().await {
                        super::$name(f).await;
                    }
                }
            )*
        }
    };
}

on_every_store!(
    concurrent_submissions_of_one_company_share_one_account,
    legal_entities_carry_the_power_of_attorney_of_the_points_organization,
    accounts_are_for_staff_who_process_applications,
);

struct World {
    _fixture: Fixture,
    engine: Engine,
    point: IssuingPoint,
    product: Product,
    plain: Service,
    attorney: Service,
}

async fn world(fixture: Fixture) -> World {
    let engine = Engine::new(
        fixture.store.clone(),
        Arc::new(NoCa),
        Arc::new(TestInspector),
        Arc::new(SeededRandom::new(11)),
    );
    let product = engine
        .create_product(Product::new("KEP", "КЭП"))
        .await
        .unwrap();
    // The organization has attorney data (support::organization).
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
    let mut plain = Service::new("Без доверенности");
    plain.products = vec![product.id];
    plain.points = vec![point.id];
    let plain = engine.create_service(plain).await.unwrap();
    let mut attorney = Service::new("Корпоративный ЛК");
    attorney.products = vec![product.id];
    attorney.points = vec![point.id];
    attorney.attorney_type = AttorneyType::Paper;
    let attorney = engine.create_service(attorney).await.unwrap();
    World {
        _fixture: fixture,
        engine,
        point,
        product,
        plain,
        attorney,
    }
}

fn company(kpp: &str) -> Account {
    Account::LegalEntity {
        name: "ООО «Ромашка»".into(),
        inn: InnLe::parse("7707083893").unwrap(),
        kpp: Some(Kpp::parse(kpp).unwrap()),
        ogrn: Ogrn::parse("1027700132195").unwrap(),
    }
}

impl World {
    fn new_application(&self, service: &Service, account: Account) -> NewApplication {
        let mut o = owner();
        o.position = Some("Бухгалтер".into());
        NewApplication {
            service_id: service.id,
            point_id: self.point.id,
            products: vec![self.product.id],
            account,
            owner: o,
            address: Address::default(),
            renewal_notice: false,
        }
    }
}

fn admin() -> Actor {
    Actor::Admin("test".into())
}

async fn concurrent_submissions_of_one_company_share_one_account(f: Fixture) {
    let w = Arc::new(world(f).await);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move {
                let new = w.new_application(&w.plain, company("770701001"));
                w.engine.submit(new, admin()).await.unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().head_account_id.expect("linked"));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one account for one INN/KPP: {ids:?}");
    let accounts = w
        .engine
        .head_accounts(
            &Principal::Admin { user: None },
            &AccountFilter::default(),
            None,
            50,
        )
        .await
        .unwrap()
        .0;
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].full_name, "ООО «Ромашка»");
    assert_eq!(accounts[0].key.kpp_str(), "770701001");
    // A person: keyed by the owner's INN, a second account.
    let person = w
        .engine
        .submit(w.new_application(&w.plain, Account::Individual), admin())
        .await
        .unwrap();
    assert_ne!(person.head_account_id, Some(ids[0]));
}

async fn legal_entities_carry_the_power_of_attorney_of_the_points_organization(f: Fixture) {
    let w = world(f).await;
    let app = w
        .engine
        .submit(
            w.new_application(&w.attorney, company("770701001")),
            admin(),
        )
        .await
        .unwrap();
    let poa = app.power_of_attorney.clone().expect("a power of attorney");
    assert_eq!(poa.attorney_type, AttorneyType::Paper);
    assert_eq!(poa.trusted_person, "Петров П. П.");
    assert_eq!(poa.powers, vec!["подпись".to_owned()]);
    assert_eq!(poa.principal.inn, "7707083893");
    assert_eq!(poa.holder, "Иванов Иван Иванович");
    assert_eq!(poa.holder_position.as_deref(), Some("Бухгалтер"));
    assert_eq!(poa.valid_until, add_years(poa.valid_from, 3));
    // Stored with the application.
    let stored = w.engine.application(app.id).await.unwrap();
    assert_eq!(stored.power_of_attorney, Some(poa));
    let html = w
        .engine
        .power_of_attorney_html(&Principal::Admin { user: None }, app.id)
        .await
        .unwrap();
    assert!(html.contains("Петров П. П.") && html.contains("подпись"));
    // No power of attorney: a person, or a service without an attorney type.
    for (service, account) in [
        (&w.attorney, Account::Individual),
        (&w.plain, company("770701001")),
    ] {
        let app = w
            .engine
            .submit(w.new_application(service, account), admin())
            .await
            .unwrap();
        assert_eq!(app.power_of_attorney, None);
        assert!(matches!(
            w.engine
                .power_of_attorney_html(&Principal::Admin { user: None }, app.id)
                .await,
            Err(Error::NotFound { .. })
        ));
    }
}

fn employee_of(w: &World, permissions: &[Permission]) -> Principal {
    let user = UserId::from_random_bytes(fresh_bytes());
    Principal::Employee {
        user,
        employee: Box::new(Employee {
            id: EmployeeId::from_random_bytes(fresh_bytes()),
            user_id: user,
            surname: "Сотрудник".into(),
            given_name: "Тест".into(),
            patronymic: None,
            position: String::new(),
            email: email(),
            phone: String::new(),
            notify: false,
            permissions: Vec::new(),
            referral: AgentRef::Point(w.point.id),
            visibility: Vec::new(),
        }),
        permissions: permissions.iter().copied().collect(),
    }
}

async fn accounts_are_for_staff_who_process_applications(f: Fixture) {
    let w = world(f).await;
    let app = w
        .engine
        .submit(w.new_application(&w.plain, company("770701001")), admin())
        .await
        .unwrap();
    let id = app.head_account_id.unwrap();
    let clerk = employee_of(&w, &[Permission::ProcessApplications]);
    let bare = employee_of(&w, &[]);
    let applicant = Principal::Applicant {
        user: UserId::from_random_bytes(fresh_bytes()),
    };
    assert!(w.engine.head_account(&clerk, id).await.is_ok());
    assert!(matches!(
        w.engine.head_account(&bare, id).await,
        Err(Error::Forbidden { .. })
    ));
    assert!(matches!(
        w.engine.head_account(&applicant, id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        w.engine
            .head_accounts(&applicant, &AccountFilter::default(), None, 10)
            .await,
        Err(Error::NotFound { .. })
    ));
    let patch = || AccountPatch {
        full_name: Some("ООО «Ромашка» (головной офис)".into()),
        ..AccountPatch::default()
    };
    let edited = w
        .engine
        .update_head_account(&clerk, id, patch(), Some(1))
        .await
        .unwrap();
    assert_eq!(edited.version, 2);
    assert!(matches!(
        w.engine
            .update_head_account(&clerk, id, patch(), Some(1))
            .await,
        Err(Error::Conflict)
    ));
    assert!(matches!(
        w.engine
            .update_head_account(
                &clerk,
                id,
                AccountPatch {
                    full_name: Some(" ".into()),
                    ..AccountPatch::default()
                },
                None
            )
            .await,
        Err(Error::Invalid { .. })
    ));
    assert_eq!(w.engine.head_account(&clerk, id).await.unwrap(), edited);
}
