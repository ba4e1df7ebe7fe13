//! The self-service token steps through the core's `TokenProvider` port on
//! SoftHSM2: a token delivered with factory PINs (made by `softhsm2-util`) is
//! initialised with a new user PIN, the key generated on it, the request
//! signed on it, and the certificate written next to the key; wrong PINs and a
//! missing token are each their own error.

use time::{Duration, OffsetDateTime};
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::request::StringType;
use utrust_core::ports::IssueRequest;
use utrust_device::{DeviceError, Initialization, Pin, PrepareSpec};
use utrust_pki::{CsrInspector, LocalCa};

use crate::support::{self, attr, isolated, module_path, person_template, run, run_ok, write_pem};

const FACTORY_SO: &str = "87654321";
const FACTORY_USER: &str = "12345678";

fn factory_token(dir: &std::path::Path, label: &str) {
    run_ok(
        "softhsm2-util",
        &[
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            FACTORY_SO,
            "--pin",
            FACTORY_USER,
        ],
        dir,
    );
}

fn spec(token: &str, init: Option<(&str, &str)>, user_pin: &str) -> PrepareSpec {
    PrepareSpec {
        token: token.into(),
        initialize: init.map(|(so, label)| Initialization {
            so_pin: Pin::new(so),
            label: label.into(),
        }),
        user_pin: Pin::new(user_pin),
        key_label: Some("utrust self-service".into()),
        template: person_template(),
    }
}

#[test]
fn prepare_and_store_on_a_factory_token() {
    let Some(env) = isolated("prepare::prepare_and_store_on_a_factory_token") else {
        return;
    };
    let dir = env.dir.as_path();
    factory_token(dir, "blank");
    let module = env.module();

    // Errors first: nothing is changed on the token by them.
    assert_eq!(
        module
            .prepare_token(&spec("no-such-token", None, FACTORY_USER))
            .unwrap_err(),
        DeviceError::NotPresent("no-such-token".into())
    );
    let e = module
        .prepare_token(&spec("blank", Some(("00000000", "mine")), "24681357"))
        .unwrap_err();
    assert!(matches!(e, DeviceError::PinIncorrect { .. }), "{e:?}");
    let e = module
        .prepare_token(&spec("blank", None, "000000"))
        .unwrap_err();
    assert!(matches!(e, DeviceError::PinIncorrect { .. }), "{e:?}");
    assert_eq!(module.find_token("blank").unwrap().label, "blank");
    let e = module
        .prepare_token(&PrepareSpec {
            template: utrust_core::domain::request::RequestTemplate {
                key_algorithm: KeyAlgorithm::Gost2012_256,
                ..person_template()
            },
            ..spec("blank", None, FACTORY_USER)
        })
        .unwrap_err();
    assert!(
        matches!(&e, DeviceError::Unsupported(m) if m.contains("CKM_GOSTR3410_KEY_PAIR_GEN")),
        "{e:?}"
    );

    // Initialise with the factory SO PIN, new user PIN, key and request on the token.
    let user_pin = Pin::random_digits(8).unwrap();
    let prepared = module
        .prepare_token(&PrepareSpec {
            user_pin: user_pin.clone(),
            ..spec("blank", Some((FACTORY_SO, "ivanov")), "")
        })
        .unwrap();
    assert_eq!(prepared.token.label, "ivanov");
    assert!(prepared.token.initialized && prepared.token.user_pin_initialized);
    assert!(prepared.gost_mechanisms.is_empty());
    assert_eq!(prepared.key_id.len(), 16);
    // The old user PIN is gone with the initialisation.
    assert!(matches!(
        module
            .session("ivanov")
            .unwrap()
            .login_user(&Pin::new(FACTORY_USER)),
        Err(DeviceError::PinIncorrect { .. })
    ));
    let inspected = CsrInspector::new()
        .inspect_request(&prepared.csr_der)
        .unwrap();
    write_pem(
        &dir.join("req.pem"),
        "CERTIFICATE REQUEST",
        &prepared.csr_der,
    );
    let text = run_ok(
        "openssl",
        &["req", "-in", "req.pem", "-verify", "-noout"],
        dir,
    );
    assert!(text.contains("verify OK"), "{text}");

    // The key never leaves the token.
    {
        let session = module.session(&prepared.token.serial).unwrap();
        session.login_user(&user_pin).unwrap();
        let p = session.key_protection(&prepared.key_id).unwrap();
        assert!(p.sensitive && !p.extractable && p.local, "{p:?}");
        session.logout().unwrap();
    }

    // Issue and write back.
    let now = OffsetDateTime::now_utc();
    let ca = LocalCa::generate(
        &[attr("2.5.4.3", "utrust test CA", StringType::Utf8)],
        KeyAlgorithm::EcdsaP256,
        Duration::days(3650),
        now,
    )
    .unwrap();
    let template = person_template();
    let issued = ca
        .issue_certificate(&IssueRequest {
            csr_der: inspected.der.clone(),
            subject: template.subject.clone(),
            extensions: template.extensions.clone(),
            not_before: now,
            not_after: now + Duration::days(365),
        })
        .unwrap();
    let e = module
        .store_certificate(
            &prepared.token.serial,
            &Pin::new("00000000"),
            &prepared.key_id,
            &issued.der,
            "cert",
        )
        .unwrap_err();
    assert!(matches!(e, DeviceError::PinIncorrect { .. }), "{e:?}");
    let e = module
        .store_certificate(
            &prepared.token.serial,
            &user_pin,
            &[9, 9, 9],
            &issued.der,
            "cert",
        )
        .unwrap_err();
    assert!(matches!(e, DeviceError::ObjectNotFound(_)), "{e:?}");
    module
        .store_certificate(
            &prepared.token.serial,
            &user_pin,
            &prepared.key_id,
            &issued.der,
            "utrust certificate",
        )
        .unwrap();

    // OpenSC sees certificate and keys under one id; OpenSSL verifies the
    // certificate read back from the token.
    let m = module_path();
    let listing = run_ok(
        "pkcs11-tool",
        &[
            "--module",
            &m,
            "--token-label",
            "ivanov",
            "--login",
            "--pin",
            user_pin.expose_secret(),
            "-O",
        ],
        dir,
    );
    let id = support::hex(&prepared.key_id);
    let ids = listing
        .lines()
        .filter(|l| l.trim() == format!("ID:         {id}"))
        .count();
    assert_eq!(ids, 3, "{listing}");
    run_ok(
        "pkcs11-tool",
        &[
            "--module",
            &m,
            "--token-label",
            "ivanov",
            "--read-object",
            "--type",
            "cert",
            "--id",
            &id,
            "--output-file",
            "cert.der",
        ],
        dir,
    );
    std::fs::write(dir.join("ca.pem"), ca.certificate_pem()).unwrap();
    let (ok, text) = run(
        "openssl",
        &["verify", "-CAfile", "ca.pem", "-inform", "DER", "cert.der"],
        dir,
    );
    if !ok {
        // OpenSSL 3.0's verify reads PEM only: convert.
        run_ok(
            "openssl",
            &[
                "x509", "-inform", "DER", "-in", "cert.der", "-out", "cert.pem",
            ],
            dir,
        );
        let text = run_ok("openssl", &["verify", "-CAfile", "ca.pem", "cert.pem"], dir);
        assert!(text.contains("cert.pem: OK"), "{text}");
    } else {
        assert!(text.contains("OK"), "{text}");
    }
}
