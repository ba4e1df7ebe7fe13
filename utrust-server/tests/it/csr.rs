//! CSR rejections: each has its own code, and a refused CSR changes nothing
//! (status, version, history, no CSR attached). A valid CSR afterwards is still
//! accepted, which shows the refusals left the application usable.

use serde_json::json;
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::identifiers::Oid;
use utrust_core::domain::request::RequestTemplate;
use utrust_pki::{SoftwareKey, build_request, to_pem};

use crate::common::{
    Api, Catalog, KINDS, Opts, application, catalog, csr_der, id, snapshot, submit, template,
};

/// Posts `body` as the CSR and asserts a 422 with `code` and no change at all.
async fn refused(api: &Api, app_id: &str, content_type: &str, body: Vec<u8>, code: &str) {
    let before = snapshot(&application(api, app_id).await);
    let r = api
        .post_raw(
            &format!("/api/v1/applications/{app_id}/csr"),
            content_type,
            body,
        )
        .await;
    r.assert_error(422, code);
    let after = snapshot(&application(api, app_id).await);
    assert_eq!(
        before, after,
        "a refused CSR ({code}) changed the application"
    );
    assert!(!after.3, "a refused CSR was attached");
}

async fn fresh(api: &Api, c: &Catalog, kind: &str) -> (String, RequestTemplate) {
    let app = submit(api, c, kind).await;
    let app_id = id(&app);
    let (_, t) = template(api, &app_id).await;
    (app_id, t)
}

async fn still_accepts_the_right_csr(api: &Api, app_id: &str, t: &RequestTemplate) {
    let r = api
        .post_raw(
            &format!("/api/v1/applications/{app_id}/csr"),
            "application/pkcs10",
            csr_der(t),
        )
        .await;
    assert_eq!(r.expect(200)["status"], "ready_to_issue");
}

#[tokio::test]
async fn broken_signature_is_csr_bad_signature() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let (app_id, t) = fresh(&api, &c, "individual").await;
    let mut der = csr_der(&t);
    // The signature BIT STRING ends the DER: flip a bit of its last byte.
    let last = der.len() - 1;
    der[last] ^= 0x01;
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        der.clone(),
        "csr_bad_signature",
    )
    .await;
    // The same in PEM.
    let pem = to_pem("CERTIFICATE REQUEST", &der);
    refused(
        &api,
        &app_id,
        "application/x-pem-file",
        pem.into_bytes(),
        "csr_bad_signature",
    )
    .await;
    // A signed request whose subject was altered after signing.
    let good = csr_der(&t);
    let needle = "Иванов".as_bytes();
    let pos = good
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("surname in DER");
    let mut tampered = good.clone();
    tampered[pos + needle.len() - 1] ^= 0x01; // "Иванов" → another Cyrillic letter
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        tampered,
        "csr_bad_signature",
    )
    .await;
    still_accepts_the_right_csr(&api, &app_id, &t).await;
}

#[tokio::test]
async fn truncated_and_garbage_bodies_are_csr_malformed() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let (app_id, t) = fresh(&api, &c, "sole_proprietor").await;
    let der = csr_der(&t);
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        der[..der.len() / 2].to_vec(),
        "csr_malformed",
    )
    .await;
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        der[..der.len() - 1].to_vec(),
        "csr_malformed",
    )
    .await;
    refused(
        &api,
        &app_id,
        "application/octet-stream",
        b"this is not a CSR".to_vec(),
        "csr_malformed",
    )
    .await;
    refused(
        &api,
        &app_id,
        "text/plain",
        b"-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n".to_vec(),
        "csr_malformed",
    )
    .await;
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        Vec::new(),
        "csr_malformed",
    )
    .await;
    // DER trailing garbage is not a CSR either.
    let mut trailing = der.clone();
    trailing.extend_from_slice(b"\x00\x00");
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        trailing,
        "csr_malformed",
    )
    .await;
    // JSON with a non-CSR string.
    let before = snapshot(&application(&api, &app_id).await);
    api.post(
        &format!("/api/v1/applications/{app_id}/csr"),
        &json!({"csr": "garbage"}),
    )
    .await
    .assert_error(422, "csr_malformed");
    assert_eq!(before, snapshot(&application(&api, &app_id).await));
    still_accepts_the_right_csr(&api, &app_id, &t).await;
}

#[tokio::test]
async fn changed_subject_value_is_csr_subject_mismatch() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    for kind in KINDS {
        let (app_id, t) = fresh(&api, &c, kind).await;
        // One attribute changed, properly signed: the INN of the owner.
        let mut other = t.clone();
        let inn = other
            .subject
            .iter_mut()
            .find(|a| a.oid.to_string() == "1.2.643.3.131.1.1")
            .expect("INN attribute");
        // Another valid personal INN (checksums right), so only the match fails.
        inn.value = if inn.value == "500100732259" {
            "561100409545"
        } else {
            "500100732259"
        }
        .into();
        refused(
            &api,
            &app_id,
            "application/pkcs10",
            csr_der(&other),
            "csr_subject_mismatch",
        )
        .await;
        // The surname changed.
        let mut other = t.clone();
        let sn = other
            .subject
            .iter_mut()
            .find(|a| a.oid.to_string() == "2.5.4.4")
            .expect("SN");
        sn.value.push('а');
        refused(
            &api,
            &app_id,
            "application/pkcs10",
            csr_der(&other),
            "csr_subject_mismatch",
        )
        .await;
        // An attribute missing.
        let mut other = t.clone();
        other
            .subject
            .retain(|a| a.oid.to_string() != "1.2.643.100.3");
        refused(
            &api,
            &app_id,
            "application/pkcs10",
            csr_der(&other),
            "csr_subject_mismatch",
        )
        .await;
        // An extra attribute.
        let mut other = t.clone();
        let mut extra = other.subject[0].clone();
        extra.oid = Oid::parse("2.5.4.11").expect("OU");
        extra.value = "Отдел".into();
        other.subject.push(extra);
        refused(
            &api,
            &app_id,
            "application/pkcs10",
            csr_der(&other),
            "csr_subject_mismatch",
        )
        .await;
        still_accepts_the_right_csr(&api, &app_id, &t).await;
    }
}

#[tokio::test]
async fn ed25519_key_for_a_p256_service_is_csr_key_algorithm_mismatch() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let (app_id, t) = fresh(&api, &c, "legal_entity").await;
    assert_eq!(t.key_algorithm, KeyAlgorithm::EcdsaP256);
    let mut ed = t.clone();
    ed.key_algorithm = KeyAlgorithm::Ed25519;
    ed.extensions
        .key_usage
        .retain(|u| u.as_str() != "keyAgreement");
    let key = SoftwareKey::generate(KeyAlgorithm::Ed25519).expect("ed25519 key");
    let der = build_request(&ed, &key).expect("ed25519 csr");
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        der,
        "csr_key_algorithm_mismatch",
    )
    .await;
    // P-384 is also not what the service asks for.
    let mut p384 = t.clone();
    p384.key_algorithm = KeyAlgorithm::EcdsaP384;
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        csr_der(&p384),
        "csr_key_algorithm_mismatch",
    )
    .await;
    still_accepts_the_right_csr(&api, &app_id, &t).await;
}

#[tokio::test]
async fn ed25519_service_accepts_ed25519_and_refuses_p256() {
    let api = Api::new().await;
    let c = catalog(
        &api,
        Opts {
            key_algorithm: Some("ed25519"),
            ..Opts::default()
        },
    )
    .await;
    let (app_id, t) = fresh(&api, &c, "individual").await;
    assert_eq!(t.key_algorithm, KeyAlgorithm::Ed25519);
    let mut p256 = t.clone();
    p256.key_algorithm = KeyAlgorithm::EcdsaP256;
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        csr_der(&p256),
        "csr_key_algorithm_mismatch",
    )
    .await;
    still_accepts_the_right_csr(&api, &app_id, &t).await;
    api.post_empty(&format!("/api/v1/applications/{app_id}/issue"))
        .await
        .expect(201);
}

#[tokio::test]
async fn extension_beyond_the_products_is_csr_extensions_mismatch() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let (app_id, t) = fresh(&api, &c, "individual").await;
    // An extra EKU (serverAuth).
    let mut more = t.clone();
    more.extensions
        .extended_key_usage
        .push(Oid::parse("1.3.6.1.5.5.7.3.1").expect("serverAuth"));
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        csr_der(&more),
        "csr_extensions_mismatch",
    )
    .await;
    // The legal-entity EKU on an individual's application.
    let mut le = t.clone();
    le.extensions
        .extended_key_usage
        .push(Oid::parse("1.2.643.100.2.2").expect("oid"));
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        csr_der(&le),
        "csr_extensions_mismatch",
    )
    .await;
    // An extra policy.
    let mut pol = t.clone();
    let not_in_template = [
        "1.2.643.100.113.1",
        "1.2.643.100.113.2",
        "1.2.643.100.113.3",
    ]
    .into_iter()
    .map(|o| Oid::parse(o).expect("oid"))
    .find(|o| !t.extensions.certificate_policies.contains(o))
    .expect("a policy the template lacks");
    pol.extensions.certificate_policies.push(not_in_template);
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        csr_der(&pol),
        "csr_extensions_mismatch",
    )
    .await;
    // keyCertSign is never requested by an end entity.
    let mut ku = t.clone();
    ku.extensions
        .key_usage
        .push(serde_json::from_value(json!("keyCertSign")).expect("key usage name"));
    refused(
        &api,
        &app_id,
        "application/pkcs10",
        csr_der(&ku),
        "csr_extensions_mismatch",
    )
    .await;
    // A subset of the template's extensions is accepted.
    let mut fewer = t.clone();
    fewer.extensions.extended_key_usage.truncate(1);
    let r = api
        .post_raw(
            &format!("/api/v1/applications/{app_id}/csr"),
            "application/pkcs10",
            csr_der(&fewer),
        )
        .await;
    assert_eq!(r.expect(200)["status"], "ready_to_issue");
}

#[tokio::test]
async fn csr_body_errors_are_json() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let (app_id, t) = fresh(&api, &c, "individual").await;
    let path = format!("/api/v1/applications/{app_id}/csr");
    let before = snapshot(&application(&api, &app_id).await);
    api.post_raw(&path, "application/json", b"{\"csr\": ".to_vec())
        .await
        .assert_error(400, "invalid_body");
    let pem = to_pem("CERTIFICATE REQUEST", &csr_der(&t));
    api.post(&path, &json!({"csr": pem, "extra": 1}))
        .await
        .assert_error(400, "invalid_body");
    assert_eq!(before, snapshot(&application(&api, &app_id).await));
    // Unknown application.
    api.post_raw(
        "/api/v1/applications/00000000-0000-4000-8000-000000000000/csr",
        "application/pkcs10",
        csr_der(&t),
    )
    .await
    .assert_error(404, "not_found");
}
