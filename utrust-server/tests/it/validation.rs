//! Input validation: identifiers with wrong checksums name their field, body
//! errors are JSON, unknown ids are 404, illegal transitions are 409.

use axum::http::Method;
use serde_json::{Value, json};

use crate::common::{
    Api, Opts, application, application_body, bearer, catalog, csr_der, id, snapshot, submit,
    submit_with_csr, template,
};

#[tokio::test]
async fn invalid_identifiers_name_their_field() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    // (kind, JSON pointer to change, bad value, field named in the error)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("individual", "/owner/inn", "500100732258", "owner.inn"),
        ("individual", "/owner/inn", "50010073225", "owner.inn"),
        ("individual", "/owner/inn", "50010073225x", "owner.inn"),
        (
            "individual",
            "/owner/snils",
            "112-233-445 96",
            "owner.snils",
        ),
        ("individual", "/owner/snils", "1122334459", "owner.snils"),
        ("individual", "/owner/email", "not-an-email", "owner.email"),
        (
            "individual",
            "/owner/birth_date",
            "12.04.1985",
            "owner.birth_date",
        ),
        (
            "sole_proprietor",
            "/organization/ogrnip",
            "304770200100006",
            "organization.ogrnip",
        ),
        (
            "legal_entity",
            "/organization/ogrn",
            "1027700132196",
            "organization.ogrn",
        ),
        (
            "legal_entity",
            "/organization/inn",
            "7707083894",
            "organization.inn",
        ),
        (
            "legal_entity",
            "/organization/kpp",
            "77070100",
            "organization.kpp",
        ),
        (
            "legal_entity",
            "/applicant_kind",
            "company",
            "applicant_kind",
        ),
        ("legal_entity", "/service_id", "not-a-uuid", "service_id"),
    ];
    for (kind, pointer, bad, field) in cases {
        let mut body = application_body(&c, kind);
        *body
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer} in body")) = json!(bad);
        let v = api
            .post("/api/v1/applications", &body)
            .await
            .assert_error(422, "invalid_field");
        assert_eq!(v["field"], *field, "{kind} {pointer}={bad}: {v}");
    }
    // Kind-specific requirements.
    let mut le = application_body(&c, "legal_entity");
    le["organization"]
        .as_object_mut()
        .expect("org")
        .remove("ogrn");
    let v = api
        .post("/api/v1/applications", &le)
        .await
        .assert_error(422, "invalid_field");
    assert_eq!(v["field"], "organization.ogrn");
    let mut sp = application_body(&c, "sole_proprietor");
    sp["organization"] = json!({});
    let v = api
        .post("/api/v1/applications", &sp)
        .await
        .assert_error(422, "invalid_field");
    assert_eq!(v["field"], "organization.ogrnip");
    let mut ind = application_body(&c, "individual");
    ind["organization"] = json!({"ogrnip": "304770200100005"});
    let v = api
        .post("/api/v1/applications", &ind)
        .await
        .assert_error(422, "invalid_field");
    assert_eq!(v["field"], "organization");
    // Nothing was consumed: a correct application still goes through.
    submit(&api, &c, "legal_entity").await;
}

#[tokio::test]
async fn invalid_catalog_input_names_its_field() {
    let api = Api::new().await;
    let v = api
        .post(
            "/api/v1/organizations",
            &json!({"name": "X", "inn": "7802668117"}),
        )
        .await
        .assert_error(422, "invalid_field");
    assert_eq!(v["field"], "inn");
    let v = api
        .post(
            "/api/v1/products",
            &json!({"code": "P", "name": "P", "oids": {"common": ["not.an.oid"]}}),
        )
        .await
        .assert_error(422, "invalid_field");
    assert_eq!(v["field"], "oids.common");
    let c = catalog(&api, Opts::default()).await;
    let v = api
        .post(
            "/api/v1/points",
            &json!({"parent_id": c.organization, "name": "P", "email": "nope", "limit": 1}),
        )
        .await
        .assert_error(422, "invalid_field");
    assert_eq!(v["field"], "email");
    let v = api
        .post(
            "/api/v1/points",
            &json!({"parent_id": c.organization, "name": "P", "email": "p@example.ru", "limit": -5}),
        )
        .await
        .assert_error(422, "invalid_field");
    assert_eq!(v["field"], "limit");
}

#[tokio::test]
async fn body_errors_are_json_4xx() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    // Unknown field.
    let mut body = application_body(&c, "individual");
    body["colour"] = json!("green");
    let v = api
        .post("/api/v1/applications", &body)
        .await
        .assert_error(400, "invalid_body");
    assert!(
        v["message"].as_str().unwrap_or_default().contains("colour"),
        "{v}"
    );
    let mut body = application_body(&c, "individual");
    body["owner"]["nickname"] = json!("Ваня");
    api.post("/api/v1/applications", &body)
        .await
        .assert_error(400, "invalid_body");
    // Malformed JSON.
    for raw in [&b"{"[..], b"{\"name\": }", b"not json", b"[1,2,3]"] {
        api.post_raw("/api/v1/organizations", "application/json", raw.to_vec())
            .await
            .assert_error(400, "invalid_body");
    }
    // Missing required field, wrong type.
    api.post("/api/v1/organizations", &json!({}))
        .await
        .assert_error(400, "invalid_body");
    api.post(
        "/api/v1/points",
        &json!({"parent_id": c.branch, "name": "P", "email": "p@e.ru", "limit": "ten"}),
    )
    .await
    .assert_error(400, "invalid_body");
    // No content type.
    api.send(
        Method::POST,
        "/api/v1/organizations",
        None,
        br#"{"name":"X"}"#.to_vec(),
        Some(&bearer()),
    )
    .await
    .assert_error(415, "unsupported_media_type");
}

#[tokio::test]
async fn oversized_bodies_are_413_json() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let big = "а".repeat(150 * 1024); // 300 KiB of UTF-8
    let body = json!({"name": big});
    api.post("/api/v1/organizations", &body)
        .await
        .assert_error(413, "payload_too_large");
    // A CSR upload (raw body) over the limit is refused the same way, and changes nothing.
    let app = submit(&api, &c, "individual").await;
    let app_id = id(&app);
    let before = snapshot(&app);
    let r = api
        .post_raw(
            &format!("/api/v1/applications/{app_id}/csr"),
            "application/pkcs10",
            vec![0x30; 300 * 1024],
        )
        .await;
    r.assert_error(413, "payload_too_large");
    let r = api
        .post(
            &format!("/api/v1/applications/{app_id}/csr"),
            &json!({"csr": "A".repeat(300 * 1024)}),
        )
        .await;
    r.assert_error(413, "payload_too_large");
    assert_eq!(before, snapshot(&application(&api, &app_id).await));
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let api = Api::new().await;
    let none = "00000000-0000-4000-8000-000000000000";
    for path in [
        format!("/api/v1/applications/{none}"),
        format!("/api/v1/applications/{none}/request-template"),
        format!("/api/v1/applications/{none}/certificate"),
        "/api/v1/applications/not-an-id".to_owned(),
        format!("/api/v1/points/{none}"),
        format!("/api/v1/products/{none}"),
        format!("/api/v1/services/{none}"),
        format!("/api/v1/organizations/{none}"),
        format!("/api/v1/branches/{none}"),
        "/api/v1/certificates/00ff00ff".to_owned(),
        "/api/v1/certificates/zz".to_owned(),
    ] {
        api.get(&path).await.assert_error(404, "not_found");
    }
    for action in ["approve", "issue"] {
        api.post_empty(&format!("/api/v1/applications/{none}/{action}"))
            .await
            .assert_error(404, "not_found");
    }
    api.patch(
        &format!("/api/v1/organizations/{none}"),
        &json!({"blocked": true}),
    )
    .await
    .assert_error(404, "not_found");
}

async fn assert_unchanged_after(
    api: &Api,
    app_id: &str,
    path: &str,
    status: u16,
    code: &str,
) -> Value {
    let before = snapshot(&application(api, app_id).await);
    let v = api.post_empty(path).await.assert_error(status, code);
    assert_eq!(
        before,
        snapshot(&application(api, app_id).await),
        "{path} changed the application"
    );
    v
}

#[tokio::test]
async fn illegal_transitions_are_409() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    // Approve an application awaiting its CSR when the service needs no approval.
    let app = submit(&api, &c, "individual").await;
    let app_id = id(&app);
    assert_eq!(app["status"], "awaiting_csr");
    assert_unchanged_after(
        &api,
        &app_id,
        &format!("/api/v1/applications/{app_id}/approve"),
        409,
        "invalid_transition",
    )
    .await;
    // Attach, then approving is still not a step of this service.
    let (_, t) = template(&api, &app_id).await;
    api.post_raw(
        &format!("/api/v1/applications/{app_id}/csr"),
        "application/pkcs10",
        csr_der(&t),
    )
    .await
    .expect(200);
    assert_unchanged_after(
        &api,
        &app_id,
        &format!("/api/v1/applications/{app_id}/approve"),
        409,
        "invalid_transition",
    )
    .await;
    // Issue twice.
    api.post_empty(&format!("/api/v1/applications/{app_id}/issue"))
        .await
        .expect(201);
    let p1 = crate::common::point(&api, &c.point).await;
    assert_unchanged_after(
        &api,
        &app_id,
        &format!("/api/v1/applications/{app_id}/issue"),
        409,
        "invalid_transition",
    )
    .await;
    let p2 = crate::common::point(&api, &c.point).await;
    assert_eq!(
        p1["issued"], p2["issued"],
        "a refused second issue debited the point"
    );
    // A CSR after issuance.
    let before = snapshot(&application(&api, &app_id).await);
    api.post_raw(
        &format!("/api/v1/applications/{app_id}/csr"),
        "application/pkcs10",
        csr_der(&t),
    )
    .await
    .assert_error(409, "invalid_transition");
    assert_eq!(before, snapshot(&application(&api, &app_id).await));
    // Cancel needs a reason; a cancelled application cannot be issued.
    let other = submit_with_csr(&api, &c, "legal_entity").await;
    let other_id = id(&other);
    let v = api
        .post(
            &format!("/api/v1/applications/{other_id}/cancel"),
            &json!({"reason": "  "}),
        )
        .await
        .assert_error(422, "invalid_field");
    assert_eq!(v["field"], "reason");
    let cancelled = api
        .post(
            &format!("/api/v1/applications/{other_id}/cancel"),
            &json!({"reason": "передумал"}),
        )
        .await
        .expect(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_unchanged_after(
        &api,
        &other_id,
        &format!("/api/v1/applications/{other_id}/issue"),
        409,
        "invalid_transition",
    )
    .await;
    api.get(&format!("/api/v1/applications/{other_id}/certificate"))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn issue_before_csr_is_refused_and_changes_nothing() {
    let api = Api::new().await;
    let c = catalog(&api, Opts::default()).await;
    let app = submit(&api, &c, "sole_proprietor").await;
    let app_id = id(&app);
    let before = snapshot(&app);
    api.post_empty(&format!("/api/v1/applications/{app_id}/issue"))
        .await
        .assert_error(409, "invalid_transition");
    assert_eq!(before, snapshot(&application(&api, &app_id).await));
    assert_eq!(crate::common::point(&api, &c.point).await["issued"], 0);
}
