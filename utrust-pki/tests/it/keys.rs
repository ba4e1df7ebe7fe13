//! Software keys: generation, PKCS#8 persistence, keys from OpenSSL.

use der::{Decode, Tagged};
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_pki::{PkiError, Signer, SoftwareKey, key_algorithm_of_spki, verify_signature};

use crate::support::{have_openssl, openssl_ok};

#[test]
fn sign_verify_and_pkcs8_round_trip() {
    for alg in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
    ] {
        let key = SoftwareKey::generate(alg).unwrap();
        let spki = key.public_key_spki_der();
        assert_eq!(key_algorithm_of_spki(&spki), Ok(alg));
        let sig = key.sign(b"message").unwrap();
        let alg_id = key.signature_algorithm_identifier();
        assert_eq!(
            verify_signature(&spki, &alg_id.oid, b"message", &sig),
            Ok(alg)
        );
        assert_eq!(
            verify_signature(&spki, &alg_id.oid, b"messagf", &sig),
            Err(PkiError::BadSignature)
        );
        let again = SoftwareKey::from_pkcs8_pem(&key.to_pkcs8_pem()).unwrap();
        assert_eq!(again.algorithm(), alg);
        assert_eq!(again.public_key_spki_der(), spki);
        assert!(!format!("{key:?}").contains("pkcs8"));
    }
}

#[test]
fn ecdsa_signatures_are_der_sequences() {
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let sig = key.sign(b"x").unwrap();
    let seq = der::asn1::AnyRef::from_der(&sig).unwrap();
    assert_eq!(seq.tag(), der::Tag::Sequence);
}

#[test]
fn rsa_and_gost_cannot_be_generated() {
    for alg in [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Gost2012_256,
        KeyAlgorithm::Gost2012_512,
    ] {
        assert!(matches!(
            SoftwareKey::generate(alg),
            Err(PkiError::UnsupportedAlgorithm(_))
        ));
    }
}

#[test]
fn garbage_pkcs8_is_rejected() {
    assert!(matches!(
        SoftwareKey::from_pkcs8_der(&[0x30, 0x00]),
        Err(PkiError::KeyRejected(_))
    ));
}

#[test]
fn loads_keys_generated_by_openssl() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (args, alg) in [
        (
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
            KeyAlgorithm::EcdsaP256,
        ),
        (
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"][..],
            KeyAlgorithm::EcdsaP384,
        ),
        (&["-algorithm", "ED25519"][..], KeyAlgorithm::Ed25519),
    ] {
        let mut all = vec!["genpkey", "-out", "k.pem"];
        all.extend_from_slice(args);
        openssl_ok(dir.path(), &all);
        let pem = std::fs::read_to_string(dir.path().join("k.pem")).unwrap();
        let key = SoftwareKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(key.algorithm(), alg);
        // Same public key as OpenSSL derives.
        openssl_ok(
            dir.path(),
            &[
                "pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "pub.der",
            ],
        );
        let pub_der = std::fs::read(dir.path().join("pub.der")).unwrap();
        assert_eq!(key.public_key_spki_der(), pub_der, "{alg:?}");
    }
}
