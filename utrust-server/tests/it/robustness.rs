//! Robustness of the request parsing: for every endpoint that takes a JSON body,
//! oversized, malformed, unknown-field and mistyped bodies (and a missing
//! content type) get 4xx JSON errors and change nothing — the whole visible
//! state (every listing, the applications with their history, the point's
//! counters, the certificate) is the same before and after. Query-string garbage
//! on the listings gets 400/422 JSON errors.

use axum::http::{Method, header};
use serde_json::{Value, json};

use crate::common::{Api, Catalog, Opts, Resp, application_body, bearer, catalog, csr_pem, id};

const PASSWORD: &str = "robust-password-123";

/// More than the 256 KiB limit.
const OVERSIZED: usize = 300 * 1024;

/// How an endpoint reads its body.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Parse {
    /// `ApiJson`: needs `Content-Type: application/json`.
    Json,
    /// Raw bytes parsed as JSON when present (reasons, re-run checks, revoke;
    /// the CSR as JSON — without the JSON content type it is a raw CSR).
    Optional,
}

struct Endpoint {
    method: Method,
    path: String,
    parse: Parse,
    /// A body the parser accepts; variants of it are sent.
    valid: Value,
    /// Whether the request needs no token.
    public: bool,
}

fn ep(method: Method, path: String, parse: Parse, valid: Value) -> Endpoint {
    Endpoint {
        method,
        path,
        parse,
        valid,
        public: false,
    }
}

struct Fixture {
    api: Api,
    cat: Catalog,
    /// An application with its CSR, ready to issue.
    open_app: String,
    /// An issued application and its certificate.
    issued_app: String,
    serial: String,
    /// A staff user without an employee record.
    staffer: String,
    csr: String,
}

async fn fixture() -> Fixture {
    let api = Api::new().await;
    let cat = catalog(&api, Opts::default()).await;
    let open = crate::common::submit_with_csr(&api, &cat, "individual").await;
    let issued = crate::common::submit_with_csr(&api, &cat, "legal_entity").await;
    let issued_app = id(&issued);
    let cert = api
        .post_empty(&format!("/api/v1/applications/{issued_app}/issue"))
        .await
        .expect(201);
    let staffer = api
        .create(
            "/api/v1/users",
            &json!({"username": "staffer", "password": PASSWORD, "staff": true}),
        )
        .await;
    let open_app = id(&open);
    let (_, t) = crate::common::template(&api, &open_app).await;
    Fixture {
        cat,
        open_app,
        issued_app,
        serial: cert["serial"].as_str().expect("serial").to_owned(),
        staffer: id(&staffer),
        csr: csr_pem(&t),
        api,
    }
}

fn endpoints(f: &Fixture) -> Vec<Endpoint> {
    let c = &f.cat;
    let app = &f.open_app;
    let mut login = ep(
        Method::POST,
        "/api/v1/sessions".into(),
        Parse::Json,
        json!({"username": "staffer", "password": PASSWORD}),
    );
    login.public = true;
    vec![
        login,
        ep(
            Method::POST,
            "/api/v1/products".into(),
            Parse::Json,
            json!({"code": "NEW", "name": "Новый продукт", "quantity_accounting": false,
                   "oids": {"common": ["1.2.643.6.3"]}, "price_kopecks": 100}),
        ),
        ep(
            Method::POST,
            "/api/v1/organizations".into(),
            Parse::Json,
            json!({"name": "ООО «Новое»", "inn": "7707083893", "kind": "legal_entity", "blocked": false}),
        ),
        ep(
            Method::PATCH,
            format!("/api/v1/organizations/{}", c.organization),
            Parse::Json,
            json!({"blocked": true}),
        ),
        ep(
            Method::POST,
            "/api/v1/branches".into(),
            Parse::Json,
            json!({"organization_id": c.organization, "name": "Новый филиал"}),
        ),
        ep(
            Method::PATCH,
            format!("/api/v1/branches/{}", c.branch),
            Parse::Json,
            json!({"blocked": true}),
        ),
        ep(
            Method::POST,
            "/api/v1/points".into(),
            Parse::Json,
            json!({"parent_id": c.branch, "name": "Новая точка", "email": "new@agent.example.ru",
                   "limit": 5, "technical": false, "latitude": 55.75,
                   "quantities": [{"product_id": c.etp, "quantity": 3}]}),
        ),
        ep(
            Method::PATCH,
            format!("/api/v1/points/{}", c.point),
            Parse::Json,
            json!({"limit": 3, "blocked": true,
                   "quantities": [{"product_id": c.etp, "quantity": 1}]}),
        ),
        ep(
            Method::POST,
            "/api/v1/services".into(),
            Parse::Json,
            json!({"name": "Новая услуга", "products": [c.kep], "points": [c.point],
                   "approval_required": true, "validity_days": 365, "active": true}),
        ),
        ep(
            Method::POST,
            "/api/v1/users".into(),
            Parse::Json,
            json!({"username": "newcomer", "password": PASSWORD, "active": true, "staff": true,
                   "permissions": ["manage_catalog"]}),
        ),
        ep(
            Method::POST,
            "/api/v1/employees".into(),
            Parse::Json,
            json!({"user_id": f.staffer, "surname": "Новиков", "given_name": "Олег",
                   "email": "novikov@agent.example.ru", "referral_id": c.point,
                   "visibility": [c.point], "permissions": ["process_applications"],
                   "notify": true}),
        ),
        ep(
            Method::POST,
            "/api/v1/tokens".into(),
            Parse::Json,
            json!({"name": "ci", "user_id": f.staffer}),
        ),
        ep(
            Method::POST,
            "/api/v1/applications".into(),
            Parse::Json,
            application_body(c, "individual"),
        ),
        ep(
            Method::POST,
            format!("/api/v1/applications/{app}/csr"),
            Parse::Optional,
            json!({"csr": f.csr}),
        ),
        ep(
            Method::POST,
            format!("/api/v1/applications/{app}/reject"),
            Parse::Optional,
            json!({"reason": "документы не приложены"}),
        ),
        ep(
            Method::POST,
            format!("/api/v1/applications/{app}/cancel"),
            Parse::Optional,
            json!({"reason": "по просьбе заявителя"}),
        ),
        ep(
            Method::POST,
            format!("/api/v1/applications/{app}/accept-paper"),
            Parse::Optional,
            json!({"reason": "паспорт предъявлен"}),
        ),
        ep(
            Method::POST,
            format!("/api/v1/applications/{app}/rerun-checks"),
            Parse::Optional,
            json!({"owner": null}),
        ),
        ep(
            Method::POST,
            format!("/api/v1/certificates/{}/revoke", f.serial),
            Parse::Optional,
            json!({"reason": "keyCompromise"}),
        ),
    ]
}

/// Every listing in full and the objects under test: what must not change.
async fn state(f: &Fixture) -> Value {
    let mut s = serde_json::Map::new();
    for list in [
        "products",
        "services",
        "organizations",
        "branches",
        "points",
        "users",
        "employees",
        "applications",
    ] {
        let v = f
            .api
            .get(&format!("/api/v1/{list}?limit=500"))
            .await
            .expect(200);
        assert!(v["next"].is_null(), "{list} has more than one page");
        s.insert(list.into(), v["items"].clone());
    }
    for (key, path) in [
        ("open_app", format!("/api/v1/applications/{}", f.open_app)),
        (
            "issued_app",
            format!("/api/v1/applications/{}", f.issued_app),
        ),
        ("certificate", format!("/api/v1/certificates/{}", f.serial)),
        ("point", format!("/api/v1/points/{}", f.cat.point)),
        (
            "organization",
            format!("/api/v1/organizations/{}", f.cat.organization),
        ),
        ("branch", format!("/api/v1/branches/{}", f.cat.branch)),
    ] {
        s.insert(key.into(), f.api.get(&path).await.expect(200));
    }
    Value::Object(s)
}

async fn send(f: &Fixture, e: &Endpoint, content_type: Option<&str>, body: Vec<u8>) -> Resp {
    let auth = (!e.public).then(bearer);
    f.api
        .send(
            e.method.clone(),
            &e.path,
            content_type,
            body,
            auth.as_deref(),
        )
        .await
}

/// Asserts a JSON error with one of `statuses`; returns the code.
#[track_caller]
fn assert_json_error(r: &Resp, statuses: &[u16], what: &str) -> String {
    assert!(
        statuses.contains(&r.status.as_u16()),
        "{what}: expected one of {statuses:?}, got {}: {}",
        r.status,
        r.text()
    );
    let ct = r
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        ct.starts_with("application/json"),
        "{what}: error content-type {ct:?}: {}",
        r.text()
    );
    let v = r.json();
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: no message in {v}"
    );
    assert!(v.get("token").is_none(), "{what}: a token in an error: {v}");
    v["error"].as_str().expect("error code").to_owned()
}

/// Variants of a valid body with one top-level field of the wrong type.
fn mistyped(valid: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Some(obj) = valid.as_object() else {
        return out;
    };
    for (k, v) in obj {
        let wrong = match v {
            Value::String(_) => json!(42),
            Value::Number(_) => json!("forty-two"),
            Value::Bool(_) => json!("yes"),
            Value::Array(_) => json!({"not": "a list"}),
            Value::Object(_) => json!(["not", "an", "object"]),
            Value::Null => json!(true),
        };
        let mut body = valid.clone();
        body[k] = wrong;
        out.push((format!("{k} mistyped"), body));
    }
    out
}

/// Nested mistypes: a wrong type deep inside (arrays of objects, objects).
fn nested_mistyped(valid: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Some(obj) = valid.as_object() else {
        return out;
    };
    for (k, v) in obj {
        if let Some(inner) = v.as_object()
            && let Some((ik, _)) = inner.iter().next()
        {
            let mut body = valid.clone();
            body[k][ik] = json!([1, 2, 3]);
            out.push((format!("{k}.{ik} mistyped"), body));
        }
        if let Some(first) = v.as_array().and_then(|a| a.first())
            && first.is_object()
        {
            let mut body = valid.clone();
            body[k][0]["bogus"] = json!(1);
            out.push((format!("{k}[0].bogus"), body));
        }
    }
    out
}

#[tokio::test]
async fn bad_bodies_get_json_4xx_and_change_nothing() {
    let f = fixture().await;
    let eps = endpoints(&f);
    let mut before = state(&f).await;
    for e in &eps {
        let what = |case: &str| format!("{} {} ({case})", e.method, e.path);
        let json_ct = Some("application/json");

        // Oversized: a valid body padded past the limit.
        let mut big = e.valid.clone();
        big["padding"] = json!("x".repeat(OVERSIZED));
        let r = send(&f, e, json_ct, serde_json::to_vec(&big).expect("json")).await;
        assert_eq!(
            assert_json_error(&r, &[413], &what("oversized")),
            "payload_too_large"
        );
        // Oversized and not JSON at all.
        let r = send(&f, e, json_ct, vec![b'{'; OVERSIZED]).await;
        assert_eq!(
            assert_json_error(&r, &[413], &what("oversized garbage")),
            "payload_too_large"
        );

        // Malformed.
        let valid_text = e.valid.to_string();
        let truncated = valid_text.as_bytes()[..valid_text.len() / 2].to_vec();
        for (case, body) in [
            ("truncated", truncated),
            ("not json", b"username=x&password=y".to_vec()),
            ("trailing garbage", format!("{valid_text} {{").into_bytes()),
            ("invalid utf-8", b"{\"name\": \"\xff\xfe\"}".to_vec()),
            ("single quotes", b"{'name': 'x'}".to_vec()),
        ] {
            let r = send(&f, e, json_ct, body).await;
            assert_eq!(
                assert_json_error(&r, &[400], &what(case)),
                "invalid_body",
                "{}",
                what(case)
            );
        }

        // Unknown field on an otherwise valid body.
        let mut unknown = e.valid.clone();
        unknown["bogus_field"] = json!(1);
        let r = send(&f, e, json_ct, serde_json::to_vec(&unknown).expect("json")).await;
        assert_eq!(
            assert_json_error(&r, &[400], &what("unknown field")),
            "invalid_body"
        );

        // Wrong JSON types: the top level, each field, and nested ones.
        let mut wrong: Vec<(String, Value)> = vec![
            ("array".into(), json!([e.valid.clone()])),
            ("string".into(), json!("text")),
            ("number".into(), json!(42)),
            ("null".into(), Value::Null),
        ];
        wrong.extend(mistyped(&e.valid));
        wrong.extend(nested_mistyped(&e.valid));
        for (case, body) in &wrong {
            let r = send(&f, e, json_ct, serde_json::to_vec(body).expect("json")).await;
            assert_json_error(&r, &[400, 422], &what(case));
        }

        // No content type on a JSON endpoint: 415.
        if e.parse == Parse::Json {
            let r = send(&f, e, None, e.valid.to_string().into_bytes()).await;
            assert_eq!(
                assert_json_error(&r, &[415], &what("no content type")),
                "unsupported_media_type"
            );
            let r = send(&f, e, Some("text/plain"), e.valid.to_string().into_bytes()).await;
            assert_json_error(&r, &[415], &what("text/plain"));
        }

        let after = state(&f).await;
        assert_eq!(
            before, after,
            "{} {}: state changed by refused bodies",
            e.method, e.path
        );
        before = after;
    }

    // The CSR endpoint also takes raw bodies: oversized raw PEM is 413 too,
    // and an empty body 422.
    let csr_ep = eps
        .iter()
        .find(|e| e.path.ends_with("/csr"))
        .expect("csr endpoint");
    let r = send(
        &f,
        csr_ep,
        Some("application/x-pem-file"),
        vec![b'A'; OVERSIZED],
    )
    .await;
    assert_eq!(
        assert_json_error(&r, &[413], "raw oversized CSR"),
        "payload_too_large"
    );
    let r = send(&f, csr_ep, Some("application/pkcs10"), Vec::new()).await;
    assert_json_error(&r, &[422], "empty CSR");
    // Revoke needs a body.
    let revoke = eps
        .iter()
        .find(|e| e.path.ends_with("/revoke"))
        .expect("revoke");
    let r = send(&f, revoke, None, Vec::new()).await;
    assert_eq!(
        assert_json_error(&r, &[400], "revoke without body"),
        "invalid_body"
    );
    // Bulk CSV (not JSON): oversized is 413, a garbage query 400/422.
    let bulk = f
        .api
        .create(
            "/api/v1/services",
            &json!({"name": "Массовая", "products": [f.cat.kep], "points": [f.cat.point],
                    "smev_checks": [], "bulk_csv": true}),
        )
        .await;
    before = state(&f).await;
    let bulk_path = format!(
        "/api/v1/applications/bulk?service_id={}&point_id={}",
        id(&bulk),
        f.cat.point
    );
    let mut csv = b"applicant_kind,surname,given_name,snils,inn,email\n".to_vec();
    while csv.len() <= OVERSIZED {
        csv.extend_from_slice(b"individual,Ivanov,Ivan,11223344595,500100732259,i@example.ru\n");
    }
    let r = f.api.post_raw(&bulk_path, "text/csv", csv).await;
    assert_eq!(
        assert_json_error(&r, &[413], "oversized CSV"),
        "payload_too_large"
    );
    for q in [
        "",
        "?service_id=x&point_id=y",
        "?bogus=1",
        "?point_id=&service_id=",
    ] {
        let r = f
            .api
            .post_raw(
                &format!("/api/v1/applications/bulk{q}"),
                "text/csv",
                b"a\n".to_vec(),
            )
            .await;
        assert_json_error(&r, &[400, 422], &format!("bulk query {q:?}"));
    }
    assert_eq!(before, state(&f).await, "raw CSR, empty revoke, bulk");

    // Control: the valid bodies themselves pass the parser (so the refusals
    // above were about the garbage). They may still be refused by the domain.
    for e in &eps {
        let r = send(
            &f,
            e,
            Some("application/json"),
            e.valid.to_string().into_bytes(),
        )
        .await;
        assert!(
            !matches!(r.status.as_u16(), 400 | 413 | 415) && r.status.as_u16() < 500,
            "{} {}: the valid body was refused: {} {}",
            e.method,
            e.path,
            r.status,
            r.text()
        );
    }
}

#[tokio::test]
async fn wrong_field_values_get_422_json_and_change_nothing() {
    // Well-typed but invalid values: the domain refuses them with a field.
    let f = fixture().await;
    let before = state(&f).await;
    let c = &f.cat;
    let cases: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/api/v1/users".into(),
            json!({"username": "x", "password": PASSWORD}),
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            json!({"username": "shorty", "password": "short"}),
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            json!({"username": "perms", "password": PASSWORD, "permissions": ["fly"]}),
        ),
        (
            Method::POST,
            "/api/v1/employees".into(),
            json!({"user_id": "not-an-id", "surname": "А", "given_name": "Б",
                   "email": "a@b.ru", "referral_id": c.point}),
        ),
        (
            Method::POST,
            "/api/v1/employees".into(),
            json!({"user_id": f.staffer, "surname": "А", "given_name": "Б",
                   "email": "not an email", "referral_id": c.point}),
        ),
        (
            Method::POST,
            "/api/v1/employees".into(),
            json!({"user_id": f.staffer, "surname": "А", "given_name": "Б",
                   "email": "a@b.ru", "referral_id": c.point, "visibility": [c.kep]}),
        ),
        (
            Method::POST,
            "/api/v1/points".into(),
            json!({"parent_id": c.branch, "name": "P", "email": "p@b.ru", "latitude": 91.0}),
        ),
        (
            Method::POST,
            "/api/v1/points".into(),
            json!({"parent_id": c.branch, "name": "P", "email": "p@b.ru", "limit": -7}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/points/{}", c.point),
            json!({"limit": 3, "quantities": [{"product_id": c.etp, "quantity": 100_000}]}),
        ),
        (
            Method::POST,
            "/api/v1/organizations".into(),
            json!({"name": "O", "inn": "1234567890"}),
        ),
        (
            Method::POST,
            "/api/v1/services".into(),
            json!({"name": "S", "products": [c.kep], "smev_checks": ["horoscope"]}),
        ),
        (
            Method::POST,
            "/api/v1/tokens".into(),
            json!({"name": "  ", "user_id": f.staffer}),
        ),
        (
            Method::POST,
            format!("/api/v1/certificates/{}/revoke", f.serial),
            json!({"reason": "bored"}),
        ),
        (Method::POST, "/api/v1/applications".into(), {
            let mut b = application_body(c, "individual");
            b["owner"]["snils"] = json!("112-233-445 00");
            b
        }),
    ];
    for (method, path, body) in cases {
        let r = f.api.send_json(method.clone(), &path, &body).await;
        let code = assert_json_error(&r, &[422], &format!("{method} {path} {body}"));
        assert_ne!(code, "internal");
    }
    assert_eq!(before, state(&f).await);
}

#[tokio::test]
async fn query_string_garbage_on_listings_is_a_json_4xx() {
    let f = fixture().await;
    let before = state(&f).await;
    let lists = [
        "products",
        "services",
        "organizations",
        "branches",
        "points",
        "users",
        "employees",
        "applications",
        "accounts",
        "devices",
    ];
    for list in lists {
        for q in [
            "limit=abc",
            "limit=0",
            "limit=501",
            "limit=-1",
            "limit=1e3",
            "limit=",
            "after=not-an-id",
            "after=",
            "bogus=1",
            "%zz=1",
            "limit=10&bogus",
            "after=00000000-0000-0000-0000-00000000000g",
        ] {
            let r = f.api.get(&format!("/api/v1/{list}?{q}")).await;
            assert_json_error(&r, &[400, 422], &format!("GET /{list}?{q}"));
        }
        // A well-formed query still works.
        let v = f
            .api
            .get(&format!("/api/v1/{list}?limit=1"))
            .await
            .expect(200);
        assert!(v["items"].as_array().is_some_and(|a| a.len() <= 1), "{v}");
    }
    for q in [
        "status=flying",
        "point_id=nope",
        "service_id=42",
        &format!("point_id={}&status=", f.cat.point),
    ] {
        let r = f.api.get(&format!("/api/v1/applications?{q}")).await;
        assert_json_error(&r, &[400, 422], &format!("GET /applications?{q}"));
    }
    assert_eq!(before, state(&f).await);
}

#[tokio::test]
async fn bad_path_ids_are_404_json() {
    let f = fixture().await;
    let before = state(&f).await;
    for path in [
        "/api/v1/products/not-an-id",
        "/api/v1/organizations/%00",
        "/api/v1/branches/123",
        "/api/v1/points/..%2F..%2Fetc",
        "/api/v1/users/null",
        "/api/v1/employees/00000000-0000-0000-0000-000000000000",
        "/api/v1/services/x",
        "/api/v1/applications/zzz",
        "/api/v1/applications/zzz/certificate",
        "/api/v1/certificates/not-hex",
        "/api/v1/certificates/00",
        "/api/v1/nonexistent",
    ] {
        let r = f.api.get(path).await;
        assert_json_error(&r, &[404], path);
    }
    for path in [
        "/api/v1/applications/zzz/approve",
        "/api/v1/certificates/not-hex/suspend",
    ] {
        let r = f.api.post_empty(path).await;
        assert_json_error(&r, &[404], path);
    }
    let r = f
        .api
        .patch("/api/v1/points/not-an-id", &json!({"limit": 1}))
        .await;
    assert_json_error(&r, &[404], "PATCH bad point id");
    // A method the route does not have: a 4xx, never a 5xx.
    let r = f
        .api
        .send(
            Method::PUT,
            "/api/v1/products",
            None,
            Vec::new(),
            Some(&bearer()),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert_eq!(before, state(&f).await);
}
