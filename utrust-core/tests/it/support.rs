//! Fixtures and store factories shared by the suites.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use time::OffsetDateTime;
use time::macros::datetime;
use utrust_core::domain::agents::{AttorneyData, Branch, IssuingPoint, Organization, PointParent};
use utrust_core::domain::application::{
    Account, Actor, Address, Application, CertificateOwner, HistoryEntry,
};
use utrust_core::domain::catalog::{ApplicantKind, ObjectIdentifier, Product, Service};
use utrust_core::domain::certificate::{CertificateRecord, CertificateStatus, SerialNumber};
use utrust_core::domain::identifiers::{AnyInn, Email, Inn, Oid, Snils};
use utrust_core::domain::ids::{
    ApplicationId, BranchId, OrganizationId, PointId, ProductId, ReservationId, ServiceId,
};
use utrust_core::domain::lifecycle::{ApplicationEvent, ApplicationStatus, StepPlan};
use utrust_core::domain::quota::{Allotment, Quota, Reservation};
use utrust_core::ports::Store;
use utrust_core::store::MemoryStore;

/// A fixed instant (with a non-zero sub-second part, to check precision).
pub fn t0() -> OffsetDateTime {
    datetime!(2026-03-01 10:15:30.123456789 UTC)
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// 16 distinct bytes for ids.
pub fn fresh_bytes() -> [u8; 16] {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut b = [0x5au8; 16];
    b[..8].copy_from_slice(&n.to_be_bytes());
    b[8..].copy_from_slice(&(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes());
    b
}

/// A fresh unique serial.
pub fn fresh_serial() -> SerialNumber {
    let mut b = fresh_bytes();
    b[0] = (b[0] & 0x7f) | 0x01;
    SerialNumber::from_bytes(&b).unwrap()
}

pub fn email() -> Email {
    Email::parse("ivanov@example.ru").unwrap()
}

pub fn owner() -> CertificateOwner {
    CertificateOwner {
        surname: "Иванов".into(),
        given_name: "Иван".into(),
        patronymic: Some("Иванович".into()),
        snils: Snils::parse("112-233-445 95").unwrap(),
        inn: Inn::parse("500100732259").unwrap(),
        email: email(),
        birth_date: Some(time::macros::date!(1980 - 05 - 17)),
        passport: None,
        position: None,
    }
}

pub fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier {
        oid: Oid::parse(s).unwrap(),
        name: format!("name of {s}"),
        description: "описание".into(),
    }
}

pub fn product(code: &str, quantity_accounting: bool) -> Product {
    let mut p = Product::new(code, format!("Продукт {code}"));
    p.id = ProductId::from_random_bytes(fresh_bytes());
    p.price_kopecks = 150_000;
    p.quantity_accounting = quantity_accounting;
    p.oids.common = vec![Oid::parse("1.3.6.1.5.5.7.3.2").unwrap()];
    p.oids.legal_entity = vec![Oid::parse("1.2.643.2.2.34.6").unwrap()];
    p
}

pub fn service(products: &[ProductId], points: &[PointId]) -> Service {
    let mut s = Service::new("Выпуск сертификата");
    s.id = ServiceId::from_random_bytes(fresh_bytes());
    s.products = products.to_vec();
    s.points = points.to_vec();
    s.domains = vec!["ca.example.ru".into()];
    s.card_payment = [ApplicantKind::Individual].into_iter().collect();
    s
}

pub fn organization() -> Organization {
    let mut o = Organization::new("ООО «Ромашка»");
    o.id = OrganizationId::from_random_bytes(fresh_bytes());
    o.inn = Some(AnyInn::parse("7707083893").unwrap());
    o.attorney = Some(AttorneyData {
        trusted_person: "Петров П. П.".into(),
        position: "директор".into(),
        legal_basis: "устав".into(),
        powers: vec!["подпись".into()],
        validity_years: 3,
    });
    o
}

pub fn branch(org: OrganizationId) -> Branch {
    let mut b = Branch::new(org, "Филиал №1");
    b.id = BranchId::from_random_bytes(fresh_bytes());
    b
}

/// A point under `org` with the given limit and product quantities (counters 0).
pub fn point(
    org: OrganizationId,
    limit: Allotment,
    quantities: &[(ProductId, Allotment)],
) -> IssuingPoint {
    let mut p = IssuingPoint::new(
        PointParent::Organization(org),
        "Точка выдачи",
        email(),
        limit,
    );
    p.id = PointId::from_random_bytes(fresh_bytes());
    p.latitude = Some(55.755_826_123_456_78);
    p.longitude = Some(37.617_299_9);
    p.closed_dates = vec!["2026-01-01".into()];
    p.quantities = quantities
        .iter()
        .map(|(id, a)| (*id, Quota::new(*a)))
        .collect::<BTreeMap<_, _>>();
    p
}

/// An application at `point` in `status`, version 1.
pub fn application(
    point: PointId,
    service: ServiceId,
    products: &[ProductId],
    status: ApplicationStatus,
) -> Application {
    Application {
        id: ApplicationId::from_random_bytes(fresh_bytes()),
        version: 1,
        status,
        plan: StepPlan::default(),
        service_id: service,
        point_id: point,
        products: products.to_vec(),
        account: Account::Individual,
        owner: owner(),
        address: Address::default(),
        referring_agent: None,
        manager: None,
        user: None,
        renewal_notice: true,
        csr_der: Some(vec![0x30, 0x82, 0x01, 0x00, 0xff, 0x00]),
        certificate_serial: None,
        renews: None,
        check_round: 0,
        reason: None,
        head_account_id: None,
        power_of_attorney: None,
        payment: Default::default(),
        esia_attempt: 0,
        created_at: t0(),
        updated_at: t0(),
    }
}

pub fn entry(app: &Application, from: ApplicationStatus, event: ApplicationEvent) -> HistoryEntry {
    HistoryEntry {
        application_id: app.id,
        actor: Actor::Admin("tester".into()),
        at: t0(),
        from,
        to: app.status,
        event,
        reason: None,
    }
}

/// Moves `app` to `to` (version + 1) and returns the entry for the change.
pub fn step(app: &mut Application, to: ApplicationStatus, event: ApplicationEvent) -> HistoryEntry {
    let from = app.status;
    app.version += 1;
    app.status = to;
    app.updated_at += time::Duration::seconds(1);
    let mut e = entry(app, from, event);
    e.at = app.updated_at;
    e
}

pub fn reservation(app: &Application, products: &[ProductId]) -> Reservation {
    Reservation {
        id: ReservationId::from_random_bytes(fresh_bytes()),
        application_id: app.id,
        point_id: app.point_id,
        products: products.to_vec(),
        expires_at: t0() + time::Duration::minutes(10),
    }
}

pub fn certificate(app: &Application) -> CertificateRecord {
    CertificateRecord {
        serial: fresh_serial(),
        application_id: app.id,
        point_id: app.point_id,
        products: app.products.clone(),
        applicant_kind: ApplicantKind::Individual,
        subject: "CN=Иванов Иван Иванович".into(),
        not_before: t0(),
        not_after: t0() + time::Duration::days(365),
        status: CertificateStatus::Valid,
        version: 1,
        der: vec![0x30, 0x82, 0x02, 0x10, 0x00, 0x01, 0xfe],
    }
}

// ---------------------------------------------------------------------------
// Stores.

/// What a test holds on to: the store and whatever must outlive it (a temporary
/// directory, a PostgreSQL schema dropped after the test).
pub struct Fixture {
    pub store: Arc<dyn Store>,
    _dir: Option<Box<dyn std::any::Any + Send + Sync>>,
}

pub fn memory() -> Fixture {
    Fixture {
        store: Arc::new(MemoryStore::new()),
        _dir: None,
    }
}

#[cfg(feature = "sqlite")]
pub async fn sqlite_memory() -> Fixture {
    Fixture {
        store: Arc::new(utrust_core::store::SqliteStore::in_memory().await.unwrap()),
        _dir: None,
    }
}

#[cfg(feature = "sqlite")]
pub async fn sqlite_file() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = utrust_core::store::SqliteStore::open(&dir.path().join("utrust.db"))
        .await
        .unwrap();
    Fixture {
        store: Arc::new(store),
        _dir: Some(Box::new(dir)),
    }
}

// ---------------------------------------------------------------------------
// PostgreSQL: a fresh schema per test in the database named by
// `UTRUST_TEST_DATABASE_URL` (scripts/test creates a throwaway one).

/// The test database, or `None` (printing SKIPPED) when it is not configured.
/// Under `CI=true` a missing database fails the test.
#[cfg(feature = "postgres")]
pub fn postgres_url() -> Option<String> {
    match std::env::var("UTRUST_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but UTRUST_TEST_DATABASE_URL is unset: the PostgreSQL store must be tested \
                 (run scripts/test, which creates a throwaway database)"
            );
            eprintln!("SKIPPED: UTRUST_TEST_DATABASE_URL is unset; PostgreSQL store not tested");
            None
        }
    }
}

/// A schema created for one test and dropped (with everything in it) when the
/// guard is dropped.
#[cfg(feature = "postgres")]
pub struct PgSchema {
    base_url: String,
    name: String,
}

#[cfg(feature = "postgres")]
impl PgSchema {
    /// Creates `t_<unique>` in the test database.
    pub async fn create(base_url: &str) -> Self {
        use sqlx::Connection;
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "t_{}_{}_{:x}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            nanos & 0xffff_ffff
        );
        let mut conn = sqlx::PgConnection::connect(base_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        Self {
            base_url: base_url.to_owned(),
            name,
        }
    }

    /// The test database URL with this schema as the only `search_path` entry.
    pub fn url(&self) -> String {
        let sep = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}options[search_path]={}", self.base_url, self.name)
    }
}

#[cfg(feature = "postgres")]
impl Drop for PgSchema {
    fn drop(&mut self) {
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let (url, name) = (self.base_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            use sqlx::Connection;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
                conn.close().await.ok();
                Ok::<_, String>(())
            })
        })
        .join();
        if let Ok(Err(e)) | Err(e) = dropped.map_err(|_| "panicked".to_string()) {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}

/// A fresh PostgreSQL store in a schema of its own, or `None` when no test
/// database is configured (see [`postgres_url`]).
#[cfg(feature = "postgres")]
pub async fn postgres() -> Option<Fixture> {
    let base = postgres_url()?;
    let schema = PgSchema::create(&base).await;
    let store = utrust_core::store::PgStore::connect(&schema.url())
        .await
        .unwrap();
    Some(Fixture {
        store: Arc::new(store),
        _dir: Some(Box::new(schema)),
    })
}
