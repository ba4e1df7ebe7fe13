//! Application, certificate and CA handlers.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::application::Application;
use utrust_core::domain::certificate::CertificateRecord;
use utrust_core::domain::ids::{ApplicationId, PointId, ServiceId};
use utrust_core::domain::lifecycle::ApplicationStatus;
use utrust_core::ports::ApplicationFilter;

use super::catalog::{body_id, path_id};
use super::json::{ApiJson, bytes_rejection, parse_optional_body};
use super::lists::{QueryResult, page_with};
use super::openapi::{ActionBodyErrors, ActionErrors, ListErrors, ReadErrors, WriteErrors};
use super::wire::{self, ApplicationOut, Der, IssuedOut, Page, Pem, TemplateOut};
use super::{ApiError, AppState};

#[utoipa::path(
    post,
    path = "/api/v1/applications",
    tag = "applications",
    request_body = wire::ApplicationIn,
    responses((status = 201, description = "Created", body = ApplicationOut), WriteErrors),
)]
pub async fn create(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<wire::ApplicationIn>,
) -> Result<(StatusCode, Json<ApplicationOut>), ApiError> {
    st.engine.authorize(&who, Permission::CreateApplications)?;
    let new = body.to_domain()?;
    st.engine.usable_point(&who, new.point_id).await?;
    let app = st.engine.submit(new, who.actor()).await?;
    Ok((StatusCode::CREATED, Json(view(&st, &app).await?)))
}

/// `GET /applications?status=&point_id=&service_id=&after=&limit=`: a page of
/// applications ordered by id, with `next` as the cursor of the following page
/// (`null` on the last page). Items carry no history (fetch one for that).
#[utoipa::path(
    get,
    path = "/api/v1/applications",
    tag = "applications",
    params(("status" = Option<String>, Query, description = "Only applications in this status, e.g. `awaiting_csr`"), ("point_id" = Option<uuid::Uuid>, Query, description = "Only this point's"), ("service_id" = Option<uuid::Uuid>, Query, description = "Only this service's"), ("after" = Option<uuid::Uuid>, Query, description = "Cursor: the `next` of the previous page"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)")),
    responses((status = 200, description = "A page of applications (without history)", body = Page<ApplicationOut>), ListErrors),
)]
pub async fn list(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Page<ApplicationOut>>, ApiError> {
    let mut filter = ApplicationFilter::default();
    let (after, limit) = page_with::<ApplicationId>(query, |k, v| {
        match k {
            "status" => {
                filter.status = Some(
                    ApplicationStatus::from_name(v)
                        .ok_or_else(|| ApiError::invalid("status", "unknown status"))?,
                );
            }
            "point_id" => filter.point_id = Some(body_id::<PointId>(v, "point_id")?),
            "service_id" => filter.service_id = Some(body_id::<ServiceId>(v, "service_id")?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let (page, next) = st
        .engine
        .visible_applications(&who, &filter, after, limit)
        .await?;
    let next = next.map(|n| n.to_string());
    let items: Vec<ApplicationOut> = page
        .iter()
        .map(|a| ApplicationOut::from_domain(a, None, &[]))
        .collect();
    Ok(Json(Page { items, next }))
}

#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}",
    tag = "applications",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    responses((status = 200, description = "The application with history and checks", body = ApplicationOut), ReadErrors),
)]
pub async fn get(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    let app = st.engine.visible_application(&who, id).await?;
    Ok(Json(view(&st, &app).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/request-template",
    tag = "applications",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    responses((status = 200, description = "What the CSR must contain", body = TemplateOut), ActionErrors),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/csr",
    tag = "applications",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    request_body(description = "The PKCS#10 CSR: PEM or DER, or JSON `{\"csr\": \"<PEM>\"}`", content((wire::CsrIn = "application/json"), (Pem = "application/x-pem-file"), (Pem = "text/plain"), (Der = "application/pkcs10"), (Der = "application/octet-stream"))),
    responses((status = 200, description = "The application with the CSR attached", body = ApplicationOut), ActionBodyErrors),
)]
pub async fn attach_csr(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine
        .application_for(&who, id, Permission::ProcessApplications)
        .await?;
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
    let mut out = ApplicationOut::from_domain(app, Some(&history), &checks);
    // The case file (H3): payment and ЕСИА registration, where the service has them.
    if app.plan.payment {
        let service = st.engine.service(app.service_id).await?;
        out.payment = super::case::PaymentOut::of(app, &service);
    }
    let esia = st.engine.esia_status(app).await?;
    out.esia_registration = super::case::EsiaOut::of(app, esia.as_ref());
    Ok(out)
}

/// `POST /applications/{id}/rerun-checks` `{"owner"?: {…}}`: after failed checks,
/// optionally with the owner's corrected data, run the checks again.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/rerun-checks",
    tag = "applications",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    request_body(content = Option<wire::RerunChecksIn>, description = "Optional JSON body"),
    responses((status = 200, description = "A new round of checks", body = ApplicationOut), ActionBodyErrors),
)]
pub async fn rerun_checks(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine
        .application_for(&who, id, Permission::ProcessApplications)
        .await?;
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
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/accept-paper",
    tag = "applications",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    request_body(content = Option<wire::ReasonIn>, description = "Optional JSON body"),
    responses((status = 200, description = "Paper documents accepted", body = ApplicationOut), ActionBodyErrors),
)]
pub async fn accept_paper(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine
        .application_for(&who, id, Permission::ProcessApplications)
        .await?;
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

#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/approve",
    tag = "applications",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    responses((status = 200, description = "Approved", body = ApplicationOut), ActionErrors),
)]
pub async fn approve(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine
        .application_for(&who, id, Permission::ApproveApplications)
        .await?;
    let app = st.engine.approve(id, who.actor()).await?;
    Ok(Json(view(&st, &app).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/reject",
    tag = "applications",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    request_body(content = Option<wire::ReasonIn>, description = "Optional JSON body"),
    responses((status = 200, description = "Rejected", body = ApplicationOut), ActionBodyErrors),
)]
pub async fn reject(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine
        .application_for(&who, id, Permission::ApproveApplications)
        .await?;
    let reason = with_reason(body).await?.unwrap_or_default();
    let app = st.engine.reject(id, who.actor(), reason).await?;
    Ok(Json(view(&st, &app).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/cancel",
    tag = "applications",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    request_body(content = Option<wire::ReasonIn>, description = "Optional JSON body"),
    responses((status = 200, description = "Cancelled", body = ApplicationOut), ActionBodyErrors),
)]
pub async fn cancel(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine
        .application_for(&who, id, Permission::ProcessApplications)
        .await?;
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

#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/issue",
    tag = "applications",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    responses((status = 201, description = "Issued", body = IssuedOut), ActionErrors),
)]
pub async fn issue(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<IssuedOut>), ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    st.engine
        .application_for(&who, id, Permission::IssueCertificates)
        .await?;
    let cert = st.engine.issue(id, who.actor()).await?;
    let app = st.engine.application(id).await?;
    Ok((
        StatusCode::CREATED,
        Json(issued_out(id, app.status.as_str(), &cert)),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/certificate",
    tag = "applications",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    responses((status = 200, description = "The issued certificate, PEM", content_type = "application/x-pem-file", body = Pem), ActionErrors),
)]
pub async fn certificate(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Pem, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    let app = st.engine.visible_application(&who, id).await?;
    // "Certificate available only after completion": withheld from the applicant.
    st.engine.release_certificate_to(&who, &app).await?;
    let cert = st.engine.certificate_of(id).await?;
    Ok(Pem(utrust_pki::to_pem("CERTIFICATE", &cert.der)))
}
