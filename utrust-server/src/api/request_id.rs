//! Request ids, access log, request metrics and request timeouts.
//!
//! [`observe`] is the outermost middleware: it takes the `X-Request-Id` of the
//! request when it is sane (1 to 128 visible ASCII characters) or generates one,
//! runs the request inside an `info_span!("request", id, method, route)`, logs
//! one access line (method, route, status, latency; never bodies or headers),
//! records the request in the [`Metrics`](crate::metrics::Metrics) registry and
//! returns the id in the `X-Request-Id` response header.
//!
//! [`timeout`] answers `503 {"error": "timeout", …}` when a request (including
//! reading its body) takes longer than [`AppState::request_timeout`].

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::{ApiError, AppState};
use crate::metrics::ErrorCode;

/// The request id header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest accepted incoming request id.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The id of the current request (a request extension, for handlers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The incoming id if it is 1..=128 visible ASCII characters.
fn sane(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|b| (0x21..=0x7e).contains(b));
    if ok { value.to_str().ok() } else { None }
}

/// Request id, span, access log and metrics around every request.
pub async fn observe(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(sane)
        .map(str::to_owned)
        .unwrap_or_else(|| utrust_pki::OsRandom::new().hex_token(16));
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let route_label = route.as_deref().unwrap_or(crate::metrics::UNMATCHED);
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %method,
        route = %route_label
    );
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = resp.status();
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            route = %route_label,
            status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    st.metrics.record_request(
        &method,
        route.as_deref(),
        status,
        elapsed,
        resp.extensions().get::<ErrorCode>(),
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    resp
}

/// Bounds the time of a request; a timed-out request answers 503 JSON.
pub async fn timeout(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if st.request_timeout.is_zero() {
        return next.run(req).await;
    }
    match tokio::time::timeout(st.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(
                timeout_ms = st.request_timeout.as_millis(),
                "request timed out"
            );
            let mut resp = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!(
                    "the request took longer than {} ms",
                    st.request_timeout.as_millis()
                ),
            )
            .into_response();
            resp.extensions_mut()
                .insert(ErrorCode("timeout".to_owned()));
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_taken() {
        let ok = HeaderValue::from_static("abc-123_XYZ.:/");
        assert_eq!(sane(&ok), Some("abc-123_XYZ.:/"));
        for bad in ["", "has space", "tab\there"] {
            let v = HeaderValue::from_str(bad).ok();
            assert!(v.as_ref().and_then(sane).is_none(), "{bad:?}");
        }
        let long = HeaderValue::from_str(&"a".repeat(129)).ok();
        assert!(long.as_ref().and_then(sane).is_none());
        let max = HeaderValue::from_str(&"a".repeat(128)).ok();
        assert!(max.as_ref().and_then(sane).is_some());
        let utf8 = HeaderValue::from_bytes("ид".as_bytes()).ok();
        assert!(utf8.as_ref().and_then(sane).is_none());
    }
}
