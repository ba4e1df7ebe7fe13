//! The OpenAPI 3 document of the API, generated from the handlers'
//! `#[utoipa::path]` annotations and the wire types, served at
//! `GET /api/v1/openapi.json` (public).
//!
//! Every route of [`super::router`] under `/api/v1` is listed in [`ApiDoc`]; the
//! tests `openapi_matches_the_router` (unit) and the schemathesis run
//! (`tests/it/schemathesis.rs`) keep the document and the server in step.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

use super::error::ErrorBody;
use super::{
    accounts, applications, bulk, case, catalog, certificates, devices, head_accounts, lists, oids,
};

/// The document, built once.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// `GET /api/v1/openapi.json`: this API's OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
        PublicErrors,
    )
)]
pub async fn document() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(&DOCUMENT)
}

/// The whole document (for the tests).
#[cfg(test)]
fn openapi() -> utoipa::openapi::OpenApi {
    DOCUMENT.clone()
}

/// What an error status means, for the document.
fn describe(status: u16) -> &'static str {
    match status {
        400 => "Malformed body or query, unknown field or parameter (`invalid_body`)",
        401 => {
            "Missing or invalid bearer token (`unauthorized`), or wrong credentials (`invalid_credentials`)"
        }
        403 => "The caller lacks the permission (`forbidden`) or may not log in (`login_refused`)",
        404 => "No such object, or not visible to the caller (`not_found`)",
        409 => {
            "Conflicts with the current state (`invalid_transition`, `quota_exhausted`, `quota_below_usage`, `duplicate`, `concurrent_modification`, `point_unavailable`, `ca_refused`; case file: `requirements_missing` with `missing`, `certificate_withheld`, `case_closed`, `payment_refused`)"
        }
        413 => "Body over the size limit (`payload_too_large`, `document_too_large`)",
        415 => {
            "Body is not `application/json`, or a document's media type is not accepted (`unsupported_media_type`)"
        }
        422 => "A value fails validation (`invalid_field` with `field`, `csr_*`)",
        500 => "Internal error (`internal`)",
        503 => "The CA is unavailable (`ca_unavailable`) or the request timed out (`timeout`)",
        _ => "Error",
    }
}

/// Error responses with the [`ErrorBody`] schema for the given statuses.
fn error_responses(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|s| {
            let response = ResponseBuilder::new()
                .description(describe(*s))
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name(
                            ErrorBody::name(),
                        )))
                        .build(),
                )
                .build();
            (s.to_string(), RefOr::T(response))
        })
        .collect()
}

/// Declares sets of error responses usable in `responses(...)` of
/// `#[utoipa::path]`. They are uninhabited types: only their responses matter.
macro_rules! error_sets {
    ($($(#[$doc:meta])* $name:ident = [$($status:literal),*];)*) => {$(
        $(#[$doc])*
        pub(super) enum $name {}
        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                error_responses(&[$($status),*])
            }
        }
    )*};
}

error_sets! {
    /// Public routes.
    PublicErrors = [500, 503];
    /// `POST /sessions`.
    LoginErrors = [400, 401, 403, 413, 415, 500, 503];
    /// Authenticated routes that cannot be refused otherwise.
    AuthedErrors = [401, 500, 503];
    /// Reading one object.
    ReadErrors = [401, 403, 404, 500, 503];
    /// Paginated listings.
    ListErrors = [400, 401, 403, 422, 500, 503];
    /// Creating or changing with a JSON body.
    WriteErrors = [400, 401, 403, 404, 409, 413, 415, 422, 500, 503];
    /// Actions without a body.
    ActionErrors = [401, 403, 404, 409, 422, 500, 503];
    /// Actions with an optional or non-JSON body.
    ActionBodyErrors = [400, 401, 403, 404, 409, 413, 422, 500, 503];
}

/// The bearer-token security scheme.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// An optional body is written `request_body(content = Option<T>)`, which utoipa
/// renders as `oneOf: [null, T]` with `required` unset. The server takes an empty
/// body for "absent" and refuses a JSON `null` (400), so the document keeps only
/// `T` — the body stays optional through `required` being unset.
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::Required;
        use utoipa::openapi::schema::{Schema, Type};
        let is_null = |s: &RefOr<Schema>| {
            matches!(s, RefOr::T(Schema::Object(o))
                if o.schema_type == utoipa::openapi::schema::SchemaType::new(Type::Null))
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let Some(body) = op.request_body.as_mut() else {
                    continue;
                };
                if body.required == Some(Required::True) {
                    continue;
                }
                for content in body.content.values_mut() {
                    if let Some(RefOr::T(Schema::OneOf(one))) = &content.schema
                        && one.items.len() == 2
                        && one.items.iter().any(is_null)
                    {
                        content.schema = one.items.iter().find(|s| !is_null(s)).cloned();
                    }
                }
            }
        }
    }
}

/// The OpenAPI document of `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "utrust API",
        description = "Certificate-lifecycle engine: catalog, agent network, accounts, \
                       applications, certificates and the CA. Every route needs \
                       `Authorization: Bearer <token>` except `POST /api/v1/sessions`, \
                       `GET /api/v1/ca/certificate`, `GET /api/v1/ca/crl` and this document."
    ),
    modifiers(&BearerAuth, &OptionalBodies),
    security(("bearer" = [])),
    components(schemas(ErrorBody)),
    paths(
        document,
        oids::create,
        oids::list,
        catalog::create_product,
        lists::products,
        catalog::get_product,
        catalog::create_organization,
        lists::organizations,
        catalog::get_organization,
        catalog::patch_organization,
        catalog::create_branch,
        lists::branches,
        catalog::get_branch,
        catalog::patch_branch,
        catalog::create_point,
        lists::points,
        catalog::get_point,
        catalog::patch_point,
        catalog::create_service,
        lists::services,
        catalog::get_service,
        accounts::create_user,
        lists::users,
        accounts::get_user,
        accounts::create_employee,
        lists::employees,
        accounts::get_employee,
        accounts::create_token,
        accounts::login,
        accounts::logout,
        accounts::me,
        applications::create,
        bulk::create,
        applications::list,
        applications::get,
        applications::template,
        applications::attach_csr,
        applications::approve,
        applications::reject,
        applications::cancel,
        applications::issue,
        applications::rerun_checks,
        applications::accept_paper,
        applications::certificate,
        case::upload,
        case::list,
        case::download,
        case::sign,
        case::confirm,
        case::payment,
        case::paid,
        case::esia_retry,
        case::complete,
        head_accounts::list,
        head_accounts::get,
        head_accounts::patch,
        head_accounts::power_of_attorney,
        certificates::get,
        certificates::revoke,
        certificates::suspend,
        certificates::resume,
        certificates::renew,
        certificates::ca_certificate,
        certificates::crl,
        devices::my_devices,
        devices::issue,
        devices::continue_issuance,
        devices::questions,
        devices::set_questions,
        devices::put_type,
        devices::types,
        devices::put_policy,
        devices::policies,
        devices::assign,
        devices::assignments,
        devices::put_profile,
        devices::profile,
        devices::device,
        devices::lost,
        devices::broken,
        devices::withdraw,
        devices::destroy,
        devices::my_device_lost,
        devices::list,
        devices::register,
    )
)]
struct ApiDoc;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeSet;

    use super::openapi;

    /// `(METHOD, path)` of every route that `super::super::router` declares,
    /// read from its source so that a route added without documentation (or
    /// documented without a route) fails here.
    fn routed() -> BTreeSet<(String, String)> {
        let src = include_str!("mod.rs");
        let body = &src[src.find("pub fn router(").expect("router fn")..];
        let mut out = BTreeSet::new();
        let mut rest = body;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The route's arguments, up to the matching parenthesis.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find_map(|(i, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(i)
                })
                .expect("balanced route(");
            let args = &rest[..end];
            let q1 = args.find('"').expect("a path literal");
            let q2 = q1 + 1 + args[q1 + 1..].find('"').expect("closing quote");
            let path = &args[q1 + 1..q2];
            let handlers = &args[q2 + 1..];
            for method in ["get", "post", "put", "patch", "delete"] {
                let mut h = handlers;
                while let Some(i) = h.find(&format!("{method}(")) {
                    let before = h[..i].chars().last();
                    if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                        out.insert((method.to_uppercase(), path.to_owned()));
                    }
                    h = &h[i + 1..];
                }
            }
        }
        out
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(openapi()).expect("serializes");
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn openapi_matches_the_router() {
        // Outside `/api/v1` and not part of the document.
        let outside: BTreeSet<&str> = ["/healthz", "/metrics"].into();
        let routed: BTreeSet<(String, String)> = routed()
            .into_iter()
            .filter(|(_, p)| !outside.contains(p.as_str()))
            .map(|(m, p)| (m, format!("/api/v1{p}")))
            .collect();
        assert!(routed.len() > 40, "parsed too few routes: {routed:?}");
        let documented = documented();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty() && unrouted.is_empty(),
            "routes without documentation: {undocumented:?}; documented but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn optional_bodies_are_optional_and_not_null() {
        let doc = serde_json::to_value(openapi()).expect("serializes");
        let body = &doc["paths"]["/api/v1/applications/{id}/reject"]["post"]["requestBody"];
        assert!(body.get("required").is_none(), "{body}");
        assert_eq!(
            body["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ReasonIn"
        );
    }

    #[test]
    fn every_error_response_uses_the_error_schema() {
        let doc = serde_json::to_value(openapi()).expect("serializes");
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let responses = op["responses"].as_object().expect("responses");
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path}: no success response"
                );
                for (status, r) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            r["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }
}
