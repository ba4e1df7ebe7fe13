//! Errors as HTTP responses: `{"error": code, "message": text, "field"?: name}`.
//! The mapping from the engine's error codes to status codes lives here only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utrust_core::Error;

/// An API error.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// The input field at fault.
    pub field: Option<String>,
    /// The missing requirements (with `requirements_missing`).
    pub missing: Vec<String>,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `not_found`, `invalid_field`.
    pub error: String,
    /// Human-readable message.
    pub message: String,
    /// The input field at fault (with `invalid_field` and some CSR errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// With `requirements_missing`: every requirement the action still needs,
    /// e.g. `document:passport`, `signature:snils`, `payment`, `confirmation`,
    /// `esia_registration`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl ApiError {
    /// An error with a status and code.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            field: None,
            missing: Vec::new(),
        }
    }

    /// A 422 naming the field at fault.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_field".into(),
            message: message.into(),
            field: Some(field.to_owned()),
            missing: Vec::new(),
        }
    }

    /// A 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        let status = match code {
            "not_found" => StatusCode::NOT_FOUND,
            "forbidden" | "login_refused" => StatusCode::FORBIDDEN,
            "invalid_transition"
            | "quota_exhausted"
            | "quota_below_usage"
            | "duplicate"
            | "concurrent_modification"
            | "point_unavailable"
            | "bulk_not_allowed"
            | "ca_refused"
            // The case file (H3): what the application still lacks.
            | "requirements_missing"
            | "certificate_withheld"
            | "case_closed"
            | "payment_refused"
            // Self-service devices (H2): the token's state, not the input.
            | "token_not_present"
            | "pin_locked"
            | "token_full"
            | "awaiting_decision"
            | "issuance_refused"
            | "journal_out_of_order" => StatusCode::CONFLICT,
            "document_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "ca_unavailable"
            | "token_provider_unavailable"
            | "payment_unavailable"
            | "notification_failed" => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            "internal" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "internal error");
            "internal error".to_owned()
        } else {
            e.to_string()
        };
        Self {
            status,
            code: code.to_owned(),
            message,
            field: e.field(),
            missing: e.missing(),
        }
    }
}

impl From<utrust_core::domain::identifiers::IdentifierError> for ApiError {
    fn from(e: utrust_core::domain::identifiers::IdentifierError) -> Self {
        Self::from(Error::from(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The code travels with the response for the metrics layer.
        let code = crate::metrics::ErrorCode(self.code.clone());
        let body = ErrorBody {
            error: self.code,
            message: self.message,
            field: self.field,
            missing: self.missing,
        };
        let mut resp = (self.status, Json(body)).into_response();
        resp.extensions_mut().insert(code);
        resp
    }
}
