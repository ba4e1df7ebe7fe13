//! Inspecting received requests: foreign (OpenSSL) requests accepted, damaged ones
//! rejected with the right reason.

use std::path::Path;

use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::request::{KeyUsage, StringType};
use utrust_core::ports::{CsrRejection, RequestInspector};
use utrust_pki::{
    CsrInspector, MAX_REQUEST_BYTES, PkiError, SoftwareKey, build_request, key_algorithm_of_spki,
    to_pem, verify_signature,
};

use crate::support::{attr, have_openssl, oid, openssl_ok, person_template};

fn our_request() -> Vec<u8> {
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    build_request(&person_template(KeyAlgorithm::EcdsaP256), &key).unwrap()
}

fn rejection(input: &[u8]) -> CsrRejection {
    CsrInspector::new().inspect(input).unwrap_err()
}

/// A request made by OpenSSL with `-newkey ALG`, returned as PEM.
pub fn openssl_request(dir: &Path, newkey: &[&str]) -> String {
    let mut args = vec![
        "req", "-new", "-nodes", "-keyout", "key.pem", "-out", "req.pem",
    ];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&[
        "-utf8",
        "-subj",
        "/C=RU/CN=Петров Пётр/SN=Петров/GN=Пётр/emailAddress=petrov@example.ru",
        "-addext",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "-addext",
        "extendedKeyUsage=clientAuth,1.2.643.2.2.34.6",
    ]);
    openssl_ok(dir, &args);
    std::fs::read_to_string(dir.join("req.pem")).unwrap()
}

#[test]
fn accepts_an_openssl_p256_request() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pem = openssl_request(
        dir.path(),
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let got = CsrInspector::new().inspect(pem.as_bytes()).unwrap();
    assert_eq!(got.key_algorithm, KeyAlgorithm::EcdsaP256);
    assert_eq!(got.subject[0], attr("2.5.4.6", "RU", StringType::Printable));
    assert_eq!(
        got.subject[1],
        attr("2.5.4.3", "Петров Пётр", StringType::Utf8)
    );
    assert_eq!(got.subject[4].string_type, StringType::Ia5);
    assert_eq!(
        got.extensions.key_usage,
        [KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment]
    );
    assert_eq!(
        got.extensions.extended_key_usage,
        [oid("1.3.6.1.5.5.7.3.2"), oid("1.2.643.2.2.34.6")]
    );
}

#[test]
fn accepts_openssl_ed25519_p384_and_rsa_requests() {
    if !have_openssl() {
        return;
    }
    for (newkey, want) in [
        (&["-newkey", "ed25519"][..], KeyAlgorithm::Ed25519),
        (
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"][..],
            KeyAlgorithm::EcdsaP384,
        ),
        (
            &["-newkey", "rsa:2048", "-sha256"][..],
            KeyAlgorithm::Rsa2048,
        ),
        (
            &["-newkey", "rsa:2048", "-sha512"][..],
            KeyAlgorithm::Rsa2048,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let pem = openssl_request(dir.path(), newkey);
        let got = CsrInspector::new().inspect(pem.as_bytes());
        assert_eq!(got.map(|r| r.key_algorithm), Ok(want), "{newkey:?}");
    }
}

#[test]
fn rsa_1024_is_a_weak_key() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pem = openssl_request(dir.path(), &["-newkey", "rsa:1024"]);
    assert!(matches!(
        rejection(pem.as_bytes()),
        CsrRejection::WeakKey(_)
    ));
}

#[test]
fn legacy_pem_label_and_der_are_accepted() {
    let der = our_request();
    let legacy = to_pem("NEW CERTIFICATE REQUEST", &der);
    assert!(CsrInspector::new().inspect(legacy.as_bytes()).is_ok());
    assert!(CsrInspector::new().inspect(&der).is_ok());
    let wrong = to_pem("CERTIFICATE", &der);
    assert!(matches!(
        rejection(wrong.as_bytes()),
        CsrRejection::Malformed(_)
    ));
}

#[test]
fn flipped_signature_byte_is_a_bad_signature() {
    let mut der = our_request();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    assert_eq!(rejection(&der), CsrRejection::BadSignature);
}

#[test]
fn changed_subject_is_a_bad_signature() {
    let mut der = our_request();
    let at = der.windows(12).position(|w| w == b"500100732259").unwrap();
    der[at] = b'6';
    assert_eq!(rejection(&der), CsrRejection::BadSignature);
}

#[test]
fn truncated_der_is_malformed() {
    let der = our_request();
    for cut in [1, 10, der.len() / 2, der.len() - 1] {
        assert!(
            matches!(rejection(&der[..cut]), CsrRejection::Malformed(_)),
            "cut at {cut}"
        );
    }
}

#[test]
fn trailing_garbage_is_malformed() {
    let mut der = our_request();
    der.extend_from_slice(&[0x00, 0x00]);
    assert!(matches!(rejection(&der), CsrRejection::Malformed(_)));
    let mut der = our_request();
    der.extend_from_slice(&[0x30, 0x00]);
    assert!(matches!(rejection(&der), CsrRejection::Malformed(_)));
}

#[test]
fn garbage_and_oversize_inputs_are_malformed() {
    assert!(matches!(rejection(b""), CsrRejection::Malformed(_)));
    assert!(matches!(rejection(b"hello"), CsrRejection::Malformed(_)));
    assert!(matches!(
        rejection(b"-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n"),
        CsrRejection::Malformed(_)
    ));
    let big = vec![0x30; MAX_REQUEST_BYTES + 1];
    assert!(matches!(rejection(&big), CsrRejection::Malformed(_)));
}

/// A GOST R 34.10-2012 256-bit SPKI (param set XchA), as in russian-pki.md.
fn gost_spki() -> Vec<u8> {
    let mut spki = vec![
        0x30, 0x66, 0x30, 0x1F, 0x06, 0x08, 0x2A, 0x85, 0x03, 0x07, 0x01, 0x01, 0x01, 0x01, 0x30,
        0x13, 0x06, 0x07, 0x2A, 0x85, 0x03, 0x02, 0x02, 0x24, 0x00, 0x06, 0x08, 0x2A, 0x85, 0x03,
        0x07, 0x01, 0x01, 0x02, 0x02, 0x03, 0x43, 0x00, 0x04, 0x40,
    ];
    spki.extend_from_slice(&[0x11; 64]);
    spki
}

#[test]
fn gost_keys_are_recognised_but_not_verifiable() {
    let spki = gost_spki();
    assert_eq!(key_algorithm_of_spki(&spki), Ok(KeyAlgorithm::Gost2012_256));
    let sig_alg = der::asn1::ObjectIdentifier::new_unwrap("1.2.643.7.1.1.3.2");
    let err = verify_signature(&spki, &sig_alg, b"msg", &[0; 64]).unwrap_err();
    assert!(matches!(err, PkiError::UnsupportedAlgorithm(_)), "{err}");
}

#[test]
fn signature_algorithm_must_fit_the_key() {
    let key = SoftwareKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let spki = utrust_pki::Signer::public_key_spki_der(&key);
    let ecdsa = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    let sig = utrust_pki::Signer::sign(&key, b"m").unwrap();
    assert!(matches!(
        verify_signature(&spki, &ecdsa, b"m", &sig),
        Err(PkiError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn crlf_pem_with_surrounding_whitespace_is_accepted() {
    let pem = to_pem("CERTIFICATE REQUEST", &our_request()).replace('\n', "\r\n");
    let padded = format!("\r\n  {pem}\r\n");
    let got = CsrInspector::new().inspect(padded.as_bytes());
    assert!(got.is_ok(), "{got:?}");
}
