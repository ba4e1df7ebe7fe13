//! The whole path on SoftHSM2: initialise, random user PIN, key on the token,
//! CSR signed on the token, issued by a local CA, written back; checked with
//! pkcs11-tool and OpenSSL.

use time::{Duration, OffsetDateTime};
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::request::StringType;
use utrust_core::ports::{IssueRequest, TokenProvider};
use utrust_device::{DeviceError, KeyGenSpec, Pin};
use utrust_pki::Signer;
use utrust_pki::{CsrInspector, LocalCa, build_request};

use crate::support::{self, attr, isolated, person_template, run_ok, write_pem};

#[test]
fn full_issuance_on_softhsm() {
    let Some(env) = isolated("issuance::full_issuance_on_softhsm") else {
        return;
    };
    let dir = env.dir.as_path();
    let module = env.module();

    // A fresh SoftHSM has one free (uninitialised) token; our init takes it.
    let free = module.free_token().unwrap();
    assert!(!free.initialized);
    let so_pin = Pin::new("87654321");
    let token = module.init_token("", &so_pin, "utrust-it").unwrap();
    assert!(token.initialized);
    assert!(!token.user_pin_initialized);
    assert_eq!(token.label, "utrust-it");
    assert!(!token.serial.is_empty());
    assert_eq!(module.find_token(&token.serial).unwrap().label, "utrust-it");
    assert_eq!(module.find_token("utrust-it").unwrap().serial, token.serial);

    // The core's port sees it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let listed = rt.block_on(TokenProvider::tokens(&module)).unwrap();
    assert!(
        listed
            .iter()
            .any(|t| t.serial == token.serial && t.initialized)
    );

    // No GOST on Debian's SoftHSM; ECDSA and EC key generation are there.
    let mechs = module.mechanisms(&token.serial).unwrap();
    assert!(mechs.gost.is_empty(), "{:?}", mechs.gost);
    assert!(mechs.offers(0x1041), "CKM_ECDSA missing");
    assert!(mechs.offers(0x1040), "CKM_EC_KEY_PAIR_GEN missing");

    // A random user PIN, set by the SO.
    let user_pin = Pin::random_digits(8).unwrap();
    assert_eq!(user_pin.len(), 8);
    assert_eq!(format!("{user_pin:?}"), "Pin([REDACTED])");
    let session = module.session(&token.serial).unwrap();
    session.init_user_pin(&so_pin, &user_pin).unwrap();
    assert!(session.token().unwrap().user_pin_initialized);

    // A P-256 key pair on the token.
    session.login_user(&user_pin).unwrap();
    let key = session
        .generate_key_pair(&KeyGenSpec {
            label: Some("utrust key".into()),
            ..KeyGenSpec::p256()
        })
        .unwrap();
    assert_eq!(key.id().len(), 16);
    assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
    let protection = session.key_protection(key.id()).unwrap();
    assert!(protection.sensitive, "{protection:?}");
    assert!(!protection.extractable, "{protection:?}");
    assert!(protection.never_extractable && protection.always_sensitive);
    assert!(protection.token && protection.private && protection.local);

    // CSR signed on the token; OpenSSL and our inspector accept it.
    let template = person_template();
    let csr = build_request(&template, &key).unwrap();
    write_pem(&dir.join("req.pem"), "CERTIFICATE REQUEST", &csr);
    let text = run_ok(
        "openssl",
        &["req", "-in", "req.pem", "-verify", "-noout"],
        dir,
    );
    assert!(
        text.contains("verify OK") || text.contains("Certificate request self-signature verify OK"),
        "{text}"
    );
    let inspected = CsrInspector::new().inspect_request(&csr).unwrap();

    // Issued by a local CA, written to the token with the key's id.
    let now = OffsetDateTime::now_utc();
    let ca = LocalCa::generate(
        &[
            attr("2.5.4.6", "RU", StringType::Printable),
            attr("2.5.4.3", "utrust test CA", StringType::Utf8),
        ],
        KeyAlgorithm::EcdsaP256,
        Duration::days(3650),
        now,
    )
    .unwrap();
    let issued = ca
        .issue_certificate(&IssueRequest {
            csr_der: inspected.der.clone(),
            subject: template.subject.clone(),
            extensions: template.extensions.clone(),
            not_before: now,
            not_after: now + Duration::days(365),
        })
        .unwrap();
    session
        .write_certificate(&issued.der, key.id(), "utrust certificate")
        .unwrap();
    let certs = session.certificates().unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].id, key.id());
    assert_eq!(certs[0].der, issued.der);
    assert_eq!(certs[0].label, "utrust certificate");

    // OpenSSL: the certificate chains to the CA.
    std::fs::write(dir.join("ca.pem"), ca.certificate_pem()).unwrap();
    write_pem(&dir.join("cert.pem"), "CERTIFICATE", &issued.der);
    let text = run_ok("openssl", &["verify", "-CAfile", "ca.pem", "cert.pem"], dir);
    assert!(text.contains("cert.pem: OK"), "{text}");
    // …and certifies the on-token key (public key of the cert == the CSR's).
    let from_cert = run_ok(
        "openssl",
        &["x509", "-in", "cert.pem", "-noout", "-pubkey"],
        dir,
    );
    let from_req = run_ok(
        "openssl",
        &["req", "-in", "req.pem", "-noout", "-pubkey"],
        dir,
    );
    assert_eq!(from_cert, from_req);

    // pkcs11-tool lists the certificate next to the private key, same ID.
    drop(key);
    session.logout().unwrap();
    let module_path = support::module_path();
    let listing = run_ok(
        "pkcs11-tool",
        &[
            "--module",
            &module_path,
            "--token-label",
            "utrust-it",
            "--login",
            "--pin",
            user_pin.expose_secret(),
            "-O",
        ],
        dir,
    );
    let id_hex = support::hex(&certs[0].id);
    assert!(listing.contains("Private Key Object; EC"), "{listing}");
    assert!(
        listing.contains("Certificate Object; type = X.509 cert"),
        "{listing}"
    );
    let ids = listing
        .lines()
        .filter(|l| l.trim() == format!("ID:         {id_hex}"))
        .count();
    assert_eq!(
        ids, 3,
        "private key, public key and certificate share the id:\n{listing}"
    );
    assert!(
        listing.contains("Access:     sensitive, always sensitive, never extractable, local"),
        "{listing}"
    );
    // PINs never reach the debug output of anything we print.
    assert!(!format!("{session:?}{token:?}").contains(user_pin.expose_secret()));

    // Re-initialising needs the right SO PIN and no open session.
    let err = module
        .init_token(&token.serial, &so_pin, "again")
        .unwrap_err();
    assert!(
        matches!(&err, DeviceError::Device { operation, .. } if operation == "C_InitToken"),
        "{err:?}"
    );
    drop(session);
    let err = module
        .init_token(&token.serial, &Pin::new("00000000"), "again")
        .unwrap_err();
    assert!(matches!(err, DeviceError::PinIncorrect { .. }), "{err:?}");
    // With the right SO PIN it wipes everything and un-sets the user PIN.
    let again = module.init_token(&token.serial, &so_pin, "again").unwrap();
    let session = module.session(&again.serial).unwrap();
    assert!(session.certificates().unwrap().is_empty());
    assert_eq!(
        session.login_user(&user_pin).unwrap_err(),
        DeviceError::UserPinNotInitialized
    );
}
