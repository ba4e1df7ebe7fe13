//! Issuance throughput against the crypto ceiling, measured in one process.
//!
//! Run with `cargo bench --bench issuance` (add `-- --quick` for a short run).
//!
//! It measures, one after the other on one thread:
//! 1. the **crypto ceiling**: the PKI work of one issuance alone — generate a P-256
//!    key, build and sign its PKCS#10 request, parse and verify it, issue and sign
//!    the certificate with the local CA;
//! 2. the **engine** doing whole issuances (submit, template, CSR, issue, including
//!    the same PKI work) on the in-memory store;
//! 3. the same on the SQLite store (file in a temp dir, WAL).
//!
//! and prints each rate and its ratio to the ceiling. Ratios, not absolute rates,
//! are what `docs/PERFORMANCE.md` compares across machines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use utrust::core::domain::agents::{IssuingPoint, Organization, PointParent};
use utrust::core::domain::application::{Account, Actor, Address, CertificateOwner};
use utrust::core::domain::catalog::{KeyAlgorithm, OidSet, Product, Service};
use utrust::core::domain::identifiers::{Email, Inn, Oid, Snils};
use utrust::core::domain::quota::Allotment;
use utrust::core::domain::request::{StringType, SubjectAttribute};
use utrust::core::domain::template::request_template;
use utrust::core::ports::{IssueRequest, RequestInspector, Store};
use utrust::core::store::{MemoryStore, SqliteStore};
use utrust::core::{Engine, NewApplication};
use utrust::pki::{CsrInspector, LocalCa, OsRandom, SoftwareKey, build_request};

type BoxError = Box<dyn std::error::Error>;

fn ca() -> Result<LocalCa, BoxError> {
    let subject = vec![SubjectAttribute {
        oid: Oid::parse("2.5.4.3")?,
        value: "Bench CA".into(),
        string_type: StringType::Utf8,
    }];
    Ok(LocalCa::generate(
        &subject,
        KeyAlgorithm::EcdsaP256,
        time::Duration::days(365),
        OffsetDateTime::now_utc(),
    )?)
}

struct Fixture {
    engine: Engine,
    service: Service,
    point: IssuingPoint,
    product: Product,
}

async fn fixture(store: Arc<dyn Store>) -> Result<Fixture, BoxError> {
    let engine = Engine::new(
        store,
        Arc::new(ca()?),
        Arc::new(CsrInspector::new()),
        Arc::new(OsRandom::new()),
    );
    let mut product = Product::new("KEP", "bench");
    product.oids = OidSet {
        common: vec![Oid::parse("1.3.6.1.5.5.7.3.2")?],
        ..OidSet::default()
    };
    let product = engine.create_product(product).await?;
    let org = engine
        .create_organization(Organization::new("Bench"))
        .await?;
    let point = engine
        .create_point(IssuingPoint::new(
            PointParent::Organization(org.id),
            "Bench point",
            Email::parse("bench@example.ru")?,
            Allotment::Unlimited,
        ))
        .await?;
    let mut service = Service::new("bench");
    service.products = vec![product.id];
    let service = engine.create_service(service).await?;
    Ok(Fixture {
        engine,
        service,
        point,
        product,
    })
}

fn new_application(f: &Fixture) -> Result<NewApplication, BoxError> {
    Ok(NewApplication {
        service_id: f.service.id,
        point_id: f.point.id,
        products: vec![f.product.id],
        account: Account::Individual,
        owner: CertificateOwner {
            surname: "Иванов".into(),
            given_name: "Иван".into(),
            patronymic: Some("Иванович".into()),
            snils: Snils::parse("11223344595")?,
            inn: Inn::parse("500100732259")?,
            email: Email::parse("ivanov@example.ru")?,
            birth_date: None,
            passport: None,
            position: None,
        },
        address: Address::default(),
        renewal_notice: false,
    })
}

async fn engine_issuance(f: &Fixture) -> Result<(), BoxError> {
    let actor = Actor::Admin("bench".into());
    let app = f.engine.submit(new_application(f)?, actor.clone()).await?;
    let template = f.engine.request_template(app.id).await?;
    let key = SoftwareKey::generate(template.key_algorithm)?;
    let csr = build_request(&template, &key)?;
    f.engine.attach_csr(app.id, &csr, actor.clone()).await?;
    f.engine.issue(app.id, actor).await?;
    Ok(())
}

/// Runs `op` repeatedly for about `budget` and returns operations per second.
async fn rate<F, Fut>(budget: Duration, mut op: F) -> Result<f64, BoxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), BoxError>>,
{
    for _ in 0..20 {
        op().await?; // warm-up
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        op().await?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary
    // without it, as a smoke test with a tiny budget.
    let args: Vec<String> = std::env::args().collect();
    let budget = if !args.iter().any(|a| a == "--bench") {
        Duration::from_millis(50)
    } else if args.iter().any(|a| a == "--quick") {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(5)
    };

    // 1. Crypto ceiling: the PKI work of one issuance, without the engine.
    let mem = fixture(Arc::new(MemoryStore::new())).await?;
    let app = mem
        .engine
        .submit(new_application(&mem)?, Actor::Admin("bench".into()))
        .await?;
    let template = request_template(&app, std::slice::from_ref(&mem.product), &mem.service);
    let bench_ca = ca()?;
    let inspector = CsrInspector::new();
    let ceiling = rate(budget, || {
        let template = &template;
        let bench_ca = &bench_ca;
        let inspector = &inspector;
        async move {
            let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256)?;
            let csr = build_request(template, &key)?;
            let inspected = inspector.inspect(&csr)?;
            let now = OffsetDateTime::now_utc();
            bench_ca.issue_certificate(&IssueRequest {
                csr_der: inspected.der,
                subject: template.subject.clone(),
                extensions: template.extensions.clone(),
                not_before: now,
                not_after: now + time::Duration::days(365),
            })?;
            Ok(())
        }
    })
    .await?;

    // 2. Engine on the memory store.
    let memory = rate(budget, || engine_issuance(&mem)).await?;

    // 3. Engine on SQLite.
    let dir = tempfile::tempdir()?;
    let sqlite = fixture(Arc::new(
        SqliteStore::open(&dir.path().join("bench.db")).await?,
    ))
    .await?;
    let sqlite_rate = rate(budget, || engine_issuance(&sqlite)).await?;

    println!(
        "issuance benchmark (one thread, P-256, {:.2}s per case)",
        budget.as_secs_f64()
    );
    println!("  crypto ceiling (keygen+CSR+verify+issue): {ceiling:>9.0} /s  1.00");
    println!(
        "  engine, memory store:                     {memory:>9.0} /s  {:.2}",
        memory / ceiling
    );
    println!(
        "  engine, SQLite store:                     {sqlite_rate:>9.0} /s  {:.2}",
        sqlite_rate / ceiling
    );
    Ok(())
}
