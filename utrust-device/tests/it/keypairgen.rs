//! A key pair made by `pkcs11-tool --keypairgen` signs a request through utrust.

use utrust_device::{DeviceError, KeySelector, Pin};
use utrust_pki::Signer;
use utrust_pki::build_request;

use crate::support::{isolated, module_path, person_template, run_ok, write_pem};

#[test]
fn pkcs11_tool_key_pair_signs_a_request() {
    let Some(env) = isolated("keypairgen::pkcs11_tool_key_pair_signs_a_request") else {
        return;
    };
    let dir = env.dir.as_path();
    run_ok(
        "softhsm2-util",
        &[
            "--init-token",
            "--free",
            "--label",
            "k-token",
            "--so-pin",
            "12345678",
            "--pin",
            "123456",
        ],
        dir,
    );
    let m = module_path();
    run_ok(
        "pkcs11-tool",
        &[
            "--module",
            &m,
            "--token-label",
            "k-token",
            "--login",
            "--pin",
            "123456",
            "--keypairgen",
            "--key-type",
            "EC:prime256v1",
            "--id",
            "01",
            "--label",
            "k",
        ],
        dir,
    );
    let module = env.module();
    let session = module.session("k-token").unwrap();
    // Private keys are private objects: not found before login.
    assert!(matches!(
        session.find_key(&KeySelector::Id(vec![1])),
        Err(DeviceError::ObjectNotFound(_))
    ));
    session.login_user(&Pin::new("123456")).unwrap();
    let by_label = session.find_key(&KeySelector::Label("k".into())).unwrap();
    assert_eq!(by_label.id(), [1]);
    let key = session.find_key(&KeySelector::Id(vec![1])).unwrap();
    assert_eq!(key.label(), Some("k"));
    assert_eq!(key.public_key_spki_der(), by_label.public_key_spki_der());

    let csr = build_request(&person_template(), &key).unwrap();
    write_pem(&dir.join("req.pem"), "CERTIFICATE REQUEST", &csr);
    let text = run_ok(
        "openssl",
        &["req", "-in", "req.pem", "-verify", "-noout"],
        dir,
    );
    assert!(text.contains("verify OK"), "{text}");
    // The request's key is pkcs11-tool's public key.
    run_ok(
        "pkcs11-tool",
        &[
            "--module",
            &m,
            "--token-label",
            "k-token",
            "--read-object",
            "--type",
            "pubkey",
            "--id",
            "01",
            "-o",
            "pub.der",
        ],
        dir,
    );
    let tool_pub = run_ok(
        "openssl",
        &["pkey", "-pubin", "-inform", "DER", "-in", "pub.der"],
        dir,
    );
    let req_pub = run_ok(
        "openssl",
        &["req", "-in", "req.pem", "-noout", "-pubkey"],
        dir,
    );
    assert_eq!(tool_pub, req_pub);
}
