//! Certificate handlers: status, revoke, suspend, resume, renew; the CA's
//! certificate and CRL.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::certificate::{CertificateRecord, SerialNumber};
use utrust_core::domain::revocation::{
    CertificateHistoryEntry, CertificateStatus, RevocationReason,
};

use super::AppState;
use super::applications::view;
use super::error::ApiError;
use super::json::parse_optional_body;
use super::openapi::{ActionBodyErrors, ActionErrors, PublicErrors, ReadErrors};
use super::wire::{ApplicationOut, Der, Pem, rfc3339};

fn serial(raw: &str) -> Result<SerialNumber, ApiError> {
    SerialNumber::parse(raw).map_err(|_| ApiError::not_found("certificate"))
}

/// One entry of a certificate's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateHistoryOut {
    pub at: String,
    pub actor: String,
    pub from: String,
    pub to: String,
    pub event: String,
    pub comment: Option<String>,
}

impl CertificateHistoryOut {
    fn from_domain(h: &CertificateHistoryEntry) -> Self {
        Self {
            at: rfc3339(h.at),
            actor: h.actor.to_string(),
            from: h.from.name().to_owned(),
            to: h.to.name().to_owned(),
            event: h.event.name().to_owned(),
            comment: h.comment.clone(),
        }
    }
}

/// A certificate as the API shows it (with its history from `GET`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateOut {
    /// Hex serial number.
    pub serial: String,
    /// `valid`, `suspended`, `revoked` or `expired`.
    pub status: String,
    /// The RFC 5280 reason name of a revoked certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended_at: Option<String>,
    pub application_id: String,
    pub point_id: String,
    pub applicant_kind: String,
    pub products: Vec<String>,
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    pub version: u64,
    /// The certificate, PEM.
    pub certificate: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<CertificateHistoryOut>>,
}

impl CertificateOut {
    /// The view of a certificate (with its history when given).
    pub(super) fn from_domain(
        c: &CertificateRecord,
        history: Option<&[CertificateHistoryEntry]>,
    ) -> Self {
        let (revocation_reason, revoked_at, suspended_at) = match &c.status {
            CertificateStatus::Valid | CertificateStatus::Expired => (None, None, None),
            CertificateStatus::Suspended { since } => (None, None, Some(rfc3339(*since))),
            CertificateStatus::Revoked { reason, at } => {
                (Some(reason.as_str().to_owned()), Some(rfc3339(*at)), None)
            }
        };
        Self {
            serial: c.serial.to_string(),
            status: c.status.name().to_owned(),
            revocation_reason,
            revoked_at,
            suspended_at,
            application_id: c.application_id.to_string(),
            point_id: c.point_id.to_string(),
            applicant_kind: c.applicant_kind.as_str().to_owned(),
            products: c.products.iter().map(ToString::to_string).collect(),
            subject: c.subject.clone(),
            not_before: rfc3339(c.not_before),
            not_after: rfc3339(c.not_after),
            version: c.version,
            certificate: utrust_pki::to_pem("CERTIFICATE", &c.der),
            history: history.map(|h| h.iter().map(CertificateHistoryOut::from_domain).collect()),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/certificates/{serial}",
    tag = "certificates",
    params(("serial" = String, Path, description = "The certificate's serial number, hex as `issue` returned it")),
    responses((status = 200, description = "The certificate with its history", body = CertificateOut), ReadErrors),
)]
pub async fn get(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(raw): Path<String>,
) -> Result<Json<CertificateOut>, ApiError> {
    let serial = serial(&raw)?;
    let c = st.engine.visible_certificate(&who, &serial).await?;
    // "Certificate available only after completion": withheld from the applicant.
    let app = st.engine.application(c.application_id).await?;
    st.engine.release_certificate_to(&who, &app).await?;
    let history = st.engine.certificate_history(&serial).await?;
    Ok(Json(CertificateOut::from_domain(&c, Some(&history))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeIn {
    /// An RFC 5280 reason name, e.g. `keyCompromise`.
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/certificates/{serial}/revoke",
    tag = "certificates",
    params(("serial" = String, Path, description = "The certificate's serial number, hex as `issue` returned it")),
    request_body = RevokeIn,
    responses((status = 200, description = "Revoked", body = CertificateOut), ActionBodyErrors),
)]
pub async fn revoke(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(raw): Path<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<CertificateOut>, ApiError> {
    let serial = serial(&raw)?;
    st.engine
        .certificate_for(&who, &serial, Permission::ManageCertificates)
        .await?;
    let body: RevokeIn = parse_optional_body(body)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "a JSON body {\"reason\"} is required",
        )
    })?;
    let reason = RevocationReason::from_name(&body.reason).ok_or_else(|| {
        ApiError::invalid(
            "reason",
            "an RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, \
             cessationOfOperation, privilegeWithdrawn, aACompromise",
        )
    })?;
    let c = st.engine.revoke(&serial, reason, who.actor()).await?;
    Ok(Json(CertificateOut::from_domain(&c, None)))
}

#[utoipa::path(
    post,
    path = "/api/v1/certificates/{serial}/suspend",
    tag = "certificates",
    params(("serial" = String, Path, description = "The certificate's serial number, hex as `issue` returned it")),
    responses((status = 200, description = "Suspended", body = CertificateOut), ActionErrors),
)]
pub async fn suspend(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(raw): Path<String>,
) -> Result<Json<CertificateOut>, ApiError> {
    let serial = serial(&raw)?;
    st.engine
        .certificate_for(&who, &serial, Permission::ManageCertificates)
        .await?;
    let c = st.engine.suspend(&serial, who.actor()).await?;
    Ok(Json(CertificateOut::from_domain(&c, None)))
}

#[utoipa::path(
    post,
    path = "/api/v1/certificates/{serial}/resume",
    tag = "certificates",
    params(("serial" = String, Path, description = "The certificate's serial number, hex as `issue` returned it")),
    responses((status = 200, description = "Resumed", body = CertificateOut), ActionErrors),
)]
pub async fn resume(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(raw): Path<String>,
) -> Result<Json<CertificateOut>, ApiError> {
    let serial = serial(&raw)?;
    st.engine
        .certificate_for(&who, &serial, Permission::ManageCertificates)
        .await?;
    let c = st.engine.resume(&serial, who.actor()).await?;
    Ok(Json(CertificateOut::from_domain(&c, None)))
}

#[utoipa::path(
    post,
    path = "/api/v1/certificates/{serial}/renew",
    tag = "certificates",
    params(("serial" = String, Path, description = "The certificate's serial number, hex as `issue` returned it")),
    responses((status = 201, description = "A renewal application", body = ApplicationOut), ActionErrors),
)]
pub async fn renew(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(raw): Path<String>,
) -> Result<(StatusCode, Json<ApplicationOut>), ApiError> {
    let serial = serial(&raw)?;
    st.engine
        .certificate_for(&who, &serial, Permission::ManageCertificates)
        .await?;
    let app = st.engine.renew(&serial, who.actor()).await?;
    Ok((StatusCode::CREATED, Json(view(&st, &app).await?)))
}

#[utoipa::path(
    get,
    path = "/api/v1/ca/certificate",
    tag = "ca",
    security(()),
    responses((status = 200, description = "The CA certificate, PEM", content_type = "application/x-pem-file", body = Pem), PublicErrors),
)]
pub async fn ca_certificate(State(st): State<AppState>) -> Pem {
    Pem(utrust_pki::to_pem(
        "CERTIFICATE",
        &st.engine.ca_certificate_der(),
    ))
}

/// The current CRL, DER (`application/pkix-crl`, RFC 5280 §4.2.1.13).
#[utoipa::path(
    get,
    path = "/api/v1/ca/crl",
    tag = "ca",
    security(()),
    responses((status = 200, description = "The current CRL, DER", content_type = "application/pkix-crl", body = Der), PublicErrors),
)]
pub async fn crl(State(st): State<AppState>) -> Result<Response, ApiError> {
    let crl = st.engine.current_crl().await?;
    Ok((
        [(header::CONTENT_TYPE, "application/pkix-crl")],
        Der(crl.der),
    )
        .into_response())
}
