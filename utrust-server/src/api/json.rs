//! A JSON body extractor whose rejections are JSON errors too.

use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `Json<T>` with JSON error bodies: 400 `invalid_body` for malformed, mistyped or
/// unknown-field bodies, 415 `unsupported_media_type`, 413 `payload_too_large`.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

pub(crate) fn json_rejection(rejection: &JsonRejection) -> ApiError {
    // axum answers 422 for a well-formed body of the wrong shape (unknown or
    // missing field); the contract says 400 `invalid_body` for every body error.
    let (status, code) = match rejection.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        }
        StatusCode::PAYLOAD_TOO_LARGE => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        _ => (StatusCode::BAD_REQUEST, "invalid_body"),
    };
    ApiError::new(status, code, rejection.body_text())
}

/// A raw body (`Bytes`) rejection as a JSON error: 413 `payload_too_large` over
/// the body limit, 400 `invalid_body` otherwise.
pub(crate) fn bytes_rejection(rejection: &BytesRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            rejection.body_text(),
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            rejection.body_text(),
        ),
    }
}

/// Parses an optional JSON body read as raw bytes: empty → `None`; otherwise the
/// value, or 400 `invalid_body` (413 over the limit).
pub(crate) fn parse_optional_body<T: DeserializeOwned>(
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Option<T>, ApiError> {
    let body = body.map_err(|r| bytes_rejection(&r))?;
    if body.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.to_string()))
}
