//! Shared helpers: an embedded engine behind the router, a request helper, the
//! demo's valid sample data and a catalog fixture built through the API.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;
use utrust_core::Engine;
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::identifiers::Oid;
use utrust_core::domain::request::{RequestTemplate, RequestedExtensions, SubjectAttribute};
use utrust_pki::{SoftwareKey, build_request, to_pem};
use utrust_server::{AppState, router};

pub const TOKEN: &str = "test-admin-token-0123456789";

/// A response: status, headers, raw body.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response {} is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a JSON error with this status and code; returns the body.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status} {code}, got {}: {}",
            self.status,
            self.text()
        );
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            ct.starts_with("application/json"),
            "error content-type is {ct:?}: {}",
            self.text()
        );
        let v = self.json();
        assert_eq!(v["error"], code, "error body: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "error without message: {v}"
        );
        v
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self.json()
    }
}

/// The router on a fresh embedded engine (SQLite + local CA in a temp dir).
pub struct Api {
    pub router: Router,
    pub engine: Engine,
    _dir: TempDir,
}

impl Api {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (engine, _) = utrust_server::bootstrap::embedded_engine(dir.path())
            .await
            .expect("embedded engine");
        let router = router(AppState::new(engine.clone(), TOKEN.to_owned()));
        Self {
            router,
            engine,
            _dir: dir,
        }
    }

    /// Sends one request; `auth` is the full `Authorization` header value.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        auth: Option<&str>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let req = req.body(Body::from(body)).expect("request");
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("infallible router");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, Vec::new(), Some(&bearer()))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send_json(Method::POST, path, body).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send_json(Method::PATCH, path, body).await
    }

    pub async fn send_json(&self, method: Method, path: &str, body: &Value) -> Resp {
        let bytes = serde_json::to_vec(body).expect("json");
        self.send(
            method,
            path,
            Some("application/json"),
            bytes,
            Some(&bearer()),
        )
        .await
    }

    /// POST without a body (approve, issue).
    pub async fn post_empty(&self, path: &str) -> Resp {
        self.send(Method::POST, path, None, Vec::new(), Some(&bearer()))
            .await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        self.send(
            Method::POST,
            path,
            Some(content_type),
            body,
            Some(&bearer()),
        )
        .await
    }

    /// Creates and returns the id of the created object (asserting 201 and "id").
    pub async fn create(&self, path: &str, body: &Value) -> Value {
        let r = self.post(path, body).await;
        let v = r.expect(201);
        assert!(
            v["id"].as_str().is_some_and(|s| !s.is_empty()),
            "{path}: no id in {v}"
        );
        v
    }
}

pub fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// Products, agent network and a service, created through the API.
pub struct Catalog {
    pub kep: String,
    pub etp: String,
    pub organization: String,
    pub branch: String,
    pub point: String,
    pub service: String,
}

pub const KEP_COMMON: [&str; 3] = ["1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4", "1.2.643.2.2.34.6"];

/// Options of the catalog fixture.
#[derive(Clone, Copy)]
pub struct Opts {
    pub limit: i64,
    pub etp_quantity: i64,
    pub approval_required: bool,
    pub key_algorithm: Option<&'static str>,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            limit: 10,
            etp_quantity: 5,
            approval_required: false,
            key_algorithm: None,
        }
    }
}

pub async fn catalog(api: &Api, opts: Opts) -> Catalog {
    let kep = api
        .create(
            "/api/v1/products",
            &json!({
                "code": "KEP", "name": "Квалифицированная электронная подпись",
                "quantity_accounting": false,
                "oids": {"common": KEP_COMMON, "legal_entity": ["1.2.643.100.2.2"],
                         "individual": ["1.2.643.100.2.1"], "sole_proprietor": ["1.2.643.100.2.1"]}
            }),
        )
        .await;
    let etp = api
        .create(
            "/api/v1/products",
            &json!({
                "code": "ETP", "name": "Электронные торговые площадки",
                "quantity_accounting": true,
                "oids": {"common": ["1.2.643.6.3"], "legal_entity": ["1.2.643.6.3.1.2.1"],
                         "individual": ["1.2.643.6.3.1.2.2"], "sole_proprietor": ["1.2.643.6.3.1.2.3"]}
            }),
        )
        .await;
    let org = api
        .create(
            "/api/v1/organizations",
            &json!({"name": "ООО «Агент УЦ»", "inn": "7802668116"}),
        )
        .await;
    let branch = api
        .create(
            "/api/v1/branches",
            &json!({"organization_id": id(&org), "name": "Московский филиал"}),
        )
        .await;
    let point = api
        .create(
            "/api/v1/points",
            &json!({
                "parent_id": id(&branch), "name": "Точка «Тверская»",
                "email": "tverskaya@agent.example.ru", "region": "77", "limit": opts.limit,
                "quantities": [{"product_id": id(&etp), "quantity": opts.etp_quantity}]
            }),
        )
        .await;
    let mut service = json!({
        "name": "Выпуск КЭП",
        "products": [id(&kep), id(&etp)],
        "applicant_kinds": ["individual", "sole_proprietor", "legal_entity"],
        "points": [id(&point)],
        "approval_required": opts.approval_required,
        "smev_checks": []
    });
    if let Some(k) = opts.key_algorithm {
        service["key_algorithm"] = json!(k);
    }
    let service = api.create("/api/v1/services", &service).await;
    Catalog {
        kep: id(&kep),
        etp: id(&etp),
        organization: id(&org),
        branch: id(&branch),
        point: id(&point),
        service: id(&service),
    }
}

pub const KINDS: [&str; 3] = ["individual", "sole_proprietor", "legal_entity"];

/// A valid application body for `kind` (the demo's sample people).
pub fn application_body(c: &Catalog, kind: &str) -> Value {
    let passport = json!({"series": "4510", "number": "123456", "issued_on": "2015-06-01", "issuer_code": "770-001"});
    let address = json!({"region_code": "77", "region_name": "г. Москва", "locality": "Москва",
                         "street": "ул. Тверская, д. 1", "kladr": "7700000000000"});
    let mut body = json!({
        "service_id": c.service, "point_id": c.point, "applicant_kind": kind,
        "products": [c.kep, c.etp], "address": address,
    });
    match kind {
        "individual" => {
            body["owner"] = json!({"surname": "Иванов", "given_name": "Иван", "patronymic": "Иванович",
                "snils": "112-233-445 95", "inn": "500100732259", "email": "ivanov@example.ru",
                "birth_date": "1985-04-12", "passport": passport});
        }
        "sole_proprietor" => {
            body["owner"] = json!({"surname": "Петров", "given_name": "Пётр", "patronymic": "Петрович",
                "snils": "64270954807", "inn": "561100409545", "email": "petrov@example.ru",
                "passport": passport});
            body["organization"] = json!({"ogrnip": "304770200100005"});
        }
        "legal_entity" => {
            body["owner"] = json!({"surname": "Сидорова", "given_name": "Анна", "patronymic": "Сергеевна",
                "snils": "123-456-789 64", "inn": "773612345650", "email": "sidorova@romashka.example.ru",
                "position": "Генеральный директор"});
            body["organization"] = json!({"name": "ООО «Ромашка»", "inn": "7707083893",
                "kpp": "770701001", "ogrn": "1027700132195"});
        }
        other => panic!("unknown kind {other}"),
    }
    body
}

/// Submits an application; returns its JSON.
pub async fn submit(api: &Api, c: &Catalog, kind: &str) -> Value {
    api.create("/api/v1/applications", &application_body(c, kind))
        .await
}

/// The request template fetched over HTTP, converted back to the domain type.
pub async fn template(api: &Api, app_id: &str) -> (Value, RequestTemplate) {
    let v = api
        .get(&format!("/api/v1/applications/{app_id}/request-template"))
        .await
        .expect(200);
    let t = template_from_json(&v);
    (v, t)
}

pub fn template_from_json(v: &Value) -> RequestTemplate {
    let oid = |o: &Value| Oid::parse(o.as_str().expect("oid string")).expect("valid oid");
    let list = |o: &Value| {
        o.as_array()
            .expect("array")
            .iter()
            .map(oid)
            .collect::<Vec<_>>()
    };
    let ext = &v["extensions"];
    RequestTemplate {
        key_algorithm: KeyAlgorithm::from_name(v["key_algorithm"].as_str().expect("key_algorithm"))
            .expect("known key algorithm"),
        subject: v["subject"]
            .as_array()
            .expect("subject array")
            .iter()
            .map(|a| SubjectAttribute {
                oid: oid(&a["oid"]),
                value: a["value"].as_str().expect("value").to_owned(),
                string_type: serde_json::from_value(a["type"].clone()).expect("string type"),
            })
            .collect(),
        extensions: RequestedExtensions {
            key_usage: serde_json::from_value(ext["key_usage"].clone()).expect("key usage names"),
            extended_key_usage: list(&ext["extended_key_usage"]),
            certificate_policies: list(&ext["certificate_policies"]),
        },
    }
}

/// A DER CSR built from `t` with a fresh key of the template's algorithm.
pub fn csr_der(t: &RequestTemplate) -> Vec<u8> {
    let key = SoftwareKey::generate(t.key_algorithm).expect("key");
    build_request(t, &key).expect("csr")
}

pub fn csr_pem(t: &RequestTemplate) -> String {
    to_pem("CERTIFICATE REQUEST", &csr_der(t))
}

/// Submits, attaches a CSR built from the HTTP template; returns the app JSON.
pub async fn submit_with_csr(api: &Api, c: &Catalog, kind: &str) -> Value {
    let app = submit(api, c, kind).await;
    let app_id = id(&app);
    let (_, t) = template(api, &app_id).await;
    api.post_raw(
        &format!("/api/v1/applications/{app_id}/csr"),
        "application/x-pem-file",
        csr_pem(&t).into_bytes(),
    )
    .await
    .expect(200)
}

pub async fn point(api: &Api, point_id: &str) -> Value {
    api.get(&format!("/api/v1/points/{point_id}"))
        .await
        .expect(200)
}

pub async fn application(api: &Api, app_id: &str) -> Value {
    api.get(&format!("/api/v1/applications/{app_id}"))
        .await
        .expect(200)
}

/// Status, version and history length: what must not change on a refusal.
pub fn snapshot(app: &Value) -> (String, u64, usize, bool) {
    (
        app["status"].as_str().expect("status").to_owned(),
        app["version"].as_u64().expect("version"),
        app["history"].as_array().expect("history").len(),
        app["csr_attached"].as_bool().expect("csr_attached"),
    )
}

/// Whether a command can be run (for the external checks).
pub fn tool_available(cmd: &str, args: &[&str]) -> bool {
    std::process::Command::new(cmd)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Under `CI=true` a missing tool fails the test; otherwise it is skipped.
/// Returns `true` when the caller should return (skip).
pub fn skip_or_fail(reason: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("CI=true and a required tool is missing: {reason}");
    }
    println!("SKIPPED: {reason}");
    true
}
