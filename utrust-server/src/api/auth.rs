//! Bearer-token authentication. Skeleton scope: the bootstrap admin token
//! (`UTRUST_ADMIN_TOKEN`); user sessions and roles arrive with the full API.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ring::digest::{SHA256, digest};

use super::{ApiError, AppState};

/// Compares two tokens without an early exit: both are hashed first, so the
/// comparison time depends on neither the length nor the content of the secret.
fn tokens_match(presented: &str, expected: &str) -> bool {
    let a = digest(&SHA256, presented.as_bytes());
    let b = digest(&SHA256, expected.as_bytes());
    a.as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Refuses requests without the right `Authorization: Bearer …` header.
pub async fn require_bearer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(token) if tokens_match(token, &state.admin_token) => next.run(req).await,
        _ => {
            let mut resp = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or invalid bearer token",
            )
            .into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            resp
        }
    }
}
