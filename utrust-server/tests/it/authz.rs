//! Authorization acceptance: every route of the router × every kind of principal
//! (no credentials, the bootstrap admin token, a superuser's session, an API
//! token, employees with and without permissions and with different visibility,
//! an applicant), with the expected outcome of each cell; and the login rules
//! (inactive users, employees of blocked points and organizations, logout,
//! expiry).
//!
//! The table [`ROWS`] is the single list of routes: a test reads
//! `src/api/mod.rs` and fails when a `.route(…)` there has no row here (or a row
//! names a route that does not exist).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use utrust_core::ports::{Clock, ManualClock};
use utrust_server::{AppState, router};

use crate::common::{
    Api, Catalog, KEP_COMMON, Resp, TOKEN, application_body, csr_pem, id, template_from_json,
};

const PASSWORD: &str = "correct-horse-battery-staple";

/// The principals of the matrix, in the order of the expectation strings.
const WHO: [&str; 8] = [
    "anonymous",
    "admin_token",
    "superuser",
    "api_token",
    "employee_a",
    "employee_a_bare",
    "employee_b",
    "applicant",
];

/// One cell's expectation, a character of [`Row::expect`]:
/// - `S`: success (2xx);
/// - `O`: allowed — 2xx, or a domain 409/422 that proves the checks passed
///   (e.g. acting on an application in a state that does not allow it);
/// - `U`: 401 `unauthorized`;
/// - `F`: 403 `forbidden` (a permission is missing);
/// - `N`: 404 `not_found` (invisible, so existence does not leak);
/// - `P`: 422 `invalid_field` on `point_id` (a point the caller may not use is
///   answered as if it did not exist).
#[derive(Debug)]
struct Row {
    method: &'static str,
    /// The route as `mod.rs` spells it (under `/api/v1` for the API).
    template: &'static str,
    /// The object substituted for the path parameter (a key of the world), or
    /// a query string (`?…` with `$key$` placeholders).
    target: &'static str,
    /// A JSON body with `$key$` placeholders, or empty for no body.
    body: &'static str,
    /// One character per principal of [`WHO`].
    expect: &'static str,
}

const fn r(
    method: &'static str,
    template: &'static str,
    target: &'static str,
    body: &'static str,
    expect: &'static str,
) -> Row {
    Row {
        method,
        template,
        target,
        body,
        expect,
    }
}

/// A bulk CSV with its header only.
const BULK_CSV: &str = "applicant_kind,surname,given_name,patronymic,snils,inn,email,products\n";

//                 anonymous, admin_token, superuser, api_token (of employee A),
//                 employee_a, employee_a_bare, employee_b, applicant
const ROWS: &[Row] = &[
    // Public.
    r("GET", "/healthz", "", "", "SSSSSSSS"),
    r("GET", "/metrics", "", "", "SSSSSSSS"),
    r(
        "POST",
        "/api/v1/sessions",
        "",
        r#"{"username":"dave","password":"$password$"}"#,
        "SSSSSSSS",
    ),
    r("GET", "/api/v1/ca/crl", "", "", "SSSSSSSS"),
    r("GET", "/api/v1/ca/certificate", "", "", "SSSSSSSS"),
    r("GET", "/api/v1/openapi.json", "", "", "SSSSSSSS"),
    // Catalog: read by everyone signed in, changed with manage_catalog.
    r(
        "POST",
        "/api/v1/oids",
        "",
        r#"{"oid":"1.2.643.100.2.1","name":"SMEV access (person)"}"#,
        "UOOFFFFF",
    ),
    r("GET", "/api/v1/oids", "", "", "USSSSSSS"),
    r(
        "POST",
        "/api/v1/products",
        "",
        r#"{"code":"MX","name":"Matrix product"}"#,
        "UOOFFFFF",
    ),
    r("GET", "/api/v1/products", "", "", "USSSSSSS"),
    r("GET", "/api/v1/products/{id}", "kep", "", "USSSSSSS"),
    r(
        "GET",
        "/api/v1/products/{id}",
        "missing_uuid",
        "",
        "UNNNNNNN",
    ),
    r(
        "POST",
        "/api/v1/services",
        "",
        r#"{"name":"Matrix service","products":["$kep$"]}"#,
        "UOOFFFFF",
    ),
    r("GET", "/api/v1/services", "", "", "USSSSSSS"),
    r("GET", "/api/v1/services/{id}", "service", "", "USSSSSSS"),
    // Agent network: staff read it, manage_agents changes it; applicants see
    // only (non-technical) points.
    r(
        "POST",
        "/api/v1/organizations",
        "",
        r#"{"name":"ООО «Матрица»"}"#,
        "UOOFFFFF",
    ),
    r("GET", "/api/v1/organizations", "", "", "USSSSSSN"),
    r("GET", "/api/v1/organizations/{id}", "org_a", "", "USSSSSSN"),
    r("GET", "/api/v1/organizations/{id}", "org_b", "", "USSSSSSN"),
    r(
        "PATCH",
        "/api/v1/organizations/{id}",
        "org_a",
        "{}",
        "UOOFFFFF",
    ),
    r(
        "POST",
        "/api/v1/branches",
        "",
        r#"{"organization_id":"$org_a$","name":"Matrix branch"}"#,
        "UOOFFFFF",
    ),
    r("GET", "/api/v1/branches", "", "", "USSSSSSN"),
    r("GET", "/api/v1/branches/{id}", "branch_b", "", "USSSSSSN"),
    r(
        "PATCH",
        "/api/v1/branches/{id}",
        "branch_b",
        "{}",
        "UOOFFFFF",
    ),
    r(
        "POST",
        "/api/v1/points",
        "",
        r#"{"parent_id":"$org_a$","name":"Matrix point","email":"matrix@agent.example.ru"}"#,
        "UOOFFFFF",
    ),
    r("GET", "/api/v1/points", "", "", "USSSSSSS"),
    r("GET", "/api/v1/points/{id}", "point_a", "", "USSSSSSS"),
    r("GET", "/api/v1/points/{id}", "point_b", "", "USSSSSSS"),
    r(
        "GET",
        "/api/v1/points/{id}",
        "point_blocked",
        "",
        "USSSSSSS",
    ),
    r("GET", "/api/v1/points/{id}", "point_tech", "", "USSSSSSN"),
    r("PATCH", "/api/v1/points/{id}", "point_a", "{}", "UOOFFFFF"),
    // Accounts: manage_users; tokens for oneself by anyone.
    r(
        "POST",
        "/api/v1/users",
        "",
        r#"{"username":"matrix-user","password":"$password$"}"#,
        "UOOFFFFF",
    ),
    r(
        "POST",
        "/api/v1/users",
        "",
        r#"{"username":"matrix-root","password":"$password$","superuser":true}"#,
        "UOOFFFFF",
    ),
    r("GET", "/api/v1/users", "", "", "UOOFFFFF"),
    r("GET", "/api/v1/users/{id}", "user_dave", "", "UOOFFFFF"),
    r(
        "POST",
        "/api/v1/employees",
        "",
        r#"{"user_id":"$user_spare$","surname":"Запасов","given_name":"Олег",
            "email":"spare@agent.example.ru","referral_id":"$point_a$","visibility":["$point_a$"]}"#,
        "UOOFFFFF",
    ),
    r("GET", "/api/v1/employees", "", "", "UOOFFFFF"),
    r(
        "GET",
        "/api/v1/employees/{id}",
        "employee_alice",
        "",
        "UOOFFFFF",
    ),
    // The bootstrap token has no account of its own: 422 naming user_id.
    r(
        "POST",
        "/api/v1/tokens",
        "",
        r#"{"name":"own"}"#,
        "UOSSSSSS",
    ),
    r(
        "POST",
        "/api/v1/tokens",
        "",
        r#"{"name":"for dave","user_id":"$user_dave$"}"#,
        "USSFFFFF",
    ),
    r("GET", "/api/v1/me", "", "", "USSSSSSS"),
    // Applications: creation within the caller's points.
    r(
        "POST",
        "/api/v1/applications",
        "",
        "$app_body_a$",
        "USSSSFPS",
    ),
    r(
        "POST",
        "/api/v1/applications",
        "",
        "$app_body_b$",
        "USSPPFSS",
    ),
    r(
        "POST",
        "/api/v1/applications",
        "",
        "$app_body_tech$",
        "USSPPFPP",
    ),
    r("GET", "/api/v1/applications", "", "", "USSSSSSS"),
    // Bulk CSV: bulk_create at a usable point (the query names service and
    // point; the file has a header and no rows).
    r(
        "POST",
        "/api/v1/applications/bulk",
        "?service_id=$service$&point_id=$point_a$",
        BULK_CSV,
        "UOOOOFPF",
    ),
    r(
        "POST",
        "/api/v1/applications/bulk",
        "?service_id=$service$&point_id=$point_b$",
        BULK_CSV,
        "UOOPPFOF",
    ),
    r("GET", "/api/v1/applications/{id}", "app_a", "", "USSSSSNN"),
    r("GET", "/api/v1/applications/{id}", "app_b", "", "USSNNNSN"),
    r(
        "GET",
        "/api/v1/applications/{id}",
        "app_own",
        "",
        "USSSSSNS",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}",
        "missing_uuid",
        "",
        "UNNNNNNN",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/request-template",
        "app_a",
        "",
        "USSSSSNN",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/request-template",
        "app_b",
        "",
        "USSNNNSN",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/request-template",
        "app_own",
        "",
        "USSSSSNS",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/csr",
        "app_a",
        r#"{"csr":"not a CSR"}"#,
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/csr",
        "app_b",
        r#"{"csr":"not a CSR"}"#,
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/csr",
        "app_own",
        r#"{"csr":"not a CSR"}"#,
        "UOOOOFNO",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/csr",
        "missing_uuid",
        r#"{"csr":"not a CSR"}"#,
        "UNNNNNNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/approve",
        "app_a",
        "",
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/approve",
        "app_b",
        "",
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/approve",
        "app_own",
        "",
        "UOOOOFNF",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/approve",
        "missing_uuid",
        "",
        "UNNNNNNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/reject",
        "app_a",
        r#"{"reason":"matrix"}"#,
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/reject",
        "app_b",
        r#"{"reason":"matrix"}"#,
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/reject",
        "app_own",
        r#"{"reason":"matrix"}"#,
        "UOOOOFNF",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/cancel",
        "app_a",
        r#"{"reason":"matrix"}"#,
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/cancel",
        "app_b",
        r#"{"reason":"matrix"}"#,
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/cancel",
        "app_own",
        r#"{"reason":"matrix"}"#,
        "UOOOOFNO",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/issue",
        "app_a",
        "",
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/issue",
        "app_b",
        "",
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/issue",
        "app_own",
        "",
        "UOOOOFNF",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/issue",
        "missing_uuid",
        "",
        "UNNNNNNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/rerun-checks",
        "app_a",
        "",
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/rerun-checks",
        "app_b",
        "",
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/accept-paper",
        "app_a",
        r#"{"reason":"paper"}"#,
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/accept-paper",
        "app_b",
        r#"{"reason":"paper"}"#,
        "UOONNNON",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/certificate",
        "app_a",
        "",
        "USSSSSNN",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/certificate",
        "app_b",
        "",
        "USSNNNSN",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/certificate",
        "app_own",
        "",
        "USSSSSNS",
    ),
    // The case file (H3): files, signatures, confirmation, payment, ЕСИА,
    // completion. `{file_id}` is a file of app_a. Upload needs the raw file:
    // this JSON body is refused after the checks (`kind` missing).
    r(
        "POST",
        "/api/v1/applications/{id}/files",
        "app_a",
        "",
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/files",
        "app_b",
        "",
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/files",
        "app_own",
        "",
        "UOOOOFNO",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/files",
        "app_a",
        "",
        "USSSSSNN",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/files",
        "app_b",
        "",
        "USSNNNSN",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/files",
        "app_own",
        "",
        "USSSSSNS",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/files/{file_id}",
        "app_a",
        "",
        "USSSSSNN",
    ),
    // The file of app_a is not a file of app_b.
    r(
        "GET",
        "/api/v1/applications/{id}/files/{file_id}",
        "app_b",
        "",
        "UNNNNNNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/files/{file_id}/signature",
        "app_a",
        "",
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/files/{file_id}/signature",
        "app_own",
        "",
        "UOOOOFNF",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/confirm",
        "app_a",
        "",
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/confirm",
        "app_b",
        "",
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/confirm",
        "app_own",
        "",
        "UOOOOFNO",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/payment",
        "app_a",
        r#"{"method":"invoice"}"#,
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/payment",
        "app_own",
        r#"{"method":"invoice"}"#,
        "UOOOOFNO",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/paid",
        "app_a",
        "",
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/paid",
        "app_own",
        "",
        "UOOOOFNF",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/esia-registration",
        "app_a",
        "",
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/esia-registration",
        "app_own",
        "",
        "UOOOOFNF",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/complete",
        "app_b",
        "",
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/applications/{id}/complete",
        "app_own",
        "",
        "UOOOOFNF",
    ),
    // Head accounts (H4): staff with process_applications browse and edit them;
    // applicants see nothing. The power of attorney exists only for corporate
    // applications of a service with an attorney type (none here: 404).
    r("GET", "/api/v1/accounts", "", "", "USSSSFSN"),
    r(
        "GET",
        "/api/v1/accounts",
        "?inn=500100732259",
        "",
        "USSSSFSN",
    ),
    r("GET", "/api/v1/accounts/{id}", "account_a", "", "USSSSFSN"),
    r(
        "GET",
        "/api/v1/accounts/{id}",
        "missing_uuid",
        "",
        "UNNNNFNN",
    ),
    r(
        "PATCH",
        "/api/v1/accounts/{id}",
        "account_a",
        r#"{"contacts":{"phone":"+7 495 000-00-00"}}"#,
        "USSSSFSN",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/power-of-attorney",
        "app_a",
        "",
        "UNNNNNNN",
    ),
    r(
        "GET",
        "/api/v1/applications/{id}/power-of-attorney",
        "app_own",
        "",
        "UNNNNNNN",
    ),
    // Certificates: visible with their application; changed with
    // manage_certificates.
    r(
        "GET",
        "/api/v1/certificates/{serial}",
        "serial_a",
        "",
        "USSSSSNN",
    ),
    r(
        "GET",
        "/api/v1/certificates/{serial}",
        "serial_b",
        "",
        "USSNNNSN",
    ),
    r(
        "GET",
        "/api/v1/certificates/{serial}",
        "serial_own",
        "",
        "USSSSSNS",
    ),
    r(
        "GET",
        "/api/v1/certificates/{serial}",
        "missing_serial",
        "",
        "UNNNNNNN",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/suspend",
        "serial_a",
        "",
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/suspend",
        "serial_b",
        "",
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/suspend",
        "serial_own",
        "",
        "UOOOOFNF",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/resume",
        "serial_a",
        "",
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/resume",
        "serial_b",
        "",
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/resume",
        "serial_own",
        "",
        "UOOOOFNF",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/renew",
        "serial_a",
        "",
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/renew",
        "serial_b",
        "",
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/renew",
        "serial_own",
        "",
        "UOOOOFNF",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/revoke",
        "serial_a",
        r#"{"reason":"unspecified"}"#,
        "UOOOOFNN",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/revoke",
        "serial_b",
        r#"{"reason":"unspecified"}"#,
        "UOONNNON",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/revoke",
        "serial_own",
        r#"{"reason":"unspecified"}"#,
        "UOOOOFNF",
    ),
    r(
        "POST",
        "/api/v1/certificates/{serial}/revoke",
        "missing_serial",
        r#"{"reason":"unspecified"}"#,
        "UNNNNNNN",
    ),
    // Self-service devices: every signed-in user for themselves (the bootstrap
    // token has no user: 403). Without a token provider (this world has none)
    // issuing and continuing answer 422 `token_unsupported`; without a policy
    // setting questions answers 422 naming `questions`.
    r("GET", "/api/v1/me/devices", "", "", "UFSSSSSS"),
    r(
        "POST",
        "/api/v1/me/devices",
        "",
        r#"{"token":"no-token","device_type":"softhsm2","template":"kep"}"#,
        "UFOOOOOO",
    ),
    r(
        "POST",
        "/api/v1/me/devices/{id}/continue",
        "missing_uuid",
        r#"{"user_pin":"12345678"}"#,
        "UFOOOOOO",
    ),
    r("GET", "/api/v1/me/secret-questions", "", "", "UFSSSSSS"),
    r(
        "PUT",
        "/api/v1/me/secret-questions",
        "",
        r#"{"questions":[{"question":"q?","answer":"a"}]}"#,
        "UFOOOOOO",
    ),
    // Device administration: manage_users.
    r(
        "POST",
        "/api/v1/device-types",
        "",
        r#"{"name":"matrix-type","model":"m","areas":[{"name":"pki","min_user_pin_length":6}]}"#,
        "UOOFFFFF",
    ),
    r("GET", "/api/v1/device-types", "", "", "UOOFFFFF"),
    r(
        "POST",
        "/api/v1/device-policies",
        "",
        r#"{"name":"matrix-policy"}"#,
        "UOOFFFFF",
    ),
    r("GET", "/api/v1/device-policies", "", "", "UOOFFFFF"),
    r(
        "POST",
        "/api/v1/device-policy-assignments",
        "",
        r#"{"group":"matrix-group","policy":null}"#,
        "UOOFFFFF",
    ),
    r(
        "GET",
        "/api/v1/device-policy-assignments",
        "",
        "",
        "UOOFFFFF",
    ),
    r(
        "PUT",
        "/api/v1/users/{id}/profile",
        "user_dave",
        r#"{"surname":"Дейвов"}"#,
        "UOOFFFFF",
    ),
    r(
        "GET",
        "/api/v1/users/{id}/profile",
        "user_dave",
        "",
        "UOOFFFFF",
    ),
    r(
        "POST",
        "/api/v1/me/devices/{id}/lost",
        "missing_uuid",
        "",
        "UFNNNNNN",
    ),
    r("GET", "/api/v1/devices", "", "", "UOOFFFFF"),
    r(
        "POST",
        "/api/v1/devices",
        "",
        r#"{"device_type":"softhsm2","serial":"matrix-0001","document":{"number":"1","date":"2026-01-01"}}"#,
        "UOOFFFFF",
    ),
    r(
        "GET",
        "/api/v1/devices/{id}",
        "missing_uuid",
        "",
        "UNNFFFFF",
    ),
    r(
        "POST",
        "/api/v1/devices/{id}/lost",
        "missing_uuid",
        "",
        "UNNFFFFF",
    ),
    r(
        "POST",
        "/api/v1/devices/{id}/broken",
        "missing_uuid",
        "",
        "UNNFFFFF",
    ),
    r(
        "POST",
        "/api/v1/devices/{id}/withdraw",
        "missing_uuid",
        r#"{"document":{"number":"1","date":"2026-01-01"}}"#,
        "UNNFFFFF",
    ),
    r(
        "POST",
        "/api/v1/devices/{id}/destroy",
        "missing_uuid",
        r#"{"document":{"number":"1","date":"2026-01-01"}}"#,
        "UNNFFFFF",
    ),
    // Last: ends every principal's session (checked after the walk).
    r("DELETE", "/api/v1/sessions/current", "", "", "USSSSSSS"),
];

// ---------------------------------------------------------------------------
// Requests.

async fn send_to(
    router: &Router,
    method: &str,
    path: &str,
    body: &str,
    auth: Option<&str>,
) -> Resp {
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(path);
    if !body.is_empty() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let req = req
        .body(Body::from(body.as_bytes().to_vec()))
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("infallible");
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

async fn send(api: &Api, method: &str, path: &str, body: &str, auth: Option<&str>) -> Resp {
    send_to(&api.router, method, path, body, auth).await
}

fn admin() -> Option<String> {
    Some(format!("Bearer {TOKEN}"))
}

fn bearer_of(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

async fn as_(api: &Api, auth: &Option<String>, method: &str, path: &str, body: &Value) -> Resp {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    send(api, method, path, &text, auth.as_deref()).await
}

/// Creates through the API as the bootstrap admin; returns the JSON (201).
async fn create(api: &Api, path: &str, body: Value) -> Value {
    let r = as_(api, &admin(), "POST", path, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.text());
    r.json()
}

async fn login(api: &Api, username: &str, password: &str) -> Resp {
    let body = json!({"username": username, "password": password}).to_string();
    send(api, "POST", "/api/v1/sessions", &body, None).await
}

async fn session(api: &Api, username: &str) -> Option<String> {
    let r = login(api, username, PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "login {username}: {}",
        r.text()
    );
    let v = r.json();
    assert!(v["expires_at"].is_string(), "{v}");
    bearer_of(v["token"].as_str().expect("token"))
}

/// The JSON error code of a response, if it is a JSON error.
fn error_code(r: &Resp) -> Option<String> {
    let ct = r
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return None;
    }
    let v: Value = serde_json::from_slice(&r.body).ok()?;
    if v["message"].as_str().is_none_or(str::is_empty) {
        return None;
    }
    v["error"].as_str().map(str::to_owned)
}

/// Checks one cell; `Err` describes the mismatch.
fn check_cell(expect: char, r: &Resp) -> Result<(), String> {
    let status = r.status.as_u16();
    let code = error_code(r);
    let is = |s: u16, c: &str| status == s && code.as_deref() == Some(c);
    let ok = match expect {
        'S' => r.status.is_success(),
        'O' => {
            r.status.is_success()
                || (matches!(status, 409 | 422)
                    && code
                        .as_deref()
                        .is_some_and(|c| !matches!(c, "forbidden" | "not_found" | "unauthorized"))
                    && !(status == 422 && r.json()["field"] == "point_id"))
        }
        'U' => is(401, "unauthorized"),
        'F' => is(403, "forbidden"),
        'N' => is(404, "not_found"),
        'P' => is(422, "invalid_field") && r.json()["field"] == "point_id",
        other => return Err(format!("bad expectation {other:?}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {expect}, got {status}: {}", r.text()))
    }
}

// ---------------------------------------------------------------------------
// The world: two organizations with their points, a technical and a blocked
// point, a catalog, users of every kind, their sessions, and issued
// certificates at A, at B and of the applicant.

struct World {
    api: Api,
    /// Named objects substituted into paths and bodies.
    objects: BTreeMap<&'static str, String>,
    /// `Authorization` values in the order of [`WHO`].
    auth: Vec<Option<String>>,
}

impl World {
    fn get(&self, key: &str) -> &str {
        self.objects
            .get(key)
            .unwrap_or_else(|| panic!("no object {key}"))
    }

    fn who(&self, name: &str) -> &Option<String> {
        let i = WHO.iter().position(|w| *w == name).expect("principal");
        &self.auth[i]
    }

    fn fill(&self, text: &str) -> String {
        let mut out = text.replace("$password$", PASSWORD);
        for (k, v) in &self.objects {
            out = out.replace(&format!("${k}$"), v);
        }
        assert!(!out.contains("$"), "unfilled placeholder in {out}");
        out
    }

    fn path(&self, row: &Row) -> String {
        if row.target.is_empty() {
            row.template.to_owned()
        } else if row.target.starts_with('?') {
            format!("{}{}", row.template, self.fill(row.target))
        } else {
            let v = self.get(row.target);
            row.template
                .replace("{id}", v)
                .replace("{serial}", v)
                .replace("{file_id}", self.get("file_a"))
        }
    }

    fn catalog_at(&self, point: &str) -> Catalog {
        Catalog {
            kep: self.get("kep").to_owned(),
            etp: String::new(),
            organization: String::new(),
            branch: String::new(),
            point: self.get(point).to_owned(),
            service: self.get("service").to_owned(),
        }
    }
}

fn app_body(c: &Catalog) -> Value {
    let mut b = application_body(c, "individual");
    b["products"] = json!([c.kep]);
    b
}

/// Attaches a CSR built from the template (as `auth`); the application JSON.
async fn attach_csr(api: &Api, auth: &Option<String>, app: &str) -> Value {
    let t = as_(
        api,
        auth,
        "GET",
        &format!("/api/v1/applications/{app}/request-template"),
        &Value::Null,
    )
    .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text());
    let pem = csr_pem(&template_from_json(&t.json()));
    let r = as_(
        api,
        auth,
        "POST",
        &format!("/api/v1/applications/{app}/csr"),
        &json!({ "csr": pem }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "csr: {}", r.text());
    r.json()
}

/// Issues (as the bootstrap admin); the serial.
async fn issue(api: &Api, app: &str) -> String {
    let r = as_(
        api,
        &admin(),
        "POST",
        &format!("/api/v1/applications/{app}/issue"),
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "issue: {}", r.text());
    r.json()["serial"].as_str().expect("serial").to_owned()
}

async fn user(api: &Api, username: &str, extra: Value) -> String {
    let mut body = json!({"username": username, "password": PASSWORD});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    id(&create(api, "/api/v1/users", body).await)
}

const APP_PERMISSIONS: [&str; 6] = [
    "create_applications",
    "process_applications",
    "approve_applications",
    "issue_certificates",
    "manage_certificates",
    "bulk_create",
];

async fn employee(
    api: &Api,
    user_id: &str,
    referral: &str,
    visibility: &[&str],
    permissions: &[&str],
) -> String {
    id(&create(
        api,
        "/api/v1/employees",
        json!({
            "user_id": user_id, "surname": "Сотрудников", "given_name": "Иван",
            "email": "employee@agent.example.ru", "referral_id": referral,
            "visibility": visibility, "permissions": permissions,
        }),
    )
    .await)
}

async fn world() -> World {
    let api = Api::new().await;
    let mut o: BTreeMap<&'static str, String> = BTreeMap::new();
    let kep = create(
        &api,
        "/api/v1/products",
        json!({"code": "KEP", "name": "КЭП", "quantity_accounting": false,
               "oids": {"common": KEP_COMMON, "individual": ["1.2.643.100.2.1"],
                        "sole_proprietor": ["1.2.643.100.2.1"], "legal_entity": ["1.2.643.100.2.2"]}}),
    )
    .await;
    o.insert("kep", id(&kep));
    let org_a = id(&create(
        &api,
        "/api/v1/organizations",
        json!({"name": "ООО «Агент А»"}),
    )
    .await);
    let org_b = id(&create(
        &api,
        "/api/v1/organizations",
        json!({"name": "ООО «Агент Б»"}),
    )
    .await);
    let org_c = id(&create(
        &api,
        "/api/v1/organizations",
        json!({"name": "ООО «Агент В»"}),
    )
    .await);
    let branch_b = id(&create(
        &api,
        "/api/v1/branches",
        json!({"organization_id": org_b, "name": "Филиал Б"}),
    )
    .await);
    let point = |parent: &str, name: &str, technical: bool| {
        json!({"parent_id": parent, "name": name, "email": "point@agent.example.ru",
               "region": "77", "technical": technical})
    };
    let point_a = id(&create(&api, "/api/v1/points", point(&org_a, "Точка А", false)).await);
    let point_b = id(&create(&api, "/api/v1/points", point(&branch_b, "Точка Б", false)).await);
    let point_tech = id(&create(&api, "/api/v1/points", point(&org_a, "Техническая", true)).await);
    let point_blocked = id(&create(&api, "/api/v1/points", point(&org_a, "Закрытая", false)).await);
    let point_c = id(&create(&api, "/api/v1/points", point(&org_c, "Точка В", false)).await);
    let r = as_(
        &api,
        &admin(),
        "PATCH",
        &format!("/api/v1/points/{point_blocked}"),
        &json!({"blocked": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let service = create(
        &api,
        "/api/v1/services",
        json!({"name": "Выпуск КЭП", "products": [o["kep"]],
               "applicant_kinds": ["individual", "sole_proprietor", "legal_entity"],
               "points": [point_a, point_b, point_tech, point_blocked, point_c],
               "approval_required": false, "smev_checks": [], "bulk_csv": true}),
    )
    .await;
    o.insert("service", id(&service));

    let staff = json!({"staff": true});
    let root = user(&api, "root", json!({"superuser": true})).await;
    let alice = user(&api, "alice", staff.clone()).await;
    let bob = user(&api, "bob", staff.clone()).await;
    let carol = user(&api, "carol", staff.clone()).await;
    let cyril = user(&api, "cyril", staff.clone()).await;
    let xena = user(&api, "xena", staff.clone()).await;
    let spare = user(&api, "spare", staff.clone()).await;
    // Permissions on a non-staff account grant nothing: it stays an applicant.
    let dave = user(
        &api,
        "dave",
        json!({"permissions": ["manage_users", "manage_catalog"]}),
    )
    .await;
    let erin = user(&api, "erin", json!({})).await;
    let ivan = user(&api, "ivan", json!({"active": false})).await;
    let employee_alice = employee(&api, &alice, &point_a, &[&point_a], &APP_PERMISSIONS).await;
    employee(&api, &bob, &point_a, &[&point_a], &[]).await;
    employee(&api, &carol, &branch_b, &[&branch_b], &APP_PERMISSIONS).await;
    employee(&api, &cyril, &org_c, &[&org_c], &APP_PERMISSIONS).await;
    employee(
        &api,
        &xena,
        &point_blocked,
        &[&point_blocked],
        &APP_PERMISSIONS,
    )
    .await;

    let api_token = {
        let r = as_(
            &api,
            &admin(),
            "POST",
            "/api/v1/tokens",
            &json!({"name": "integration", "user_id": alice}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let v = r.json();
        assert_eq!(v["user_id"], alice.as_str());
        bearer_of(v["token"].as_str().expect("token"))
    };
    let auth = vec![
        None,
        admin(),
        session(&api, "root").await,
        api_token,
        session(&api, "alice").await,
        session(&api, "bob").await,
        session(&api, "carol").await,
        session(&api, "dave").await,
    ];

    for (k, v) in [
        ("org_a", org_a),
        ("org_b", org_b),
        ("org_c", org_c),
        ("branch_b", branch_b),
        ("point_a", point_a),
        ("point_b", point_b),
        ("point_c", point_c),
        ("point_tech", point_tech),
        ("point_blocked", point_blocked),
        ("user_root", root),
        ("user_alice", alice),
        ("user_dave", dave),
        ("user_erin", erin),
        ("user_ivan", ivan),
        ("user_spare", spare),
        ("employee_alice", employee_alice),
        (
            "missing_uuid",
            "0b0e0e0e-0000-4000-8000-00000000dead".to_owned(),
        ),
        ("missing_serial", "7f".repeat(16)),
    ] {
        o.insert(k, v);
    }
    let mut w = World {
        api,
        objects: o,
        auth,
    };
    for (key, point) in [
        ("app_body_a", "point_a"),
        ("app_body_b", "point_b"),
        ("app_body_tech", "point_tech"),
    ] {
        let body = app_body(&w.catalog_at(point)).to_string();
        w.objects.insert(key, body);
    }

    // Issued certificates at A and at B (by the admin), and the applicant's own.
    for (app_key, serial_key, point) in [
        ("app_a", "serial_a", "point_a"),
        ("app_b", "serial_b", "point_b"),
    ] {
        let app = id(&create(
            &w.api,
            "/api/v1/applications",
            app_body(&w.catalog_at(point)),
        )
        .await);
        attach_csr(&w.api, &admin(), &app).await;
        let serial = issue(&w.api, &app).await;
        w.objects.insert(app_key, app);
        w.objects.insert(serial_key, serial);
    }
    let shown = as_(
        &w.api,
        &admin(),
        "GET",
        &format!("/api/v1/applications/{}", w.get("app_a")),
        &Value::Null,
    )
    .await
    .json();
    let account = shown["head_account_id"]
        .as_str()
        .expect("head account linked");
    w.objects.insert("account_a", account.to_owned());
    let applicant = w.who("applicant").clone();
    let r = as_(
        &w.api,
        &applicant,
        "POST",
        "/api/v1/applications",
        &app_body(&w.catalog_at("point_a")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let own = id(&r.json());
    let attached = attach_csr(&w.api, &applicant, &own).await;
    assert_eq!(attached["status"], "ready_to_issue", "{attached}");
    let serial = issue(&w.api, &own).await;
    w.objects.insert("app_own", own);
    w.objects.insert("serial_own", serial);
    // A file of app_a (the case file's routes).
    let app_a = w.get("app_a").to_owned();
    let r = w
        .api
        .post_raw(
            &format!("/api/v1/applications/{app_a}/files?kind=passport&name=scan.pdf"),
            "application/pdf",
            b"%PDF-1.4 matrix".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    w.objects.insert("file_a", id(&r.json()));
    w
}

// ---------------------------------------------------------------------------
// The route table against the router.

/// `(method, path)` of every `.route(…)` in `src/api/mod.rs`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/mod.rs"))
        .expect("read src/api/mod.rs");
    let mut out = BTreeSet::new();
    let mut rest = src.as_str();
    while let Some(at) = rest.find(".route(") {
        let call = &rest[at + ".route(".len()..];
        // The call's text, up to its closing parenthesis.
        let mut depth = 1usize;
        let mut end = call.len();
        for (i, ch) in call.char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let text = &call[..end];
        let path = text
            .split('"')
            .nth(1)
            .unwrap_or_else(|| panic!("no path literal in .route({text})"));
        let mut methods = 0;
        for m in ["get", "post", "put", "patch", "delete"] {
            let needle = format!("{m}(");
            for (i, _) in text.match_indices(&needle) {
                let before = text[..i].chars().next_back();
                if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                    out.insert((m.to_uppercase(), path.to_owned()));
                    methods += 1;
                }
            }
        }
        assert!(methods > 0, "no method found in .route({text})");
        rest = &call[end..];
    }
    out
}

/// The table's routes, as `mod.rs` spells them (without the `/api/v1` nest).
fn routes_in_table() -> BTreeSet<(String, String)> {
    ROWS.iter()
        .map(|row| {
            let path = row.template.strip_prefix("/api/v1").unwrap_or(row.template);
            (row.method.to_owned(), path.to_owned())
        })
        .collect()
}

#[test]
fn the_table_covers_every_route_of_the_router() {
    let source = routes_in_source();
    assert!(source.len() >= 40, "parsed too few routes: {source:?}");
    let table = routes_in_table();
    let missing: Vec<_> = source.difference(&table).collect();
    let unknown: Vec<_> = table.difference(&source).collect();
    assert!(
        missing.is_empty(),
        "routes of mod.rs without a row in authz::ROWS: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "rows of authz::ROWS naming no route of mod.rs: {unknown:?}"
    );
    for row in ROWS {
        assert_eq!(row.expect.len(), WHO.len(), "{row:?}");
        assert_eq!(
            row.template.contains('{'),
            !row.target.is_empty() && !row.target.starts_with('?'),
            "path parameter without target (or the reverse): {row:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// The matrix.

#[tokio::test]
async fn every_route_times_every_principal() {
    let w = world().await;
    let mut failures = Vec::new();
    let mut cells = 0;
    // The statuses seen, printed as a table (`--nocapture`).
    let mut seen = format!("{:<62} {}\n", "route [target]", WHO.join(" "));
    for row in ROWS {
        let path = w.path(row);
        let body = w.fill(row.body);
        let mut line = format!("{} {} [{}]", row.method, row.template, row.target);
        line.truncate(62);
        seen.push_str(&format!("{line:<62}"));
        for (i, expect) in row.expect.chars().enumerate() {
            let r = send(&w.api, row.method, &path, &body, w.auth[i].as_deref()).await;
            seen.push_str(&format!(
                " {:>width$}",
                r.status.as_u16(),
                width = WHO[i].len()
            ));
            cells += 1;
            if let Err(e) = check_cell(expect, &r) {
                failures.push(format!(
                    "{} {} [{}] as {}: {e}",
                    row.method, row.template, row.target, WHO[i]
                ));
            }
        }
        seen.push('\n');
    }
    println!("{seen}");
    assert!(
        failures.is_empty(),
        "{} of {cells} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The last row logged everyone out: sessions and the API token no longer
    // work, the bootstrap token still does.
    for (i, who) in WHO.iter().enumerate().skip(2) {
        let r = send(&w.api, "GET", "/api/v1/me", "", w.auth[i].as_deref()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{who} still signed in");
        r.assert_error(401, "unauthorized");
    }
    let me = send(&w.api, "GET", "/api/v1/me", "", admin().as_deref()).await;
    assert_eq!(me.expect(200)["role"], "admin");
}

// ---------------------------------------------------------------------------
// Key cases in detail.

#[tokio::test]
async fn me_names_the_role_and_permissions() {
    let w = world().await;
    let me = |who: &'static str| {
        let auth = w.who(who).clone();
        let api = &w.api;
        async move {
            as_(api, &auth, "GET", "/api/v1/me", &Value::Null)
                .await
                .expect(200)
        }
    };
    let m = me("admin_token").await;
    assert_eq!(m["role"], "admin");
    assert!(m["user_id"].is_null());
    let m = me("superuser").await;
    assert_eq!(m["role"], "admin");
    assert_eq!(m["user_id"], w.get("user_root"));
    for who in ["api_token", "employee_a"] {
        let m = me(who).await;
        assert_eq!(m["role"], "employee", "{who}");
        assert_eq!(m["user_id"], w.get("user_alice"), "{who}");
        assert_eq!(m["employee_id"], w.get("employee_alice"), "{who}");
        let perms: BTreeSet<&str> = m["permissions"]
            .as_array()
            .expect("permissions")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(perms, APP_PERMISSIONS.into_iter().collect(), "{who}");
    }
    let m = me("employee_a_bare").await;
    assert_eq!(m["role"], "employee");
    assert_eq!(m["permissions"], json!([]));
    // The applicant's account carries permission flags, which grant nothing.
    let m = me("applicant").await;
    assert_eq!(m["role"], "applicant");
    assert_eq!(m["user_id"], w.get("user_dave"));
    assert_eq!(
        m["permissions"],
        json!(["create_applications", "process_applications"])
    );
}

#[tokio::test]
async fn employee_of_a_gets_404_not_403_at_b_and_can_act_at_a() {
    let w = world().await;
    let api = &w.api;
    let alice = w.who("employee_a").clone();
    let carol = w.who("employee_b").clone();

    // A fresh application at B (created by B's employee), before any CSR.
    let r = as_(
        api,
        &carol,
        "POST",
        "/api/v1/applications",
        &app_body(&w.catalog_at("point_b")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let at_b = id(&r.json());
    let before = as_(
        api,
        &carol,
        "GET",
        &format!("/api/v1/applications/{at_b}"),
        &Value::Null,
    )
    .await
    .expect(200);

    // Employee A: every read and action is 404, like for an id that does not
    // exist, and the same body shape; nothing changes.
    let missing = w.get("missing_uuid");
    for (method, suffix, body) in [
        ("GET", "", Value::Null),
        ("GET", "/request-template", Value::Null),
        ("POST", "/csr", json!({"csr": "x"})),
        ("POST", "/approve", Value::Null),
        ("POST", "/reject", json!({"reason": "no"})),
        ("POST", "/cancel", json!({"reason": "no"})),
        ("POST", "/issue", Value::Null),
        ("POST", "/rerun-checks", Value::Null),
        ("POST", "/accept-paper", json!({"reason": "no"})),
        ("GET", "/certificate", Value::Null),
    ] {
        let hidden = as_(
            api,
            &alice,
            method,
            &format!("/api/v1/applications/{at_b}{suffix}"),
            &body,
        )
        .await;
        let absent = as_(
            api,
            &alice,
            method,
            &format!("/api/v1/applications/{missing}{suffix}"),
            &body,
        )
        .await;
        let h = hidden.assert_error(404, "not_found");
        let a = absent.assert_error(404, "not_found");
        assert_eq!(
            h.as_object().map(|o| o.keys().collect::<Vec<_>>()),
            a.as_object().map(|o| o.keys().collect::<Vec<_>>()),
            "{method} {suffix}"
        );
        assert!(
            !h["message"]
                .as_str()
                .unwrap_or_default()
                .contains("forbidden"),
            "{h}"
        );
    }
    let after = as_(
        api,
        &carol,
        "GET",
        &format!("/api/v1/applications/{at_b}"),
        &Value::Null,
    )
    .await
    .expect(200);
    assert_eq!(
        crate::common::snapshot(&before),
        crate::common::snapshot(&after)
    );

    // The certificate of B by serial is 404 too.
    let serial_b = w.get("serial_b");
    for (method, suffix, body) in [
        ("GET", "", Value::Null),
        ("POST", "/revoke", json!({"reason": "keyCompromise"})),
        ("POST", "/suspend", Value::Null),
        ("POST", "/resume", Value::Null),
        ("POST", "/renew", Value::Null),
    ] {
        as_(
            api,
            &alice,
            method,
            &format!("/api/v1/certificates/{serial_b}{suffix}"),
            &body,
        )
        .await
        .assert_error(404, "not_found");
    }
    let cert = as_(
        api,
        &carol,
        "GET",
        &format!("/api/v1/certificates/{serial_b}"),
        &Value::Null,
    )
    .await
    .expect(200);
    assert_eq!(cert["status"], "valid", "{cert}");

    // Listings: A sees only A's applications; B's employee only B's.
    let list = |auth: Option<String>| async move {
        as_(
            api,
            &auth,
            "GET",
            "/api/v1/applications?limit=500",
            &Value::Null,
        )
        .await
        .expect(200)["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|a| (id(a), a["point_id"].as_str().expect("point").to_owned()))
            .collect::<Vec<_>>()
    };
    let seen_a = list(alice.clone()).await;
    assert!(!seen_a.is_empty());
    assert!(
        seen_a.iter().all(|(_, p)| p == w.get("point_a")),
        "{seen_a:?}"
    );
    assert!(seen_a.iter().any(|(a, _)| a == w.get("app_own")));
    let seen_b = list(carol.clone()).await;
    assert!(
        seen_b.iter().all(|(_, p)| p == w.get("point_b")),
        "{seen_b:?}"
    );
    assert!(seen_b.iter().any(|(a, _)| *a == at_b));
    // Filtering by B's point does not reveal B's applications to A.
    let filtered = as_(
        api,
        &alice,
        "GET",
        &format!("/api/v1/applications?point_id={}", w.get("point_b")),
        &Value::Null,
    )
    .await
    .expect(200);
    assert_eq!(filtered["items"], json!([]));

    // Employee A acts at A: a full lifecycle with its own session.
    let r = as_(
        api,
        &alice,
        "POST",
        "/api/v1/applications",
        &app_body(&w.catalog_at("point_a")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let at_a = id(&r.json());
    attach_csr(api, &alice, &at_a).await;
    let issued = as_(
        api,
        &alice,
        "POST",
        &format!("/api/v1/applications/{at_a}/issue"),
        &Value::Null,
    )
    .await
    .expect(201);
    let serial = issued["serial"].as_str().expect("serial");
    as_(
        api,
        &alice,
        "POST",
        &format!("/api/v1/certificates/{serial}/suspend"),
        &Value::Null,
    )
    .await
    .expect(200);
    // …which employee B cannot see, and the bare employee of A cannot change.
    as_(
        api,
        &carol,
        "GET",
        &format!("/api/v1/certificates/{serial}"),
        &Value::Null,
    )
    .await
    .assert_error(404, "not_found");
    let bob = w.who("employee_a_bare").clone();
    as_(
        api,
        &bob,
        "POST",
        &format!("/api/v1/certificates/{serial}/resume"),
        &Value::Null,
    )
    .await
    .assert_error(403, "forbidden");
    let c = as_(
        api,
        &bob,
        "GET",
        &format!("/api/v1/certificates/{serial}"),
        &Value::Null,
    )
    .await
    .expect(200);
    assert_eq!(c["status"], "suspended", "{c}");
}

#[tokio::test]
async fn applicant_sees_own_applications_and_offered_points_only() {
    let w = world().await;
    let api = &w.api;
    let dave = w.who("applicant").clone();
    let erin = session(api, "erin").await;

    // Another applicant's application is 404 for every read and action.
    let own = w.get("app_own");
    for (method, suffix, body) in [
        ("GET", "", Value::Null),
        ("GET", "/request-template", Value::Null),
        ("GET", "/certificate", Value::Null),
        ("POST", "/csr", json!({"csr": "x"})),
        ("POST", "/cancel", json!({"reason": "no"})),
        ("POST", "/approve", Value::Null),
    ] {
        as_(
            api,
            &erin,
            method,
            &format!("/api/v1/applications/{own}{suffix}"),
            &body,
        )
        .await
        .assert_error(404, "not_found");
    }
    as_(
        api,
        &erin,
        "GET",
        &format!("/api/v1/certificates/{}", w.get("serial_own")),
        &Value::Null,
    )
    .await
    .assert_error(404, "not_found");
    let listed = as_(api, &erin, "GET", "/api/v1/applications", &Value::Null)
        .await
        .expect(200);
    assert_eq!(listed["items"], json!([]), "{listed}");

    // Dave lists only his own.
    let listed = as_(
        api,
        &dave,
        "GET",
        "/api/v1/applications?limit=500",
        &Value::Null,
    )
    .await
    .expect(200);
    let ids: Vec<String> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(id)
        .collect();
    assert_eq!(ids, vec![own.to_owned()], "{listed}");

    // Erin creates her own at A, cancels it herself; Dave cannot see it.
    let r = as_(
        api,
        &erin,
        "POST",
        "/api/v1/applications",
        &app_body(&w.catalog_at("point_a")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let hers = id(&r.json());
    as_(
        api,
        &dave,
        "GET",
        &format!("/api/v1/applications/{hers}"),
        &Value::Null,
    )
    .await
    .assert_error(404, "not_found");
    let cancelled = as_(
        api,
        &erin,
        "POST",
        &format!("/api/v1/applications/{hers}/cancel"),
        &json!({"reason": "передумала"}),
    )
    .await
    .expect(200);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");

    // Points: technical hidden (404 and absent from the list); blocked ones
    // (also by cascade from the organization) not offered.
    as_(
        api,
        &dave,
        "GET",
        &format!("/api/v1/points/{}", w.get("point_tech")),
        &Value::Null,
    )
    .await
    .assert_error(404, "not_found");
    let points = |auth: Option<String>| async move {
        as_(api, &auth, "GET", "/api/v1/points?limit=500", &Value::Null)
            .await
            .expect(200)["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(id)
            .collect::<BTreeSet<String>>()
    };
    let offered = points(dave.clone()).await;
    assert!(offered.contains(w.get("point_a")), "{offered:?}");
    assert!(offered.contains(w.get("point_b")), "{offered:?}");
    assert!(offered.contains(w.get("point_c")), "{offered:?}");
    assert!(!offered.contains(w.get("point_tech")), "{offered:?}");
    assert!(!offered.contains(w.get("point_blocked")), "{offered:?}");
    let all = points(w.who("employee_a").clone()).await;
    for p in [
        "point_a",
        "point_b",
        "point_c",
        "point_tech",
        "point_blocked",
    ] {
        assert!(all.contains(w.get(p)), "{p} not listed for staff: {all:?}");
    }
    as_(
        api,
        &admin(),
        "PATCH",
        &format!("/api/v1/organizations/{}", w.get("org_c")),
        &json!({"blocked": true}),
    )
    .await
    .expect(200);
    let offered = points(dave.clone()).await;
    assert!(!offered.contains(w.get("point_c")), "{offered:?}");

    // An applicant cannot create at a technical point (as if it did not
    // exist), nor at a blocked one; nothing is created.
    let count = |auth: Option<String>| async move {
        as_(
            api,
            &auth,
            "GET",
            "/api/v1/applications?limit=500",
            &Value::Null,
        )
        .await
        .expect(200)["items"]
            .as_array()
            .expect("items")
            .len()
    };
    let before = count(admin()).await;
    let r = as_(
        api,
        &dave,
        "POST",
        "/api/v1/applications",
        &app_body(&w.catalog_at("point_tech")),
    )
    .await;
    let v = r.assert_error(422, "invalid_field");
    assert_eq!(v["field"], "point_id");
    let r = as_(
        api,
        &dave,
        "POST",
        "/api/v1/applications",
        &app_body(&w.catalog_at("point_blocked")),
    )
    .await;
    assert!(r.status.is_client_error(), "{}", r.text());
    assert!(error_code(&r).is_some(), "{}", r.text());
    assert_eq!(count(admin()).await, before);

    // Nor create users, products, points or employees; nor read accounts.
    for (path, body) in [
        (
            "/api/v1/users",
            json!({"username": "mallory", "password": PASSWORD}),
        ),
        ("/api/v1/products", json!({"code": "X", "name": "X"})),
        ("/api/v1/organizations", json!({"name": "X"})),
        (
            "/api/v1/tokens",
            json!({"name": "x", "user_id": w.get("user_erin")}),
        ),
    ] {
        as_(api, &dave, "POST", path, &body)
            .await
            .assert_error(403, "forbidden");
    }
    as_(api, &dave, "GET", "/api/v1/users", &Value::Null)
        .await
        .assert_error(403, "forbidden");
    let users = as_(
        api,
        &admin(),
        "GET",
        "/api/v1/users?limit=500",
        &Value::Null,
    )
    .await
    .expect(200);
    assert!(
        !users["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|u| u["username"] == "mallory")
    );
    // But a token for himself, which acts as him.
    let t = as_(
        api,
        &dave,
        "POST",
        "/api/v1/tokens",
        &json!({"name": "portal"}),
    )
    .await
    .expect(201);
    let token = bearer_of(t["token"].as_str().expect("token"));
    let me = as_(api, &token, "GET", "/api/v1/me", &Value::Null)
        .await
        .expect(200);
    assert_eq!(me["role"], "applicant");
    assert_eq!(me["user_id"], w.get("user_dave"));
}

#[tokio::test]
async fn only_an_administrator_creates_superusers() {
    let w = world().await;
    // A superuser's session is an administrator too.
    let r = as_(
        &w.api,
        w.who("superuser"),
        "POST",
        "/api/v1/users",
        &json!({"username": "root2", "password": PASSWORD, "superuser": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // An employee granted manage_users may create users but not superusers.
    let boss = user(&w.api, "boss", json!({"staff": true})).await;
    employee(
        &w.api,
        &boss,
        w.get("point_a"),
        &[w.get("point_a")],
        &["manage_users"],
    )
    .await;
    let boss = session(&w.api, "boss").await;
    as_(
        &w.api,
        &boss,
        "POST",
        "/api/v1/users",
        &json!({"username": "root3", "password": PASSWORD, "superuser": true}),
    )
    .await
    .assert_error(403, "forbidden");
    let r = as_(
        &w.api,
        &boss,
        "POST",
        "/api/v1/users",
        &json!({"username": "clerk", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // Nor grant what it does not hold itself: manage_users is not a way to
    // manage_catalog through a second account (nothing is created).
    as_(
        &w.api,
        &boss,
        "POST",
        "/api/v1/users",
        &json!({"username": "clerk2", "password": PASSWORD, "staff": true,
                "permissions": ["manage_catalog"]}),
    )
    .await
    .assert_error(403, "forbidden");
    let clerk = id(&as_(
        &w.api,
        &boss,
        "POST",
        "/api/v1/users",
        &json!({"username": "clerk3", "password": PASSWORD, "staff": true,
                "permissions": ["manage_users"]}),
    )
    .await
    .expect(201));
    as_(
        &w.api,
        &boss,
        "POST",
        "/api/v1/employees",
        &json!({"user_id": clerk, "surname": "Клерк", "given_name": "Иван",
                "email": "clerk@agent.example.ru", "referral_id": w.get("point_a"),
                "visibility": [w.get("point_a")], "permissions": ["issue_certificates"]}),
    )
    .await
    .assert_error(403, "forbidden");
    let users = as_(
        &w.api,
        &admin(),
        "GET",
        "/api/v1/users?limit=500",
        &Value::Null,
    )
    .await
    .expect(200);
    assert!(
        !users["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|u| u["username"] == "root3")
    );
    // Nor act as one: an API token for a superuser acts as an administrator,
    // so manage_users does not suffice to mint it (nothing is issued).
    let r = as_(
        &w.api,
        &boss,
        "POST",
        "/api/v1/tokens",
        &json!({"name": "escalate", "user_id": w.get("user_root")}),
    )
    .await;
    r.assert_error(403, "forbidden");
    assert!(r.json().get("token").is_none());
    // For an ordinary user it may; and administrators may for a superuser.
    as_(
        &w.api,
        &boss,
        "POST",
        "/api/v1/tokens",
        &json!({"name": "for dave", "user_id": w.get("user_dave")}),
    )
    .await
    .expect(201);
    let t = as_(
        &w.api,
        w.who("superuser"),
        "POST",
        "/api/v1/tokens",
        &json!({"name": "root-ci", "user_id": w.get("user_root")}),
    )
    .await
    .expect(201);
    let root_token = bearer_of(t["token"].as_str().expect("token"));
    let me = as_(&w.api, &root_token, "GET", "/api/v1/me", &Value::Null)
        .await
        .expect(200);
    assert_eq!(me["role"], "admin");
}

// ---------------------------------------------------------------------------
// Login rules.

#[tokio::test]
async fn login_is_refused_for_inactive_users_and_employees_of_blocked_agents() {
    let w = world().await;
    let api = &w.api;
    let sessions_of = |r: &Resp| r.json().get("token").is_some();

    // Wrong password and unknown user: 401, the same answer.
    let wrong = login(api, "dave", "not-the-password").await;
    wrong.assert_error(401, "invalid_credentials");
    let unknown = login(api, "nobody-at-all", PASSWORD).await;
    unknown.assert_error(401, "invalid_credentials");
    assert!(!sessions_of(&wrong) && !sessions_of(&unknown));

    // Inactive: 403 login_refused, no token.
    let r = login(api, "ivan", PASSWORD).await;
    r.assert_error(403, "login_refused");
    assert!(!sessions_of(&r));
    // …and with a wrong password, still only 401 (no account probing).
    login(api, "ivan", "not-the-password")
        .await
        .assert_error(401, "invalid_credentials");

    // Employee of a blocked point.
    let r = login(api, "xena", PASSWORD).await;
    r.assert_error(403, "login_refused");
    assert!(!sessions_of(&r));
    // An API token cannot be made for an inactive user either.
    as_(
        api,
        &admin(),
        "POST",
        "/api/v1/tokens",
        &json!({"name": "x", "user_id": w.get("user_ivan")}),
    )
    .await
    .assert_error(403, "login_refused");

    // Employee of an organization blocked while they are signed in: the
    // session stops working at once, and a new login is refused.
    let cyril = session(api, "cyril").await;
    as_(api, &cyril, "GET", "/api/v1/me", &Value::Null)
        .await
        .expect(200);
    let token = as_(
        api,
        &cyril,
        "POST",
        "/api/v1/tokens",
        &json!({"name": "cyril-api"}),
    )
    .await
    .expect(201);
    let cyril_token = bearer_of(token["token"].as_str().expect("token"));
    as_(
        api,
        &admin(),
        "PATCH",
        &format!("/api/v1/organizations/{}", w.get("org_c")),
        &json!({"blocked": true}),
    )
    .await
    .expect(200);
    for auth in [&cyril, &cyril_token] {
        as_(api, auth, "GET", "/api/v1/me", &Value::Null)
            .await
            .assert_error(401, "unauthorized");
        as_(
            api,
            auth,
            "POST",
            "/api/v1/applications",
            &app_body(&w.catalog_at("point_c")),
        )
        .await
        .assert_error(401, "unauthorized");
    }
    login(api, "cyril", PASSWORD)
        .await
        .assert_error(403, "login_refused");
    // Unblocked: the old session works again (it had not expired), and a new
    // login succeeds.
    as_(
        api,
        &admin(),
        "PATCH",
        &format!("/api/v1/organizations/{}", w.get("org_c")),
        &json!({"blocked": false}),
    )
    .await
    .expect(200);
    session(api, "cyril").await;

    // Employee of a branch blocked: same rule through the cascade.
    let carol = w.who("employee_b").clone();
    as_(
        api,
        &admin(),
        "PATCH",
        &format!("/api/v1/branches/{}", w.get("branch_b")),
        &json!({"blocked": true}),
    )
    .await
    .expect(200);
    as_(api, &carol, "GET", "/api/v1/me", &Value::Null)
        .await
        .assert_error(401, "unauthorized");
    login(api, "carol", PASSWORD)
        .await
        .assert_error(403, "login_refused");
}

#[tokio::test]
async fn logout_invalidates_only_that_token() {
    let w = world().await;
    let api = &w.api;
    let first = session(api, "alice").await;
    let second = session(api, "alice").await;
    let r = as_(
        api,
        &first,
        "DELETE",
        "/api/v1/sessions/current",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    as_(api, &first, "GET", "/api/v1/me", &Value::Null)
        .await
        .assert_error(401, "unauthorized");
    // Logging out again: the token is unknown now.
    as_(
        api,
        &first,
        "DELETE",
        "/api/v1/sessions/current",
        &Value::Null,
    )
    .await
    .assert_error(401, "unauthorized");
    // The other session and the API token of the same user still work.
    for auth in [&second, w.who("api_token")] {
        assert_eq!(
            as_(api, auth, "GET", "/api/v1/me", &Value::Null)
                .await
                .expect(200)["user_id"],
            w.get("user_alice")
        );
    }
    // The bootstrap token "logging out" changes nothing.
    let r = as_(
        api,
        &admin(),
        "DELETE",
        "/api/v1/sessions/current",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    as_(api, &admin(), "GET", "/api/v1/me", &Value::Null)
        .await
        .expect(200);
}

#[tokio::test]
async fn an_expired_session_is_refused_and_api_tokens_do_not_expire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, _) = utrust_server::bootstrap::embedded_engine(dir.path())
        .await
        .expect("engine");
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let engine = engine.with_clock(clock.clone());
    let router = router(AppState::new(engine, TOKEN.to_owned()));
    let admin = admin();
    let r = send_to(
        &router,
        "POST",
        "/api/v1/users",
        &json!({"username": "walker", "password": PASSWORD}).to_string(),
        admin.as_deref(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let walker = id(&r.json());
    let r = send_to(
        &router,
        "POST",
        "/api/v1/sessions",
        &json!({"username": "walker", "password": PASSWORD}).to_string(),
        None,
    )
    .await;
    let v = r.expect(201);
    let expires = time::OffsetDateTime::parse(
        v["expires_at"].as_str().expect("expires_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    let ttl = expires - clock.now();
    assert!(
        ttl > time::Duration::ZERO && ttl <= time::Duration::days(1),
        "{ttl}"
    );
    let session = bearer_of(v["token"].as_str().expect("token"));
    let r = send_to(
        &router,
        "POST",
        "/api/v1/tokens",
        &json!({"name": "cron", "user_id": walker}).to_string(),
        admin.as_deref(),
    )
    .await;
    let api_token = bearer_of(r.expect(201)["token"].as_str().expect("token"));

    let me = |auth: Option<String>| {
        let router = router.clone();
        async move { send_to(&router, "GET", "/api/v1/me", "", auth.as_deref()).await }
    };
    me(session.clone()).await.expect(200);
    clock.advance(ttl - time::Duration::seconds(1));
    me(session.clone()).await.expect(200);
    clock.advance(time::Duration::seconds(1));
    me(session.clone()).await.assert_error(401, "unauthorized");
    // Gone for good: the expired session was deleted.
    me(session).await.assert_error(401, "unauthorized");
    clock.advance(time::Duration::days(400));
    me(api_token).await.expect(200);
}
