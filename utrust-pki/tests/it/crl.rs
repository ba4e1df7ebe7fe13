//! CRLs of the local CA: OpenSSL verifies them and honours them in path
//! validation; Python `cryptography` parses them and checks the signature.

use std::path::Path;

use der::{Decode, Encode};
use time::{Duration, OffsetDateTime};
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::certificate::{IssuedCertificate, SerialNumber};
use utrust_core::domain::request::{StringType, SubjectAttribute};
use utrust_core::ports::{CaError, CertificateAuthority, CrlEntry, CrlRequest, IssueRequest};
use utrust_pki::{LocalCa, PkiError, SoftwareKey, build_request, to_pem};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::time::Time;

use utrust_core::domain::revocation::RevocationReason;

use crate::support::{
    attr, have_openssl, have_python_cryptography, openssl, openssl_ok, person_template, python_ok,
};

const ALGORITHMS: [KeyAlgorithm; 3] = [
    KeyAlgorithm::EcdsaP256,
    KeyAlgorithm::EcdsaP384,
    KeyAlgorithm::Ed25519,
];

fn ca_subject() -> Vec<SubjectAttribute> {
    vec![
        attr("2.5.4.6", "RU", StringType::Printable),
        attr("2.5.4.10", "ООО «Тестовый УЦ»", StringType::Utf8),
        attr("2.5.4.3", "Тестовый УЦ utrust CRL", StringType::Utf8),
        attr("1.2.643.100.1", "1027700132195", StringType::Numeric),
    ]
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
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

fn issue(ca: &LocalCa) -> IssuedCertificate {
    let template = person_template(KeyAlgorithm::EcdsaP256);
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    ca.issue_certificate(&IssueRequest {
        csr_der: build_request(&template, &key).unwrap(),
        subject: template.subject.clone(),
        extensions: template.extensions.clone(),
        not_before: now() - Duration::minutes(5),
        not_after: now() + Duration::days(365),
    })
    .unwrap()
}

fn entry(serial: &SerialNumber, reason: RevocationReason, ago: Duration) -> CrlEntry {
    CrlEntry {
        serial: serial.clone(),
        revoked_at: now() - ago,
        reason,
    }
}

fn crl_request(number: u64, entries: Vec<CrlEntry>) -> CrlRequest {
    CrlRequest {
        number,
        this_update: now() - Duration::minutes(1),
        next_update: now() + Duration::days(7),
        entries,
    }
}

fn write(dir: &Path, name: &str, label: &str, der: &[u8]) {
    std::fs::write(dir.join(name), to_pem(label, der)).unwrap();
}

/// `openssl verify -crl_check` of `name`: (exit success, output).
fn verify_with_crl(dir: &Path, name: &str) -> (bool, String) {
    let out = openssl(
        dir,
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "ca.pem",
            "-CRLfile",
            "crl.pem",
            name,
        ],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn openssl_verifies_the_crl_and_honours_it() {
    if !have_openssl() {
        return;
    }
    for alg in ALGORITHMS {
        let ca = new_ca(alg);
        let [compromised, held, good] = [issue(&ca), issue(&ca), issue(&ca)];
        let superseded = SerialNumber::parse("01").unwrap();
        let crl = ca
            .sign_crl(crl_request(
                42,
                vec![
                    entry(
                        &compromised.serial,
                        RevocationReason::KeyCompromise,
                        Duration::hours(2),
                    ),
                    entry(
                        &held.serial,
                        RevocationReason::CertificateHold,
                        Duration::minutes(30),
                    ),
                    entry(&superseded, RevocationReason::Superseded, Duration::days(1)),
                ],
            ))
            .await
            .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("ca.pem"), ca.certificate_pem()).unwrap();
        write(d, "crl.pem", "X509 CRL", &crl);
        write(d, "compromised.pem", "CERTIFICATE", &compromised.der);
        write(d, "held.pem", "CERTIFICATE", &held.der);
        write(d, "good.pem", "CERTIFICATE", &good.der);

        let out = openssl_ok(
            d,
            &[
                "crl", "-in", "crl.pem", "-CAfile", "ca.pem", "-verify", "-noout",
            ],
        );
        assert!(out.contains("verify OK"), "{alg:?}: {out}");

        let text = openssl_ok(d, &["crl", "-in", "crl.pem", "-noout", "-text"]);
        for needle in [
            "Version 2 (0x1)",
            "X509v3 CRL Number:",
            "X509v3 Authority Key Identifier:",
            "Key Compromise",
            "Certificate Hold",
            "Superseded",
        ] {
            assert!(text.contains(needle), "{alg:?}: no {needle:?} in\n{text}");
        }
        let number_line = text
            .lines()
            .skip_while(|l| !l.contains("X509v3 CRL Number:"))
            .nth(1)
            .unwrap();
        assert_eq!(number_line.trim(), "42", "{text}");
        // Every entry has its reason, hold included: three reasonCode extensions.
        assert_eq!(text.matches("X509v3 CRL Reason Code:").count(), 3, "{text}");
        // Sorted by serial: the one-octet serial 01 comes first.
        let serials: Vec<String> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Serial Number: "))
            .map(str::to_ascii_lowercase)
            .collect();
        let mut sorted = vec![
            compromised.serial.as_str().to_owned(),
            held.serial.as_str().to_owned(),
        ];
        sorted.sort();
        sorted.insert(0, "01".to_owned());
        assert_eq!(serials, sorted, "{text}");

        let (ok, out) = verify_with_crl(d, "compromised.pem");
        assert!(!ok, "{alg:?}: compromised certificate verified:\n{out}");
        assert!(out.contains("certificate revoked"), "{alg:?}: {out}");

        let (ok, out) = verify_with_crl(d, "held.pem");
        assert!(!ok, "{alg:?}: held certificate verified:\n{out}");
        assert!(out.contains("revoked"), "{alg:?}: {out}");

        let (ok, out) = verify_with_crl(d, "good.pem");
        assert!(ok, "{alg:?}: unlisted certificate refused:\n{out}");
        assert!(out.contains("good.pem: OK"), "{alg:?}: {out}");
    }
}

#[test]
fn issuer_is_the_ca_subject_and_the_structure_is_rfc5280() {
    let ca = new_ca(KeyAlgorithm::EcdsaP256);
    let cert = issue(&ca);
    let ca_cert = Certificate::from_der(ca.certificate_der()).unwrap();

    let der = ca
        .build_crl(&crl_request(
            7,
            vec![entry(
                &cert.serial,
                RevocationReason::CertificateHold,
                Duration::ZERO,
            )],
        ))
        .unwrap();
    let crl = <CertificateList>::from_der(&der).unwrap();
    let tbs = &crl.tbs_cert_list;
    assert_eq!(
        tbs.issuer.to_der().unwrap(),
        ca_cert.tbs_certificate().subject().to_der().unwrap()
    );
    assert_eq!(tbs.version, x509_cert::Version::V2);
    assert_eq!(tbs.signature, crl.signature_algorithm);
    assert_eq!(&tbs.signature, ca_cert.signature_algorithm());
    assert!(matches!(tbs.this_update, Time::UtcTime(_)));
    let revoked = tbs.revoked_certificates.as_ref().unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].serial_number.as_bytes(), cert.serial.to_bytes());
    let entry_ext = revoked[0].crl_entry_extensions.as_ref().unwrap();
    assert_eq!(entry_ext.len(), 1);
    assert_eq!(entry_ext[0].extn_id.to_string(), "2.5.29.21");
    assert!(!entry_ext[0].critical);
    assert_eq!(entry_ext[0].extn_value.as_bytes(), [0x0a, 0x01, 0x06]);
    let exts = tbs.crl_extensions.as_ref().unwrap();
    assert_eq!(exts[0].extn_id.to_string(), "2.5.29.20");
    assert!(!exts[0].critical);
    assert_eq!(exts[0].extn_value.as_bytes(), [0x02, 0x01, 0x07]);
    assert_eq!(exts[1].extn_id.to_string(), "2.5.29.35");

    // Empty: the revokedCertificates field is absent, not an empty SEQUENCE.
    let empty = ca.build_crl(&crl_request(8, Vec::new())).unwrap();
    let parsed = <CertificateList>::from_der(&empty).unwrap();
    assert!(parsed.tbs_cert_list.revoked_certificates.is_none());

    // From 2050 on the times are GeneralizedTime.
    let late = ca
        .build_crl(&CrlRequest {
            number: 9,
            this_update: now(),
            next_update: OffsetDateTime::from_unix_timestamp(2_556_144_000).unwrap(), // 2051-01-01
            entries: Vec::new(),
        })
        .unwrap();
    let parsed = <CertificateList>::from_der(&late).unwrap();
    assert!(matches!(parsed.tbs_cert_list.this_update, Time::UtcTime(_)));
    assert!(matches!(
        parsed.tbs_cert_list.next_update,
        Some(Time::GeneralTime(_))
    ));
}

#[tokio::test]
async fn empty_crls_verify_and_numbers_appear_as_given() {
    if !have_openssl() {
        return;
    }
    let ca = new_ca(KeyAlgorithm::EcdsaP256);
    let good = issue(&ca);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ca.pem"), ca.certificate_pem()).unwrap();
    write(d, "good.pem", "CERTIFICATE", &good.der);
    for (number, shown) in [
        (0u64, "0"),
        (1, "1"),
        (1000, "1000"),
        (u64::from(u32::MAX) + 1, "4294967296"),
        (u64::MAX, "18446744073709551615"),
    ] {
        let crl = ca.sign_crl(crl_request(number, Vec::new())).await.unwrap();
        write(d, "crl.pem", "X509 CRL", &crl);
        let out = openssl_ok(
            d,
            &[
                "crl", "-in", "crl.pem", "-CAfile", "ca.pem", "-verify", "-noout",
            ],
        );
        assert!(out.contains("verify OK"), "{out}");
        let text = openssl_ok(d, &["crl", "-in", "crl.pem", "-noout", "-text"]);
        assert!(text.contains("No Revoked Certificates."), "{text}");
        let number_line = text
            .lines()
            .skip_while(|l| !l.contains("X509v3 CRL Number:"))
            .nth(1)
            .unwrap();
        assert_eq!(number_line.trim(), shown, "{text}");
        let (ok, out) = verify_with_crl(d, "good.pem");
        assert!(ok && out.contains("good.pem: OK"), "{out}");
    }
}

const PY_CHECK: &str = r#"
import sys, json
from cryptography import x509
crl = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
ca = x509.load_der_x509_certificate(open(sys.argv[2], "rb").read())
aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
number = crl.extensions.get_extension_for_class(x509.CRLNumber)
entries = []
for r in crl:
    reason = r.extensions.get_extension_for_class(x509.CRLReason)
    entries.append({
        "serial": format(r.serial_number, "x"),
        "reason": reason.value.reason.value,
        "date": int(r.revocation_date_utc.timestamp()),
    })
print(json.dumps({
    "valid": crl.is_signature_valid(ca.public_key()),
    "issuer_matches": crl.issuer == ca.subject
        and crl.issuer.public_bytes() == ca.subject.public_bytes(),
    "aki_is_ski": aki.value.key_identifier == ski.value.digest and not aki.critical,
    "number": str(number.value.crl_number),
    "number_critical": number.critical,
    "this_update": int(crl.last_update_utc.timestamp()),
    "next_update": int(crl.next_update_utc.timestamp()),
    "entries": entries,
}, sort_keys=True))
"#;

fn hex_value(serial: &SerialNumber) -> String {
    serial.as_str().trim_start_matches('0').to_owned()
}

#[test]
fn python_cryptography_parses_and_verifies_the_crl() {
    if !have_python_cryptography() {
        return;
    }
    for alg in ALGORITHMS {
        let ca = new_ca(alg);
        let a = issue(&ca);
        let b = issue(&ca);
        let small = SerialNumber::parse("00ff").unwrap();
        for (number, entries) in [
            (u64::MAX, Vec::new()),
            (
                3,
                vec![
                    entry(
                        &b.serial,
                        RevocationReason::CertificateHold,
                        Duration::minutes(1),
                    ),
                    entry(
                        &a.serial,
                        RevocationReason::KeyCompromise,
                        Duration::hours(5),
                    ),
                    entry(&small, RevocationReason::Superseded, Duration::days(40)),
                ],
            ),
        ] {
            let request = crl_request(number, entries);
            let der = ca.build_crl(&request).unwrap();
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("crl.der"), &der).unwrap();
            std::fs::write(dir.path().join("ca.der"), ca.certificate_der()).unwrap();
            let out = python_ok(dir.path(), PY_CHECK, &["crl.der", "ca.der"]);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["valid"], true, "{alg:?}: {out}");
            assert_eq!(v["issuer_matches"], true, "{out}");
            assert_eq!(v["aki_is_ski"], true, "{out}");
            assert_eq!(v["number"], number.to_string(), "{out}");
            assert_eq!(v["number_critical"], false, "{out}");
            assert_eq!(v["this_update"], request.this_update.unix_timestamp());
            assert_eq!(v["next_update"], request.next_update.unix_timestamp());
            let mut expected: Vec<&CrlEntry> = request.entries.iter().collect();
            expected.sort_by_key(|e| {
                let b = e.serial.to_bytes();
                (b.len(), b)
            });
            let expected: Vec<serde_json::Value> = expected
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "date": e.revoked_at.unix_timestamp(),
                        "reason": e.reason.as_str(),
                        "serial": hex_value(&e.serial),
                    })
                })
                .collect();
            assert_eq!(
                v["entries"],
                serde_json::Value::from(expected),
                "{alg:?}: {out}"
            );

            // A CRL signed by another CA does not verify with this one's key.
            let other = new_ca(alg);
            std::fs::write(dir.path().join("ca.der"), other.certificate_der()).unwrap();
            let out = python_ok(dir.path(), PY_CHECK, &["crl.der", "ca.der"]);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["valid"], false, "{out}");
        }
    }
}

#[tokio::test]
async fn bad_crl_requests_are_refused() {
    let ca = new_ca(KeyAlgorithm::EcdsaP256);
    let s = SerialNumber::parse("0a").unwrap();

    let remove = crl_request(
        1,
        vec![entry(&s, RevocationReason::RemoveFromCrl, Duration::ZERO)],
    );
    assert!(matches!(
        ca.build_crl(&remove),
        Err(PkiError::InvalidValue { .. })
    ));
    assert!(matches!(
        ca.sign_crl(remove).await,
        Err(CaError::Refused(_))
    ));

    let twice = crl_request(
        1,
        vec![
            entry(&s, RevocationReason::KeyCompromise, Duration::ZERO),
            entry(&s, RevocationReason::CertificateHold, Duration::ZERO),
        ],
    );
    assert!(matches!(
        ca.build_crl(&twice),
        Err(PkiError::InvalidValue { .. })
    ));

    let mut backwards = crl_request(1, Vec::new());
    backwards.next_update = backwards.this_update;
    assert!(matches!(
        ca.sign_crl(backwards).await,
        Err(CaError::Refused(_))
    ));
}
