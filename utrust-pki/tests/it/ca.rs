//! The local CA: certificates OpenSSL accepts, for our requests and OpenSSL's.

use std::path::Path;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::certificate::IssuedCertificate;
use utrust_core::domain::request::{RequestTemplate, StringType, SubjectAttribute};
use utrust_core::ports::{CaError, CertificateAuthority, IssueRequest, RequestInspector};
use utrust_pki::{CsrInspector, LocalCa, PkiError, SoftwareKey, build_request, to_pem};

use crate::inspect::openssl_request;
use crate::support::{attr, have_openssl, openssl_ok, person_template};

fn ca_subject() -> Vec<SubjectAttribute> {
    vec![
        attr("2.5.4.6", "RU", StringType::Printable),
        attr("2.5.4.10", "ООО «Тестовый УЦ»", StringType::Utf8),
        attr("2.5.4.3", "Тестовый УЦ utrust", StringType::Utf8),
        attr("1.2.643.100.1", "1027700132195", StringType::Numeric),
        attr("1.2.643.100.4", "7707083893", StringType::Numeric),
    ]
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn new_ca(alg: KeyAlgorithm) -> LocalCa {
    LocalCa::generate(
        &ca_subject(),
        alg,
        Duration::days(3650),
        now() - Duration::hours(1),
    )
    .unwrap()
}

fn issue_request(csr_der: Vec<u8>, template: &RequestTemplate) -> IssueRequest {
    IssueRequest {
        csr_der,
        subject: template.subject.clone(),
        extensions: template.extensions.clone(),
        not_before: now() - Duration::minutes(5),
        not_after: now() + Duration::days(365),
    }
}

fn write_pair(dir: &Path, ca: &LocalCa, cert: &IssuedCertificate) {
    std::fs::write(dir.join("ca.pem"), ca.certificate_pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), to_pem("CERTIFICATE", &cert.der)).unwrap();
}

#[tokio::test]
async fn openssl_verifies_issued_certificates() {
    if !have_openssl() {
        return;
    }
    for ca_alg in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
    ] {
        let ca = new_ca(ca_alg);
        let template = person_template(KeyAlgorithm::EcdsaP256);
        let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let csr = build_request(&template, &key).unwrap();
        let inspected = CsrInspector::new().inspect(&csr).unwrap();
        template_fits(&template, &inspected);
        let cert = ca
            .issue(issue_request(inspected.der, &template))
            .await
            .unwrap();

        let dir = tempfile::tempdir().unwrap();
        write_pair(dir.path(), &ca, &cert);
        let out = openssl_ok(dir.path(), &["verify", "-CAfile", "ca.pem", "cert.pem"]);
        assert!(out.contains("cert.pem: OK"), "{ca_alg:?}: {out}");

        let subject = openssl_ok(
            dir.path(),
            &[
                "x509", "-noout", "-subject", "-nameopt", "oid", "-in", "cert.pem",
            ],
        );
        assert!(
            subject.contains("1.2.643.3.131.1.1=500100732259"),
            "{subject}"
        );
        assert!(subject.contains("1.2.643.100.3=11223344595"), "{subject}");

        let serial = openssl_ok(
            dir.path(),
            &["x509", "-noout", "-serial", "-in", "cert.pem"],
        );
        assert_eq!(
            serial.trim().to_ascii_lowercase(),
            format!("serial={}", cert.serial.as_str())
        );
        assert_eq!(cert.serial.as_str().len(), 32);

        let text = openssl_ok(
            dir.path(),
            &[
                "x509",
                "-noout",
                "-text",
                "-nameopt",
                "oneline,-esc_msb",
                "-in",
                "cert.pem",
            ],
        );
        for needle in [
            "X509v3 Basic Constraints: critical",
            "CA:FALSE",
            "X509v3 Key Usage: critical",
            "Digital Signature, Non Repudiation",
            "TLS Web Client Authentication, 1.2.643.2.2.34.6",
            "X509v3 Subject Key Identifier",
            "X509v3 Authority Key Identifier",
            "Иванов Иван Иванович",
            "Тестовый УЦ utrust",
        ] {
            assert!(text.contains(needle), "{needle} missing:\n{text}");
        }

        let asn1 = openssl_ok(dir.path(), &["asn1parse", "-in", "cert.pem"]);
        assert_eq!(
            crate::request::value_type(&asn1, "500100732259").as_deref(),
            Some("NUMERICSTRING"),
            "{asn1}"
        );
        let ca_text = openssl_ok(dir.path(), &["x509", "-noout", "-text", "-in", "ca.pem"]);
        assert!(ca_text.contains("CA:TRUE"), "{ca_text}");
        assert!(ca_text.contains("Certificate Sign, CRL Sign"), "{ca_text}");
    }
}

fn template_fits(
    template: &RequestTemplate,
    inspected: &utrust_core::domain::request::InspectedRequest,
) {
    assert_eq!(template.check(inspected), Ok(()));
}

#[tokio::test]
async fn issues_for_an_openssl_request() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pem = openssl_request(
        dir.path(),
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let inspected = CsrInspector::new().inspect(pem.as_bytes()).unwrap();
    let ca = new_ca(KeyAlgorithm::EcdsaP256);
    let template = RequestTemplate {
        key_algorithm: inspected.key_algorithm,
        subject: inspected.subject.clone(),
        extensions: inspected.extensions.clone(),
    };
    let cert = ca
        .issue(issue_request(inspected.der, &template))
        .await
        .unwrap();
    write_pair(dir.path(), &ca, &cert);
    openssl_ok(dir.path(), &["verify", "-CAfile", "ca.pem", "cert.pem"]);
    // The certificate certifies the key OpenSSL generated.
    let from_cert = openssl_ok(
        dir.path(),
        &["x509", "-noout", "-pubkey", "-in", "cert.pem"],
    );
    let from_key = openssl_ok(dir.path(), &["pkey", "-pubout", "-in", "key.pem"]);
    assert_eq!(from_cert, from_key);
}

#[tokio::test]
async fn reloaded_ca_keeps_issuing_under_the_same_certificate() {
    if !have_openssl() {
        return;
    }
    let ca = new_ca(KeyAlgorithm::EcdsaP256);
    let key_pem = ca.key_pkcs8_pem().unwrap();
    let reloaded =
        LocalCa::from_parts(key_pem.as_bytes(), ca.certificate_pem().as_bytes()).unwrap();
    assert_eq!(reloaded.certificate_der(), ca.certificate_der());
    assert_eq!(reloaded.ca_certificate_der(), ca.certificate_der());
    let reloaded_der =
        LocalCa::from_parts(ca.key_pkcs8_der().unwrap(), ca.certificate_der()).unwrap();

    let template = person_template(KeyAlgorithm::Ed25519);
    let key = SoftwareKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let csr = build_request(&template, &key).unwrap();
    let cert = reloaded_der
        .issue(issue_request(csr, &template))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_pair(dir.path(), &ca, &cert);
    openssl_ok(dir.path(), &["verify", "-CAfile", "ca.pem", "cert.pem"]);
    // OpenSSL reads the exported CA key.
    std::fs::write(dir.path().join("cakey.pem"), key_pem).unwrap();
    openssl_ok(
        dir.path(),
        &["pkey", "-check", "-noout", "-in", "cakey.pem"],
    );
}

#[test]
fn ca_key_must_match_its_certificate() {
    let ca = new_ca(KeyAlgorithm::EcdsaP256);
    let other = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let err = LocalCa::from_parts(other.to_pkcs8_der(), ca.certificate_der()).unwrap_err();
    assert_eq!(err, PkiError::KeyMismatch);
}

#[tokio::test]
async fn forged_or_inconsistent_requests_are_refused() {
    let ca = new_ca(KeyAlgorithm::EcdsaP256);
    let template = person_template(KeyAlgorithm::EcdsaP256);
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let mut csr = build_request(&template, &key).unwrap();
    let last = csr.len() - 1;
    csr[last] ^= 1;
    let err = ca.issue(issue_request(csr, &template)).await.unwrap_err();
    assert!(matches!(err, CaError::Refused(_)), "{err}");

    let csr = build_request(&template, &key).unwrap();
    let mut req = issue_request(csr, &template);
    req.not_after = req.not_before;
    assert!(matches!(ca.issue(req).await, Err(CaError::Refused(_))));
}

#[test]
fn local_ca_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LocalCa>();
    let ca: Arc<dyn CertificateAuthority> = Arc::new(new_ca(KeyAlgorithm::Ed25519));
    assert!(!ca.ca_certificate_der().is_empty());
}

#[test]
fn serials_are_positive_and_distinct() {
    let ca = new_ca(KeyAlgorithm::EcdsaP256);
    let template = person_template(KeyAlgorithm::EcdsaP256);
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let csr = build_request(&template, &key).unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let cert = ca
            .issue_certificate(&issue_request(csr.clone(), &template))
            .unwrap();
        let bytes = cert.serial.to_bytes();
        assert_eq!(bytes.len(), 16);
        assert!(bytes[0] != 0 && bytes[0] < 0x80);
        assert!(seen.insert(cert.serial));
    }
}
