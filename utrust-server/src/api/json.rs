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
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .is_some_and(|m| {
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a body with `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| bytes_rejection(&r))?;
        if has_escaped_nul(&bytes) {
            // No text field of the domain may hold U+0000 (and PostgreSQL text
            // cannot store it): refuse it at the door, uniformly for every store.
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "the NUL character (\\u0000) is not allowed in text",
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// Whether a JSON text contains the escape `\u0000` (a raw NUL byte is not
/// valid JSON and is refused by the parser anyway). An escaped backslash before
/// `u0000` (`\\u0000`) is text, not a NUL.
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json.get(i + 1).is_some_and(|c| *c == b'u')
                && json
                    .get(i + 2..i + 6)
                    .is_some_and(|h| h.iter().all(|c| *c == b'0'))
            {
                return true;
            }
            i += 2; // skip the escaped character
        } else {
            i += 1;
        }
    }
    false
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
    if has_escaped_nul(&body) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the NUL character (\\u0000) is not allowed in text",
        ));
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::has_escaped_nul;

    #[test]
    fn finds_escaped_nul_only() {
        assert!(has_escaped_nul(br#"{"a":"x\u0000y"}"#));
        assert!(!has_escaped_nul(br#"{"a":"x\\u0000y"}"#));
        assert!(!has_escaped_nul(br#"{"a":"\u0041"}"#));
        assert!(!has_escaped_nul(br#"{"a":"plain"}"#));
    }
}
