//! Application, certificate and CA handlers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utrust_core::NewApplication;
use utrust_core::domain::application::Actor;
use utrust_core::domain::certificate::CertificateRecord;
use utrust_core::domain::ids::{ApplicationId, PointId, ProductId, ServiceId};

use super::catalog::{body_id, path_id};
use super::json::{ApiJson, bytes_rejection, parse_optional_body};
use super::wire::{self, ApplicationOut, IssuedOut, TemplateOut};
use super::{ApiError, AppState};

pub(super) fn admin() -> Actor {
    Actor::Admin("bootstrap".into())
}

fn pem_response(label: &str, der: &[u8]) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        utrust_pki::to_pem(label, der),
    )
        .into_response()
}

pub async fn create(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<wire::ApplicationIn>,
) -> Result<(StatusCode, Json<ApplicationOut>), ApiError> {
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
    let app = st.engine.submit(new, admin()).await?;
    let history = st.engine.history(app.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(ApplicationOut::from_domain(&app, Some(&history))),
    ))
}

pub async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    let app = st.engine.application(id).await?;
    let history = st.engine.history(id).await?;
    Ok(Json(ApplicationOut::from_domain(&app, Some(&history))))
}

pub async fn template(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TemplateOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    let t = st.engine.request_template(id).await?;
    Ok(Json(TemplateOut::from_domain(&t)))
}

/// Accepts the CSR as a raw body (PEM or DER; `application/pkcs10`,
/// `application/x-pem-file`, `text/plain`, `application/octet-stream`) or as JSON
/// `{"csr": "<PEM>"}`.
pub async fn attach_csr(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
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
    let app = st.engine.attach_csr(id, &bytes, admin()).await?;
    let history = st.engine.history(id).await?;
    Ok(Json(ApplicationOut::from_domain(&app, Some(&history))))
}

async fn with_reason(body: Result<Bytes, BytesRejection>) -> Result<Option<String>, ApiError> {
    Ok(parse_optional_body::<wire::ReasonIn>(body)?.map(|r| r.reason))
}

pub async fn approve(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    let app = st.engine.approve(id, admin()).await?;
    Ok(Json(ApplicationOut::from_domain(
        &app,
        Some(&st.engine.history(id).await?),
    )))
}

pub async fn reject(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    let reason = with_reason(body).await?.unwrap_or_default();
    let app = st.engine.reject(id, admin(), reason).await?;
    Ok(Json(ApplicationOut::from_domain(
        &app,
        Some(&st.engine.history(id).await?),
    )))
}

pub async fn cancel(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    let reason = with_reason(body).await?.unwrap_or_default();
    let app = st.engine.cancel(id, admin(), reason).await?;
    Ok(Json(ApplicationOut::from_domain(
        &app,
        Some(&st.engine.history(id).await?),
    )))
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
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<IssuedOut>), ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    let cert = st.engine.issue(id, admin()).await?;
    let app = st.engine.application(id).await?;
    Ok((
        StatusCode::CREATED,
        Json(issued_out(id, app.status.as_str(), &cert)),
    ))
}

pub async fn certificate(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    let cert = st.engine.certificate_of(id).await?;
    Ok(pem_response("CERTIFICATE", &cert.der))
}
