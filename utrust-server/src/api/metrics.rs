//! `GET /metrics`: the registry in the Prometheus text exposition format.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::metrics::CONTENT_TYPE;

/// Renders the metrics registry (no authentication: restrict it at the proxy).
pub async fn render(State(st): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], st.metrics.render()).into_response()
}
