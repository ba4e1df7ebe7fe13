//! Application, certificate and CA handlers.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utrust_core::NewApplication;
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::application::Application;
use utrust_core::domain::certificate::CertificateRecord;
use utrust_core::domain::ids::{ApplicationId, PointId, ProductId, ServiceId};
use utrust_core::domain::lifecycle::ApplicationStatus;
use utrust_core::ports::ApplicationFilter;

use super::catalog::{body_id, path_id};
use super::json::{ApiJson, bytes_rejection, parse_optional_body};
use super::wire::{self, ApplicationOut, IssuedOut, TemplateOut};
use super::{ApiError, AppState};

fn pem_response(label: &str, der: &[u8]) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        utrust_pki::to_pem(label, der),
    )
        .into_response()
}

pub async fn create(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<wire::ApplicationIn>,
) -> Result<(StatusCode, Json<ApplicationOut>), ApiError> {
    st.engine.authorize(&who, Permission::CreateApplications)?;
    let new = NewApplication {
        service_id: body_id::<ServiceId>(&body.service_id, "service_id")?,
        point_id: body_id::<PointId>(&body.point_id, "point_id")?,
        products: body
            .products
            .iter()
            .map(|p| body_id::<ProductId>(p, "products"))
            .collect::<Result<_, _>>()?,
        account: body.account()?,
        owner: body.owner.to_domain()?,
        address: body.address()?,
        renewal_notice: body.renewal_notice,
    };
    st.engine.usable_point(&who, new.point_id).await?;
    let app = st.engine.submit(new, who.actor()).await?;
    Ok((StatusCode::CREATED, Json(view(&st, &app).await?)))
}

/// `GET /applications?status=&point_id=&service_id=&after=&limit=`: a page of
/// applications ordered by id, with `next` as the cursor of the following page
/// (`null` on the last page). Items carry no history (fetch one for that).
pub async fn list(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: Result<Query<std::collections::BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) =
        query.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", r.body_text()))?;
    let mut filter = ApplicationFilter::default();
    let mut after = None;
    let mut limit = 50u32;
    for (k, v) in &q {
        match k.as_str() {
            "status" => {
                filter.status = Some(
                    ApplicationStatus::from_name(v)
                        .ok_or_else(|| ApiError::invalid("status", "unknown status"))?,
                );
            }
            "point_id" => filter.point_id = Some(body_id::<PointId>(v, "point_id")?),
            "service_id" => filter.service_id = Some(body_id::<ServiceId>(v, "service_id")?),
            "after" => after = Some(body_id::<ApplicationId>(v, "after")?),
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=500).contains(n))
                    .ok_or_else(|| ApiError::invalid("limit", "1..=500"))?;
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    format!("unknown query parameter `{other}`"),
                ));
            }
        }
    }
    let (page, next) = st
        .engine
        .visible_applications(&who, &filter, after, limit)
        .await?;
    let next = next.map(|n| n.to_string());
    let items: Vec<ApplicationOut> = page
        .iter()
        .map(|a| ApplicationOut::from_domain(a, None, &[]))
        .collect();
    Ok(Json(serde_json::json!({ "items": items, "next": next })))
}

pub async fn get(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    let app = st.engine.visible_application(&who, id).await?;
    Ok(Json(view(&st, &app).await?))
}

pub async fn template(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<TemplateOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine.visible_application(&who, id).await?;
    let t = st.engine.request_template(id).await?;
    Ok(Json(TemplateOut::from_domain(&t)))
}

/// Accepts the CSR as a raw body (PEM or DER; `application/pkcs10`,
/// `application/x-pem-file`, `text/plain`, `application/octet-stream`) or as JSON
/// `{"csr": "<PEM>"}`.
pub async fn attach_csr(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine.visible_application(&who, id).await?;
    st.engine.authorize(&who, Permission::ProcessApplications)?;
    let body = body.map_err(|r| bytes_rejection(&r))?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let bytes: Vec<u8> = if is_json {
        let parsed: wire::CsrIn = serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.to_string()))?;
        parsed.csr.into_bytes()
    } else {
        body.to_vec()
    };
    if bytes.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "csr_malformed",
            "empty body",
        ));
    }
    let app = st.engine.attach_csr(id, &bytes, who.actor()).await?;
    Ok(Json(view(&st, &app).await?))
}

/// The full view of an application: with its history and its current round of
/// identity checks.
pub(super) async fn view(st: &AppState, app: &Application) -> Result<ApplicationOut, ApiError> {
    let history = st.engine.history(app.id).await?;
    let checks = st.engine.identity_checks(app.id).await?;
    Ok(ApplicationOut::from_domain(app, Some(&history), &checks))
}

/// `POST /applications/{id}/rerun-checks` `{"owner"?: {…}}`: after failed checks,
/// optionally with the owner's corrected data, run the checks again.
pub async fn rerun_checks(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine.visible_application(&who, id).await?;
    st.engine.authorize(&who, Permission::ProcessApplications)?;
    let body: Option<wire::RerunChecksIn> = parse_optional_body(body)?;
    let owner = match body.and_then(|b| b.owner) {
        Some(o) => Some(o.to_domain()?),
        None => None,
    };
    let app = st.engine.rerun_checks(id, owner, who.actor()).await?;
    Ok(Json(view(&st, &app).await?))
}

/// `POST /applications/{id}/accept-paper` `{"reason"}`: an operator accepts paper
/// documents instead of failed checks.
pub async fn accept_paper(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine.visible_application(&who, id).await?;
    st.engine.authorize(&who, Permission::ProcessApplications)?;
    let reason = with_reason(body).await?.unwrap_or_default();
    let app = st
        .engine
        .accept_paper_documents(id, who.actor(), reason)
        .await?;
    Ok(Json(view(&st, &app).await?))
}

async fn with_reason(body: Result<Bytes, BytesRejection>) -> Result<Option<String>, ApiError> {
    Ok(parse_optional_body::<wire::ReasonIn>(body)?.map(|r| r.reason))
}

pub async fn approve(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine.visible_application(&who, id).await?;
    st.engine.authorize(&who, Permission::ApproveApplications)?;
    let app = st.engine.approve(id, who.actor()).await?;
    Ok(Json(view(&st, &app).await?))
}

pub async fn reject(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine.visible_application(&who, id).await?;
    st.engine.authorize(&who, Permission::ApproveApplications)?;
    let reason = with_reason(body).await?.unwrap_or_default();
    let app = st.engine.reject(id, who.actor(), reason).await?;
    Ok(Json(view(&st, &app).await?))
}

pub async fn cancel(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine.visible_application(&who, id).await?;
    st.engine.authorize(&who, Permission::ProcessApplications)?;
    let reason = with_reason(body).await?.unwrap_or_default();
    let app = st.engine.cancel(id, who.actor(), reason).await?;
    Ok(Json(view(&st, &app).await?))
}

fn issued_out(app_id: ApplicationId, status: &str, c: &CertificateRecord) -> IssuedOut {
    IssuedOut {
        application_id: app_id.to_string(),
        status: status.to_owned(),
        serial: c.serial.to_string(),
        certificate: utrust_pki::to_pem("CERTIFICATE", &c.der),
        subject: c.subject.clone(),
        not_before: wire::rfc3339(c.not_before),
        not_after: wire::rfc3339(c.not_after),
    }
}

pub async fn issue(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<IssuedOut>), ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine.visible_application(&who, id).await?;
    st.engine.authorize(&who, Permission::IssueCertificates)?;
    let cert = st.engine.issue(id, who.actor()).await?;
    let app = st.engine.application(id).await?;
    Ok((
        StatusCode::CREATED,
        Json(issued_out(id, app.status.as_str(), &cert)),
    ))
}

pub async fn certificate(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine.visible_application(&who, id).await?;
    let cert = st.engine.certificate_of(id).await?;
    Ok(pem_response("CERTIFICATE", &cert.der))
}
