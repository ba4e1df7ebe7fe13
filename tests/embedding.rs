//! Cross-crate end-to-end: the engine from `utrust-core` with the CA and request
//! handling of `utrust-pki`, on both stores, checked with OpenSSL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use time::OffsetDateTime;
use utrust::core::domain::agents::{IssuingPoint, Organization, PointParent};
use utrust::core::domain::application::{Account, Actor, Address, CertificateOwner};
use utrust::core::domain::catalog::{KeyAlgorithm, OidSet, Product, Service};
use utrust::core::domain::identifiers::{Email, Inn, InnLe, Kpp, Ogrn, Oid, Snils};
use utrust::core::domain::quota::Allotment;
use utrust::core::domain::request::{StringType, SubjectAttribute};
use utrust::core::ports::Store;
use utrust::core::store::{MemoryStore, SqliteStore};
use utrust::core::{Engine, NewApplication};
use utrust::pki::{CsrInspector, LocalCa, OsRandom, SoftwareKey, build_request, to_pem};

fn openssl_available() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("openssl is required under CI=true");
    }
    ok
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?} failed: {text}");
    text
}

fn new_ca() -> LocalCa {
    let subject = vec![SubjectAttribute {
        oid: Oid::parse("2.5.4.3").unwrap(),
        value: "Embedding test CA".into(),
        string_type: StringType::Utf8,
    }];
    LocalCa::generate(
        &subject,
        KeyAlgorithm::EcdsaP256,
        time::Duration::days(30),
        OffsetDateTime::now_utc() - time::Duration::minutes(1),
    )
    .unwrap()
}

/// Issues one legal-entity certificate and returns (CA PEM, certificate PEM).
async fn issue_legal_entity(store: Arc<dyn Store>, ca: LocalCa) -> (String, String) {
    let ca_pem = ca.certificate_pem();
    let engine = Engine::new(
        store,
        Arc::new(ca),
        Arc::new(CsrInspector::new()),
        Arc::new(OsRandom::new()),
    );
    let mut product = Product::new("KEP", "КЭП");
    product.oids = OidSet {
        common: vec![Oid::parse("1.3.6.1.5.5.7.3.2").unwrap()],
        legal_entity: vec![Oid::parse("1.2.643.100.2.2").unwrap()],
        ..OidSet::default()
    };
    let product = engine.create_product(product).await.unwrap();
    let org = engine
        .create_organization(Organization::new("Агент"))
        .await
        .unwrap();
    let point = engine
        .create_point(IssuingPoint::new(
            PointParent::Organization(org.id),
            "Точка",
            Email::parse("point@example.ru").unwrap(),
            Allotment::Finite(1),
        ))
        .await
        .unwrap();
    let mut service = Service::new("ЮЛ");
    service.products = vec![product.id];
    let service = engine.create_service(service).await.unwrap();
    let actor = Actor::Admin("test".into());
    let app = engine
        .submit(
            NewApplication {
                service_id: service.id,
                point_id: point.id,
                products: vec![product.id],
                account: Account::LegalEntity {
                    name: "ООО «Ромашка»".into(),
                    inn: InnLe::parse("7707083893").unwrap(),
                    kpp: Some(Kpp::parse("770701001").unwrap()),
                    ogrn: Ogrn::parse("1027700132195").unwrap(),
                },
                owner: CertificateOwner {
                    surname: "Сидорова".into(),
                    given_name: "Анна".into(),
                    patronymic: Some("Сергеевна".into()),
                    snils: Snils::parse("11223344595").unwrap(),
                    inn: Inn::parse("500100732259").unwrap(),
                    email: Email::parse("a@example.ru").unwrap(),
                    birth_date: None,
                    passport: None,
                    position: Some("Директор".into()),
                },
                address: Address::default(),
                renewal_notice: false,
            },
            actor.clone(),
        )
        .await
        .unwrap();
    let template = engine.request_template(app.id).await.unwrap();
    let key = SoftwareKey::generate(template.key_algorithm).unwrap();
    let csr = build_request(&template, &key).unwrap();
    engine
        .attach_csr(app.id, &csr, actor.clone())
        .await
        .unwrap();
    let cert = engine.issue(app.id, actor).await.unwrap();
    let point = engine.point(point.id).await.unwrap();
    assert_eq!((point.limit.issued, point.limit.remaining()), (1, Some(0)));
    (ca_pem, to_pem("CERTIFICATE", &cert.der))
}

fn check_with_openssl(dir: &Path, ca_pem: &str, cert_pem: &str) {
    let ca = dir.join("ca.pem");
    let cert = dir.join("cert.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    std::fs::write(&cert, cert_pem).unwrap();
    let (ca, cert) = (ca.to_str().unwrap(), cert.to_str().unwrap());
    assert!(openssl(&["verify", "-CAfile", ca, cert]).contains(": OK"));
    let subject = openssl(&["x509", "-in", cert, "-noout", "-subject", "-nameopt", "oid"]);
    for expected in [
        "1.2.643.100.1=1027700132195",
        "1.2.643.100.4=7707083893",
        "1.2.643.100.3=11223344595",
        "1.2.643.3.131.1.1=500100732259",
    ] {
        assert!(
            subject.contains(expected),
            "{expected} missing in {subject}"
        );
    }
    let text = openssl(&["x509", "-in", cert, "-noout", "-text"]);
    assert!(
        text.contains("1.2.643.100.2.2"),
        "EKU from the legal-entity OID set: {text}"
    );
    // OpenSSL names 1.2.643.100.113.1 "Class of Signing Tool KC1".
    assert!(
        text.contains("1.2.643.100.113.1") || text.contains("Signing Tool KC1"),
        "crypto class policy: {text}"
    );
}

#[tokio::test]
async fn memory_store_and_local_ca() {
    if !openssl_available() {
        eprintln!("SKIPPED: openssl not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert) = issue_legal_entity(Arc::new(MemoryStore::new()), new_ca()).await;
    check_with_openssl(dir.path(), &ca, &cert);
}

#[tokio::test]
async fn sqlite_store_and_reloaded_ca() {
    if !openssl_available() {
        eprintln!("SKIPPED: openssl not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A CA saved and reloaded issues under the same certificate.
    let original = new_ca();
    let reloaded = LocalCa::from_parts(
        original.key_pkcs8_pem().unwrap().as_bytes(),
        original.certificate_pem().as_bytes(),
    )
    .unwrap();
    let store = SqliteStore::open(&dir.path().join("utrust.db"))
        .await
        .unwrap();
    let (_, cert) = issue_legal_entity(Arc::new(store), reloaded).await;
    check_with_openssl(dir.path(), &original.certificate_pem(), &cert);
}
