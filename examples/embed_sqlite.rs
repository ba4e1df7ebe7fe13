//! Embed the engine with the SQLite store and the local CA, and issue one
//! certificate for a natural person.
//!
//! Run with `cargo run --example embed_sqlite`.

use std::sync::Arc;

use time::OffsetDateTime;
use utrust::core::domain::agents::{IssuingPoint, Organization, PointParent};
use utrust::core::domain::application::{Account, Actor, Address, CertificateOwner};
use utrust::core::domain::catalog::{KeyAlgorithm, OidSet, Product, Service};
use utrust::core::domain::identifiers::{Email, Inn, Oid, Snils};
use utrust::core::domain::quota::Allotment;
use utrust::core::domain::request::{StringType, SubjectAttribute};
use utrust::core::store::SqliteStore;
use utrust::core::{Engine, NewApplication};
use utrust::pki::{CsrInspector, LocalCa, OsRandom, SoftwareKey, build_request, to_pem};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;

    // 1. Ports: a SQLite store, a local CA, the request inspector, OS randomness.
    let store = SqliteStore::open(&dir.path().join("utrust.db")).await?;
    let ca_subject = vec![SubjectAttribute {
        oid: Oid::parse("2.5.4.3")?,
        value: "Example CA".into(),
        string_type: StringType::Utf8,
    }];
    let ca = LocalCa::generate(
        &ca_subject,
        KeyAlgorithm::EcdsaP256,
        time::Duration::days(365),
        OffsetDateTime::now_utc(),
    )?;
    let engine = Engine::new(
        Arc::new(store),
        Arc::new(ca),
        Arc::new(CsrInspector::new()),
        Arc::new(OsRandom::new()),
    );

    // 2. Catalog and an issuing point with a limit of 100.
    let mut product = Product::new("KEP", "Qualified signature");
    product.oids = OidSet {
        common: vec![Oid::parse("1.3.6.1.5.5.7.3.2")?],
        ..OidSet::default()
    };
    let product = engine.create_product(product).await?;
    let org = engine
        .create_organization(Organization::new("Agent LLC"))
        .await?;
    let point = engine
        .create_point(IssuingPoint::new(
            PointParent::Organization(org.id),
            "Front office",
            Email::parse("office@example.ru")?,
            Allotment::Finite(100),
        ))
        .await?;
    let mut service = Service::new("Issue a qualified certificate");
    service.products = vec![product.id];
    let service = engine.create_service(service).await?;

    // 3. An application; the applicant's key holder builds the CSR from the template.
    let actor = Actor::Admin("example".into());
    let app = engine
        .submit(
            NewApplication {
                service_id: service.id,
                point_id: point.id,
                products: vec![product.id],
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
            },
            actor.clone(),
        )
        .await?;
    let template = engine.request_template(app.id).await?;
    let key = SoftwareKey::generate(template.key_algorithm)?;
    let csr = build_request(&template, &key)?;
    engine.attach_csr(app.id, &csr, actor.clone()).await?;

    // 4. Issue: the point's limit is debited exactly once.
    let cert = engine.issue(app.id, actor).await?;
    println!("issued serial {} to {}", cert.serial, cert.subject);
    println!("{}", to_pem("CERTIFICATE", &cert.der));
    let point = engine.point(point.id).await?;
    println!(
        "point: issued {}, remaining {:?}",
        point.limit.issued,
        point.limit.remaining()
    );
    Ok(())
}
