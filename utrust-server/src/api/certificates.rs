//! Certificate handlers: status, revoke, suspend, resume, renew; the CA's
//! certificate and CRL.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::certificate::{CertificateRecord, SerialNumber};
use utrust_core::domain::revocation::{
    CertificateHistoryEntry, CertificateStatus, RevocationReason,
};

use super::AppState;
use super::applications::view;
use super::error::ApiError;
use super::json::parse_optional_body;
use super::wire::{ApplicationOut, rfc3339};

fn serial(raw: &str) -> Result<SerialNumber, ApiError> {
    SerialNumber::parse(raw).map_err(|_| ApiError::not_found("certificate"))
}

fn status_json(s: &CertificateStatus) -> Value {
    match s {
        CertificateStatus::Valid | CertificateStatus::Expired => json!({ "status": s.name() }),
        CertificateStatus::Suspended { since } => json!({
            "status": s.name(),
            "suspended_at": rfc3339(*since),
        }),
        CertificateStatus::Revoked { reason, at } => json!({
            "status": s.name(),
            "revocation_reason": reason.as_str(),
            "revoked_at": rfc3339(*at),
        }),
    }
}

fn history_json(h: &CertificateHistoryEntry) -> Value {
    json!({
        "at": rfc3339(h.at),
        "actor": h.actor.to_string(),
        "from": h.from.name(),
        "to": h.to.name(),
        "event": h.event.name(),
        "comment": h.comment,
    })
}

/// The JSON view of a certificate (with its history when given).
pub(super) fn certificate_json(
    c: &CertificateRecord,
    history: Option<&[CertificateHistoryEntry]>,
) -> Value {
    let mut v = json!({
        "serial": c.serial.to_string(),
        "application_id": c.application_id.to_string(),
        "point_id": c.point_id.to_string(),
        "applicant_kind": c.applicant_kind.as_str(),
        "products": c.products.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "subject": c.subject,
        "not_before": rfc3339(c.not_before),
        "not_after": rfc3339(c.not_after),
        "version": c.version,
        "certificate": utrust_pki::to_pem("CERTIFICATE", &c.der),
    });
    if let (Some(obj), Some(st)) = (v.as_object_mut(), status_json(&c.status).as_object()) {
        obj.extend(st.clone());
        if let Some(h) = history {
            obj.insert("history".into(), h.iter().map(history_json).collect());
        }
    }
    v
}

pub async fn get(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let serial = serial(&raw)?;
    let c = st.engine.visible_certificate(&who, &serial).await?;
    let history = st.engine.certificate_history(&serial).await?;
    Ok(Json(certificate_json(&c, Some(&history))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeIn {
    reason: String,
}

pub async fn revoke(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(raw): Path<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let serial = serial(&raw)?;
    st.engine.visible_certificate(&who, &serial).await?;
    st.engine.authorize(&who, Permission::ManageCertificates)?;
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
    Ok(Json(certificate_json(&c, None)))
}

pub async fn suspend(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let serial = serial(&raw)?;
    st.engine.visible_certificate(&who, &serial).await?;
    st.engine.authorize(&who, Permission::ManageCertificates)?;
    let c = st.engine.suspend(&serial, who.actor()).await?;
    Ok(Json(certificate_json(&c, None)))
}

pub async fn resume(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let serial = serial(&raw)?;
    st.engine.visible_certificate(&who, &serial).await?;
    st.engine.authorize(&who, Permission::ManageCertificates)?;
    let c = st.engine.resume(&serial, who.actor()).await?;
    Ok(Json(certificate_json(&c, None)))
}

pub async fn renew(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(raw): Path<String>,
) -> Result<(StatusCode, Json<ApplicationOut>), ApiError> {
    let serial = serial(&raw)?;
    st.engine.visible_certificate(&who, &serial).await?;
    st.engine.authorize(&who, Permission::ManageCertificates)?;
    let app = st.engine.renew(&serial, who.actor()).await?;
    Ok((StatusCode::CREATED, Json(view(&st, &app).await?)))
}

pub async fn ca_certificate(State(st): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        utrust_pki::to_pem("CERTIFICATE", &st.engine.ca_certificate_der()),
    )
        .into_response()
}

/// The current CRL, DER (`application/pkix-crl`, RFC 5280 §4.2.1.13).
pub async fn crl(State(st): State<AppState>) -> Result<Response, ApiError> {
    let crl = st.engine.current_crl().await?;
    Ok(([(header::CONTENT_TYPE, "application/pkix-crl")], crl.der).into_response())
}
