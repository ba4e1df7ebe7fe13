//! The application's case file: files and their signatures, issuance
//! confirmation, payment, ЕСИА registration, completion (issue #8).
//!
//! Who may do what: uploading files needs `process_applications` (so the
//! applicant may upload to their own application); signing files, recording a
//! payment, retrying the ЕСИА registration and completing need
//! `process_applications` and an employee (or administrator); the applicant
//! (their own application) or an employee with `process_applications` may choose
//! the payment method and confirm the issuance; everyone who sees the
//! application may list and download its files.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::application::Application;
use utrust_core::domain::casefile::{CaseDocument, EsiaStatus, PaymentMethod, payment_methods};
use utrust_core::domain::catalog::{DocumentKind, Service};
use utrust_core::domain::ids::{ApplicationId, DocumentId};
use utrust_core::engine::NewDocument;

use super::applications::view;
use super::catalog::path_id;
use super::json::{bytes_rejection, parse_optional_body};
use super::openapi::{ActionBodyErrors, ActionErrors, ReadErrors, WriteErrors};
use super::wire::{ApplicationOut, Der, rfc3339};
use super::{ApiError, AppState};

/// One file of the case file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileOut {
    #[schema(format = Uuid)]
    pub id: String,
    /// `passport`, `snils`, `power_of_attorney`, `application_form`,
    /// `signed_blank`, `additional`.
    pub kind: String,
    pub name: String,
    pub media_type: String,
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    /// `unsigned` or `signed`.
    pub signature: String,
    /// The signer, once signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<SignerOut>,
    pub uploaded_by: String,
    pub uploaded_at: String,
}

/// The verified signer of a file.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignerOut {
    /// Serial of the signer's certificate (hex).
    pub serial: String,
    /// Subject of the signer's certificate.
    pub subject: String,
    /// SHA-256 of the stored signature.
    pub signature_sha256: String,
    pub signed_by: String,
    pub signed_at: String,
}

impl FileOut {
    fn from_domain(d: &CaseDocument) -> Self {
        Self {
            id: d.id.to_string(),
            kind: d.kind.as_str().to_owned(),
            name: d.name.clone(),
            media_type: d.media_type.clone(),
            size: d.size,
            sha256: d.sha256.to_string(),
            signature: d.signature_state().to_owned(),
            signer: d.signature.as_ref().map(|s| SignerOut {
                serial: s.signer_serial.clone(),
                subject: s.signer_subject.clone(),
                signature_sha256: s.signature_sha256.to_string(),
                signed_by: s.signed_by.to_string(),
                signed_at: rfc3339(s.signed_at),
            }),
            uploaded_by: d.uploaded_by.to_string(),
            uploaded_at: rfc3339(d.uploaded_at),
        }
    }
}

/// `GET /applications/{id}/files`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilesOut {
    pub items: Vec<FileOut>,
}

/// The payment of an application (services with a price only).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentOut {
    /// `card`, `invoice`, or null before one is chosen.
    pub method: Option<String>,
    /// `awaiting_method`, `awaiting_payment` or `paid`.
    pub state: String,
    /// The provider's reference (invoice number, payment id).
    pub reference: Option<String>,
    pub paid_at: Option<String>,
    /// The methods offered to this applicant kind (card only where the service
    /// allows it).
    pub methods: Vec<String>,
}

impl PaymentOut {
    /// The payment of `app` under `service`, `None` when the service takes none.
    pub fn of(app: &Application, service: &Service) -> Option<Self> {
        if !app.plan.payment {
            return None;
        }
        let p = &app.payment;
        let state = match (&p.method, &p.paid_at) {
            (_, Some(_)) => "paid",
            (Some(_), None) => "awaiting_payment",
            (None, None) => "awaiting_method",
        };
        Some(Self {
            method: p.method.map(|m| m.as_str().to_owned()),
            state: state.to_owned(),
            reference: p.reference.clone(),
            paid_at: p.paid_at.map(rfc3339),
            methods: payment_methods(service, app.applicant_kind())
                .into_iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
        })
    }
}

/// The ЕСИА registration of the issued certificate.
#[derive(Debug, Serialize, ToSchema)]
pub struct EsiaOut {
    /// `pending` before the certificate is issued, then `validating`,
    /// `succeeded` or `failed`.
    pub status: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The attempt (0 first).
    pub attempt: u32,
}

impl EsiaOut {
    /// The registration status of `app`, `None` when the service does not register.
    pub fn of(app: &Application, status: Option<&EsiaStatus>) -> Option<Self> {
        if !app.plan.esia_registration {
            return None;
        }
        Some(Self {
            status: status.map_or("pending", EsiaStatus::name).to_owned(),
            reason: match status {
                Some(EsiaStatus::Failed(r)) => Some(r.clone()),
                _ => None,
            },
            attempt: app.esia_attempt,
        })
    }
}

/// `POST /applications/{id}/payment`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentIn {
    /// `card` or `invoice`.
    pub method: String,
}

/// The applicant (own application, already checked visible) or an employee with
/// `process_applications`.
fn applicant_or_processor(st: &AppState, who: &Principal) -> Result<(), ApiError> {
    if matches!(who, Principal::Applicant { .. }) {
        return Ok(());
    }
    Ok(st.engine.authorize(who, Permission::ProcessApplications)?)
}

/// Employees and administrators only (signing, recording payments, ЕСИА,
/// completion): an applicant sees the application but may not act for the agent.
fn staff(who: &Principal) -> Result<(), ApiError> {
    if matches!(who, Principal::Applicant { .. }) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "not allowed: only employees sign files, record payments, register in ESIA and complete applications",
        ));
    }
    Ok(())
}

fn app_id(id: &str) -> Result<ApplicationId, ApiError> {
    path_id::<ApplicationId>(id, "application")
}

fn file_id(id: &str) -> Result<DocumentId, ApiError> {
    path_id::<DocumentId>(id, "file")
}

/// `POST /applications/{id}/files?kind=passport&name=scan.pdf`: the raw body is
/// the document, its `Content-Type` the media type.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/files",
    tag = "case file",
    params(
        ("id" = uuid::Uuid, Path, description = "The application's id (UUID)"),
        ("kind" = String, Query, description = "`passport`, `snils`, `power_of_attorney`, `application_form`, `signed_blank` or `additional`"),
        ("name" = String, Query, description = "File name (no path), 1–255 characters"),
    ),
    request_body(description = "The document (at most 10 MiB); Content-Type `application/pdf`, `image/jpeg`, `image/png`, `image/tiff` or `application/xml`", content((Der = "application/pdf"), (Der = "image/jpeg"), (Der = "image/png"), (Der = "image/tiff"), (Der = "application/xml"))),
    responses((status = 201, description = "Stored", body = FileOut), WriteErrors),
)]
pub async fn upload(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    query: Result<Query<std::collections::BTreeMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<FileOut>), ApiError> {
    let id = app_id(&id)?;
    st.engine
        .application_for(&who, id, Permission::ProcessApplications)
        .await?;
    let Query(q) =
        query.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", r.body_text()))?;
    let mut kind = None;
    let mut name = None;
    for (k, v) in &q {
        match k.as_str() {
            "kind" => {
                kind = Some(DocumentKind::from_name(v).ok_or_else(|| {
                    ApiError::invalid(
                        "kind",
                        "expected passport, snils, power_of_attorney, application_form, signed_blank or additional",
                    )
                })?);
            }
            "name" => name = Some(v.clone()),
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    format!("unknown query parameter `{other}`"),
                ));
            }
        }
    }
    let kind = kind.ok_or_else(|| ApiError::invalid("kind", "required"))?;
    let name = name.ok_or_else(|| ApiError::invalid("name", "required"))?;
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = body.map_err(|r| bytes_rejection(&r))?;
    let (doc, _) = st
        .engine
        .upload_document(
            id,
            NewDocument {
                kind,
                name,
                media_type,
                content: body.to_vec(),
            },
            who.actor(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(FileOut::from_domain(&doc))))
}

/// `GET /applications/{id}/files`: kind, name, size, media type, SHA-256 and
/// signature state of every file, in upload order.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/files",
    tag = "case file",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    responses((status = 200, description = "The files", body = FilesOut), ReadErrors),
)]
pub async fn list(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<FilesOut>, ApiError> {
    let id = app_id(&id)?;
    st.engine.visible_application(&who, id).await?;
    let docs = st.engine.documents(id).await?;
    Ok(Json(FilesOut {
        items: docs.iter().map(FileOut::from_domain).collect(),
    }))
}

/// `GET /applications/{id}/files/{file_id}`: the content, with its media type.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/files/{file_id}",
    tag = "case file",
    params(
        ("id" = uuid::Uuid, Path, description = "The application's id (UUID)"),
        ("file_id" = uuid::Uuid, Path, description = "The file's id (UUID)"),
    ),
    responses((status = 200, description = "The content (Content-Type is the file's media type)", content_type = "application/octet-stream", body = Der), ReadErrors),
)]
pub async fn download(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = app_id(&id)?;
    let file = file_id(&file)?;
    st.engine.visible_application(&who, id).await?;
    let (doc, content) = st.engine.document_content(id, file).await?;
    let mut resp = content.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&doc.media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", doc.sha256)) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    Ok(resp)
}

/// `POST /applications/{id}/files/{file_id}/signature`: a detached CMS
/// signature of the file (DER, or PEM `CMS`/`PKCS7`) by the responsible
/// employee's certificate issued by our CA.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/files/{file_id}/signature",
    tag = "case file",
    params(
        ("id" = uuid::Uuid, Path, description = "The application's id (UUID)"),
        ("file_id" = uuid::Uuid, Path, description = "The file's id (UUID)"),
    ),
    request_body(description = "Detached CMS SignedData over the file's content: DER or PEM", content((Der = "application/pkcs7-signature"), (Der = "application/octet-stream"), (String = "application/x-pem-file"), (String = "text/plain"))),
    responses((status = 200, description = "The file, signed", body = FileOut), ActionBodyErrors),
)]
pub async fn sign(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((id, file)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<FileOut>, ApiError> {
    let id = app_id(&id)?;
    let file = file_id(&file)?;
    st.engine
        .application_for(&who, id, Permission::ProcessApplications)
        .await?;
    staff(&who)?;
    let body = body.map_err(|r| bytes_rejection(&r))?;
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_signature",
            "empty body",
        ));
    }
    let (doc, _) = st.engine.sign_document(&who, id, file, &body).await?;
    Ok(Json(FileOut::from_domain(&doc)))
}

/// `POST /applications/{id}/confirm`: the extra confirmation before issuing
/// (services with "issuance confirmation required").
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/confirm",
    tag = "case file",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    responses((status = 200, description = "Confirmed", body = ApplicationOut), ActionErrors),
)]
pub async fn confirm(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = app_id(&id)?;
    st.engine.visible_application(&who, id).await?;
    applicant_or_processor(&st, &who)?;
    let app = st.engine.confirm_issuance(id, who.actor()).await?;
    Ok(Json(view(&st, &app).await?))
}

/// `POST /applications/{id}/payment` `{"method": "card"|"invoice"}`: chooses
/// how the application is paid (card only where the service allows it for the
/// applicant kind).
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/payment",
    tag = "case file",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    request_body = PaymentIn,
    responses((status = 200, description = "The method chosen, the payment opened", body = ApplicationOut), ActionBodyErrors),
)]
pub async fn payment(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = app_id(&id)?;
    st.engine.visible_application(&who, id).await?;
    applicant_or_processor(&st, &who)?;
    let body: PaymentIn = parse_optional_body(body)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "a JSON body {\"method\"} is required",
        )
    })?;
    let method = PaymentMethod::from_name(&body.method)
        .ok_or_else(|| ApiError::invalid("method", "expected card or invoice"))?;
    let app = st.engine.choose_payment(id, method, who.actor()).await?;
    Ok(Json(view(&st, &app).await?))
}

/// `POST /applications/{id}/paid`: an employee records the payment as received
/// (the manual payment provider).
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/paid",
    tag = "case file",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    responses((status = 200, description = "Paid: the application moves on", body = ApplicationOut), ActionErrors),
)]
pub async fn paid(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = app_id(&id)?;
    st.engine
        .application_for(&who, id, Permission::ProcessApplications)
        .await?;
    staff(&who)?;
    let app = st.engine.mark_paid(id, who.actor()).await?;
    Ok(Json(view(&st, &app).await?))
}

/// `POST /applications/{id}/esia-registration`: a new ЕСИА registration attempt
/// after a failed one.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/esia-registration",
    tag = "case file",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    responses((status = 200, description = "A new attempt started", body = ApplicationOut), ActionErrors),
)]
pub async fn esia_retry(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = app_id(&id)?;
    st.engine
        .application_for(&who, id, Permission::ProcessApplications)
        .await?;
    staff(&who)?;
    let app = st.engine.retry_esia_registration(id, who.actor()).await?;
    Ok(Json(view(&st, &app).await?))
}

/// `POST /applications/{id}/complete`: closes the case (`issued → completed`),
/// or 409 `requirements_missing` naming each missing requirement in `missing`.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/complete",
    tag = "case file",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    responses((status = 200, description = "Completed", body = ApplicationOut), ActionErrors),
)]
pub async fn complete(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ApplicationOut>, ApiError> {
    let id = app_id(&id)?;
    st.engine
        .application_for(&who, id, Permission::ProcessApplications)
        .await?;
    staff(&who)?;
    let app = st.engine.complete(id, who.actor()).await?;
    Ok(Json(view(&st, &app).await?))
}
