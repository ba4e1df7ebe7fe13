//! Bearer-token authentication: the bootstrap admin token (`UTRUST_ADMIN_TOKEN`),
//! login sessions and API tokens (stored as SHA-256 hashes), resolved to a
//! [`Principal`] for the handlers.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ring::digest::{SHA256, digest};

use utrust_core::domain::access::Principal;

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

/// The lowercase hex SHA-256 of a bearer token: what the store keeps.
pub fn token_hash(token: &str) -> String {
    utrust_core::domain::hex::encode(digest(&SHA256, token.as_bytes()).as_ref())
}

fn unauthorized(message: &str) -> Response {
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    resp
}

/// Resolves `Authorization: Bearer …` to a [`Principal`] — the bootstrap admin
/// token, a session or an API token — and puts it in the request's extensions;
/// refuses the request with 401 otherwise.
pub async fn require_bearer(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(token) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
    else {
        return unauthorized("missing or invalid bearer token");
    };
    let principal = if tokens_match(&token, &state.admin_token) {
        Some(Principal::Admin { user: None })
    } else {
        match state.engine.principal_of(&token_hash(&token)).await {
            Ok(p) => p,
            Err(e) => return ApiError::from(e).into_response(),
        }
    };
    match principal {
        Some(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        None => unauthorized("missing or invalid bearer token"),
    }
}
