//! Building requests: round trip through our inspector and through OpenSSL.

use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::request::StringType;
use utrust_pki::{CsrInspector, PkiError, SoftwareKey, build_request, to_pem};

use crate::support::{attr, have_openssl, openssl_ok, person_template};

const ALGORITHMS: [KeyAlgorithm; 3] = [
    KeyAlgorithm::EcdsaP256,
    KeyAlgorithm::EcdsaP384,
    KeyAlgorithm::Ed25519,
];

#[test]
fn round_trip_through_our_inspector() {
    for alg in ALGORITHMS {
        let template = person_template(alg);
        let key = SoftwareKey::generate(alg).unwrap();
        let der = build_request(&template, &key).unwrap();
        let got = CsrInspector::new().inspect_request(&der).unwrap();
        assert_eq!(got.key_algorithm, alg);
        assert_eq!(got.subject, template.subject, "{alg:?}");
        assert_eq!(got.extensions, template.extensions, "{alg:?}");
        assert_eq!(got.der, der);
    }
}

#[test]
fn openssl_verifies_our_requests_and_sees_the_string_types() {
    if !have_openssl() {
        return;
    }
    for alg in ALGORITHMS {
        let dir = tempfile::tempdir().unwrap();
        let key = SoftwareKey::generate(alg).unwrap();
        let der = build_request(&person_template(alg), &key).unwrap();
        std::fs::write(
            dir.path().join("req.pem"),
            to_pem("CERTIFICATE REQUEST", &der),
        )
        .unwrap();

        let out = openssl_ok(dir.path(), &["req", "-verify", "-noout", "-in", "req.pem"]);
        assert!(
            out.contains("verify OK")
                || out.contains("Certificate request self-signature verify OK"),
            "{out}"
        );

        let asn1 = openssl_ok(dir.path(), &["asn1parse", "-in", "req.pem"]);
        // Each value's line names its ASN.1 type.
        for (value, ty) in [
            ("500100732259", "NUMERICSTRING"),
            ("11223344595", "NUMERICSTRING"),
            ("1027700132195", "NUMERICSTRING"),
            ("RU", "PRINTABLESTRING"),
            ("ivanov@example.ru", "IA5STRING"),
            ("Иванов", "UTF8STRING"),
        ] {
            assert_eq!(
                value_type(&asn1, value).as_deref(),
                Some(ty),
                "{value} in\n{asn1}"
            );
        }

        let text = openssl_ok(
            dir.path(),
            &[
                "req",
                "-noout",
                "-text",
                "-nameopt",
                "oneline,-esc_msb",
                "-in",
                "req.pem",
            ],
        );
        assert!(text.contains("Иванов Иван Иванович"), "{text}");
        assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
        assert!(
            text.contains("Digital Signature, Non Repudiation"),
            "{text}"
        );
        assert!(text.contains("TLS Web Client Authentication"), "{text}");
        assert!(text.contains("1.2.643.2.2.34.6"), "{text}");
        // OpenSSL 3 names this OID ("Class of Signing Tool KC1"); older ones print it.
        assert!(
            text.contains("Policy: Class of Signing Tool KC1")
                || text.contains("Policy: 1.2.643.100.113.1"),
            "{text}"
        );
    }
}

#[test]
fn numeric_string_with_letters_is_refused() {
    let mut template = person_template(KeyAlgorithm::EcdsaP256);
    template
        .subject
        .push(attr("1.2.643.100.4", "77O7083893", StringType::Numeric));
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let err = build_request(&template, &key).unwrap_err();
    assert!(
        matches!(err, PkiError::InvalidValue { ref what, .. } if what == "1.2.643.100.4"),
        "{err}"
    );
}

#[test]
fn cyrillic_in_printable_string_is_refused() {
    let mut template = person_template(KeyAlgorithm::EcdsaP256);
    template.subject[0] = attr("2.5.4.6", "РФ", StringType::Printable);
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    assert!(matches!(
        build_request(&template, &key),
        Err(PkiError::InvalidValue { .. })
    ));
}

#[test]
fn signer_must_match_the_template_algorithm() {
    let template = person_template(KeyAlgorithm::EcdsaP384);
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    assert!(matches!(
        build_request(&template, &key),
        Err(PkiError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn no_extensions_means_no_extension_request() {
    let mut template = person_template(KeyAlgorithm::Ed25519);
    template.extensions = Default::default();
    let key = SoftwareKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let der = build_request(&template, &key).unwrap();
    // 1.2.840.113549.1.9.14 in DER
    let ext_req = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e];
    assert!(!der.windows(ext_req.len()).any(|w| w == ext_req));
    let got = CsrInspector::new().inspect_request(&der).unwrap();
    assert_eq!(got.extensions, Default::default());
}

/// The ASN.1 type `openssl asn1parse` prints for the primitive whose value is `value`.
pub fn value_type(asn1: &str, value: &str) -> Option<String> {
    asn1.lines().find_map(|l| {
        let (head, v) = l.split_once("prim: ")?.1.split_once(':')?;
        (v == value || v.starts_with(value) && !value.is_ascii()).then(|| head.trim().to_owned())
    })
}
