//! Detached CMS signatures made by `openssl cms -sign`: what we accept, OpenSSL
//! (`openssl cms -verify -CAfile ca.pem -purpose any`) accepts too, and every
//! refusal has its own error — and OpenSSL refuses those as well.

use std::path::Path;

use time::{Duration, OffsetDateTime};
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::request::{RequestTemplate, StringType, SubjectAttribute};
use utrust_core::ports::{
    IssueRequest, RequestInspector, SignatureError, SignatureVerifier, SignerInfo,
};
use utrust_pki::{CmsVerifier, LocalCa, SoftwareKey, build_request, to_pem};

use crate::inspect::openssl_request;
use crate::support::{attr, have_openssl, openssl, openssl_ok, person_template};

const DOCUMENT: &[u8] = b"%PDF-1.4\nscan of a passport\n\x00\x01\x02binary\r\n";

fn ca_subject(cn: &str) -> Vec<SubjectAttribute> {
    vec![
        attr("2.5.4.6", "RU", StringType::Printable),
        attr("2.5.4.10", "ООО «Тестовый УЦ»", StringType::Utf8),
        attr("2.5.4.3", cn, StringType::Utf8),
    ]
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn new_ca(alg: KeyAlgorithm, cn: &str) -> LocalCa {
    LocalCa::generate(
        &ca_subject(cn),
        alg,
        Duration::days(3650),
        now() - Duration::hours(1),
    )
    .unwrap()
}

fn issue(
    ca: &LocalCa,
    csr_der: Vec<u8>,
    template: &RequestTemplate,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Vec<u8> {
    ca.issue_certificate(&IssueRequest {
        csr_der,
        subject: template.subject.clone(),
        extensions: template.extensions.clone(),
        not_before,
        not_after,
    })
    .unwrap()
    .der
}

/// A working directory with `ca.pem`, `doc.bin`, `other.bin` and a signer
/// (`cert.pem` + `key.pem`) issued by `ca` with a key of `alg`.
struct Desk {
    dir: tempfile::TempDir,
    verifier: CmsVerifier,
}

impl Desk {
    fn new(ca: &LocalCa, alg: KeyAlgorithm) -> Self {
        let desk = Self::empty(ca);
        let key = SoftwareKey::generate(alg).unwrap();
        let template = person_template(alg);
        let csr = build_request(&template, &key).unwrap();
        let cert = issue(
            ca,
            csr,
            &template,
            now() - Duration::minutes(5),
            now() + Duration::days(365),
        );
        desk.write("cert.pem", to_pem("CERTIFICATE", &cert).as_bytes());
        desk.write("key.pem", key.to_pkcs8_pem().as_bytes());
        desk
    }

    fn empty(ca: &LocalCa) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let desk = Self {
            verifier: CmsVerifier::new(&[ca.certificate_der()]).unwrap(),
            dir,
        };
        desk.write("ca.pem", ca.certificate_pem().as_bytes());
        desk.write("doc.bin", DOCUMENT);
        desk.write("other.bin", b"a different document");
        desk
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path().join(name), bytes).unwrap();
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path().join(name)).unwrap()
    }

    /// `openssl cms -sign -binary` of `input` with `cert.pem`/`key.pem`, plus
    /// `extra` options; returns the signature file's name.
    fn sign(&self, input: &str, out: &str, extra: &[&str]) -> Vec<u8> {
        let mut args = vec![
            "cms", "-sign", "-binary", "-in", input, "-signer", "cert.pem", "-inkey", "key.pem",
            "-out", out,
        ];
        if !extra.contains(&"-outform") {
            args.extend(["-outform", "DER"]);
        }
        args.extend_from_slice(extra);
        openssl_ok(self.path(), &args);
        self.read(out)
    }

    /// Our verdict on `signature` over `doc.bin`.
    fn ours(&self, signature: &[u8]) -> Result<SignerInfo, SignatureError> {
        self.verifier.verify_detached(DOCUMENT, signature, now())
    }

    /// OpenSSL's verdict on the signature in `file` over `doc.bin`.
    fn openssl_accepts(&self, file: &str, inform: &str) -> bool {
        openssl(
            self.path(),
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                inform,
                "-in",
                file,
                "-content",
                "doc.bin",
                "-CAfile",
                "ca.pem",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
        )
        .status
        .success()
    }

    /// Our verdict, after asserting that OpenSSL agrees on acceptance.
    fn agreed(&self, file: &str, inform: &str) -> Result<SignerInfo, SignatureError> {
        let ours = self.ours(&self.read(file));
        assert_eq!(
            ours.is_ok(),
            self.openssl_accepts(file, inform),
            "utrust and openssl disagree on {file}: ours = {ours:?}"
        );
        ours
    }
}

fn serial_of(desk: &Desk, cert: &str) -> String {
    let out = openssl_ok(desk.path(), &["x509", "-noout", "-serial", "-in", cert]);
    out.trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase()
}

#[test]
fn signatures_by_issued_certificates_are_accepted_as_openssl_accepts_them() {
    if !have_openssl() {
        return;
    }
    for (ca_alg, alg, md) in [
        (KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP256, "sha256"),
        (KeyAlgorithm::EcdsaP384, KeyAlgorithm::EcdsaP384, "sha384"),
        (KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384, "sha256"),
        (KeyAlgorithm::EcdsaP384, KeyAlgorithm::EcdsaP256, "sha384"),
    ] {
        let ca = new_ca(ca_alg, "Тестовый УЦ utrust");
        let desk = Desk::new(&ca, alg);
        let serial = serial_of(&desk, "cert.pem");
        let cases: [(&str, &str, &[&str]); 5] = [
            ("attrs.der", "DER", &["-md", md]),
            ("nosmimecap.der", "DER", &["-md", md, "-nosmimecap"]),
            ("noattr.der", "DER", &["-md", md, "-noattr"]),
            ("keyid.der", "DER", &["-md", md, "-keyid"]),
            ("attrs.pem", "PEM", &["-md", md, "-outform", "PEM"]),
        ];
        for (file, inform, extra) in cases {
            let sig = desk.sign("doc.bin", file, extra);
            if inform == "PEM" {
                assert!(sig.starts_with(b"-----BEGIN CMS-----"));
            }
            let signer = desk
                .agreed(file, inform)
                .unwrap_or_else(|e| panic!("{ca_alg:?}/{alg:?}/{file}: {e}"));
            assert_eq!(signer.serial.as_str(), serial, "{file}");
            assert!(
                signer.subject.contains("Иванов Иван Иванович"),
                "{signer:?}"
            );
            assert!(signer.issuer.contains("Тестовый УЦ utrust"), "{signer:?}");
            assert_eq!(
                signer.signing_time.is_some(),
                !file.starts_with("noattr"),
                "{file}: signing time {:?}",
                signer.signing_time
            );
            assert_eq!(signer.certificate_der, {
                let pem = desk.read("cert.pem");
                utrust_pki::parse_pem_or_der(&pem, &["CERTIFICATE"]).unwrap()
            });
        }
    }
}

#[test]
fn rsa_signers_are_accepted_too() {
    if !have_openssl() {
        return;
    }
    // (OpenSSL 3.0 cannot make Ed25519 CMS signatures: "invalid digest".)
    rsa_signer(&["-newkey", "rsa:2048"], &[]);
}

fn rsa_signer(newkey: &[&str], md: &[&str]) {
    let ca = new_ca(KeyAlgorithm::EcdsaP256, "Тестовый УЦ utrust");
    let desk = Desk::empty(&ca);
    let pem = openssl_request(desk.path(), newkey);
    let inspected = utrust_pki::CsrInspector::new()
        .inspect(pem.as_bytes())
        .unwrap();
    let template = RequestTemplate {
        key_algorithm: inspected.key_algorithm,
        subject: inspected.subject.clone(),
        extensions: inspected.extensions.clone(),
    };
    let cert = issue(
        &ca,
        inspected.der,
        &template,
        now() - Duration::minutes(5),
        now() + Duration::days(30),
    );
    desk.write("cert.pem", to_pem("CERTIFICATE", &cert).as_bytes());
    for (file, extra) in [("sig.der", false), ("sig-noattr.der", true)] {
        let mut args = md.to_vec();
        if extra {
            args.push("-noattr");
        }
        desk.sign("doc.bin", file, &args);
        let signer = desk.agreed(file, "DER").unwrap();
        assert!(signer.subject.contains("Петров"), "{signer:?}");
    }
}

#[test]
fn a_signature_over_other_content_is_refused() {
    if !have_openssl() {
        return;
    }
    let ca = new_ca(KeyAlgorithm::EcdsaP256, "Тестовый УЦ utrust");
    let desk = Desk::new(&ca, KeyAlgorithm::EcdsaP256);
    desk.sign("other.bin", "other.der", &[]);
    assert_eq!(
        desk.agreed("other.der", "DER"),
        Err(SignatureError::ContentMismatch)
    );
    // Without signed attributes the content is what the key signed: a different
    // content is a signature that does not verify.
    desk.sign("other.bin", "other-noattr.der", &["-noattr"]);
    assert_eq!(
        desk.agreed("other-noattr.der", "DER"),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn a_signature_by_an_unrelated_key_is_refused() {
    if !have_openssl() {
        return;
    }
    let ca = new_ca(KeyAlgorithm::EcdsaP256, "Тестовый УЦ utrust");
    let desk = Desk::empty(&ca);
    // A self-signed certificate of its own.
    openssl_ok(
        desk.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-subj",
            "/CN=Someone else",
            "-days",
            "30",
        ],
    );
    desk.sign("doc.bin", "self.der", &[]);
    assert!(matches!(
        desk.agreed("self.der", "DER"),
        Err(SignatureError::UntrustedSigner(_))
    ));

    // A certificate from an impostor CA that took our CA's very name.
    let impostor = new_ca(KeyAlgorithm::EcdsaP256, "Тестовый УЦ utrust");
    let fake = Desk::new(&impostor, KeyAlgorithm::EcdsaP256);
    for f in ["cert.pem", "key.pem"] {
        desk.write(f, &fake.read(f));
    }
    desk.sign("doc.bin", "impostor.der", &[]);
    let refused = desk.agreed("impostor.der", "DER");
    assert!(
        matches!(&refused, Err(SignatureError::UntrustedSigner(m)) if m.contains("does not verify")),
        "{refused:?}"
    );
}

#[test]
fn an_expired_signer_certificate_is_refused() {
    if !have_openssl() {
        return;
    }
    let ca = new_ca(KeyAlgorithm::EcdsaP256, "Тестовый УЦ utrust");
    let desk = Desk::empty(&ca);
    let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let template = person_template(KeyAlgorithm::EcdsaP256);
    let csr = build_request(&template, &key).unwrap();
    let cert = issue(
        &ca,
        csr,
        &template,
        now() - Duration::minutes(50),
        now() - Duration::minutes(10),
    );
    desk.write("cert.pem", to_pem("CERTIFICATE", &cert).as_bytes());
    desk.write("key.pem", key.to_pkcs8_pem().as_bytes());
    desk.sign("doc.bin", "expired.der", &[]);
    assert!(matches!(
        desk.agreed("expired.der", "DER"),
        Err(SignatureError::CertificateNotValid { .. })
    ));
    // At a time when it was valid, the same signature verifies.
    let sig = desk.read("expired.der");
    let earlier = now() - Duration::minutes(30);
    assert!(
        desk.verifier
            .verify_detached(DOCUMENT, &sig, earlier)
            .is_ok()
    );
}

#[test]
fn a_signature_without_the_signer_certificate_is_refused() {
    if !have_openssl() {
        return;
    }
    let ca = new_ca(KeyAlgorithm::EcdsaP256, "Тестовый УЦ utrust");
    let desk = Desk::new(&ca, KeyAlgorithm::EcdsaP256);
    desk.sign("doc.bin", "nocerts.der", &["-nocerts"]);
    assert_eq!(
        desk.agreed("nocerts.der", "DER"),
        Err(SignatureError::SignerCertificateMissing)
    );
}

#[test]
fn truncated_garbage_and_attached_signatures_are_malformed() {
    if !have_openssl() {
        return;
    }
    let ca = new_ca(KeyAlgorithm::EcdsaP256, "Тестовый УЦ utrust");
    let desk = Desk::new(&ca, KeyAlgorithm::EcdsaP256);
    let sig = desk.sign("doc.bin", "good.der", &[]);
    let mut bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty.der", Vec::new()),
        ("garbage.der", b"this is not a signature at all".to_vec()),
        ("zeros.der", vec![0x30, 0x03, 0x02, 0x01, 0x00]),
        ("cert.der", {
            let pem = desk.read("cert.pem");
            utrust_pki::parse_pem_or_der(&pem, &["CERTIFICATE"]).unwrap()
        }),
    ];
    for cut in [1, 10, sig.len() / 2, sig.len() - 1] {
        let name: &'static str = Box::leak(format!("truncated-{cut}.der").into_boxed_str());
        bad.push((name, sig[..sig.len() - cut].to_vec()));
    }
    for (name, bytes) in bad {
        desk.write(name, &bytes);
        let verdict = desk.agreed(name, "DER");
        assert!(
            matches!(verdict, Err(SignatureError::Malformed(_))),
            "{name}: {verdict:?}"
        );
    }
    // OpenSSL ignores bytes after the structure; we do not.
    let mut trailing = sig.clone();
    trailing.push(0);
    assert!(matches!(
        desk.ours(&trailing),
        Err(SignatureError::Malformed(_))
    ));
    // A PEM with the wrong label.
    let pem = to_pem("CERTIFICATE", &sig);
    assert!(matches!(
        desk.ours(pem.as_bytes()),
        Err(SignatureError::Malformed(_))
    ));
    // PKCS7 is an accepted label.
    let pem = to_pem("PKCS7", &sig);
    assert!(desk.ours(pem.as_bytes()).is_ok());
    // An attached (opaque) signature is not a detached one.
    let attached = desk.sign("doc.bin", "attached.der", &["-nodetach"]);
    let verdict = desk.ours(&attached);
    assert!(
        matches!(&verdict, Err(SignatureError::Malformed(m)) if m.contains("detached")),
        "{verdict:?}"
    );
    // A flipped bit in the signature value.
    let mut flipped = sig.clone();
    let last = flipped.len() - 5;
    flipped[last] ^= 0x01;
    desk.write("flipped.der", &flipped);
    let verdict = desk.agreed("flipped.der", "DER");
    assert!(verdict.is_err(), "{verdict:?}");
}

#[test]
fn ecdsa_with_sha512_is_unsupported_not_bad() {
    if !have_openssl() {
        return;
    }
    // ring has no ECDSA with SHA-512; we refuse what we cannot check, by name.
    let ca = new_ca(KeyAlgorithm::EcdsaP256, "Тестовый УЦ utrust");
    let desk = Desk::new(&ca, KeyAlgorithm::EcdsaP256);
    let sig = desk.sign("doc.bin", "sha512.der", &["-md", "sha512"]);
    assert!(matches!(
        desk.ours(&sig),
        Err(SignatureError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn an_oversized_signature_is_refused_before_parsing() {
    let ca = new_ca(KeyAlgorithm::EcdsaP256, "Тестовый УЦ utrust");
    let verifier = CmsVerifier::new(&[ca.certificate_pem()]).unwrap();
    let big = vec![0x30; utrust_pki::MAX_SIGNATURE_BYTES + 1];
    assert!(matches!(
        verifier.verify_detached(DOCUMENT, &big, now()),
        Err(SignatureError::Malformed(_))
    ));
    assert!(CmsVerifier::new::<Vec<u8>>(&[]).is_err());
}
