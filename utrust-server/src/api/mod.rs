//! The HTTP API under `/api/v1` (DESIGN §7). Handlers parse the wire format, call
//! one engine use case, and render the result; no business rule lives here.

mod accounts;
mod applications;
mod auth;
mod bulk;
mod case;
mod catalog;
mod certificates;
mod devices;
mod error;
mod head_accounts;
mod json;
mod lists;
mod metrics;
mod oids;
mod openapi;
pub mod request_id;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use utrust_core::Engine;

pub use error::ApiError;

/// Largest request body accepted (bytes).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Engine,
    /// The bootstrap admin token (compared in constant time).
    pub admin_token: Arc<zeroize::Zeroizing<String>>,
    /// The metrics registry served at `GET /metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Longest time a request may take (zero: unbounded).
    pub request_timeout: Duration,
}

/// Default of [`AppState::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl AppState {
    /// State with a fresh metrics registry and the default request timeout.
    pub fn new(engine: Engine, admin_token: String) -> Self {
        Self {
            engine,
            admin_token: Arc::new(zeroize::Zeroizing::new(admin_token)),
            metrics: Arc::new(crate::metrics::Metrics::new()),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl core::fmt::Debug for AppState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

/// The router of the whole API.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/oids", post(oids::create).get(oids::list))
        .route(
            "/products",
            post(catalog::create_product).get(lists::products),
        )
        .route("/products/{id}", get(catalog::get_product))
        .route(
            "/organizations",
            post(catalog::create_organization).get(lists::organizations),
        )
        .route(
            "/organizations/{id}",
            get(catalog::get_organization).patch(catalog::patch_organization),
        )
        .route(
            "/branches",
            post(catalog::create_branch).get(lists::branches),
        )
        .route(
            "/branches/{id}",
            get(catalog::get_branch).patch(catalog::patch_branch),
        )
        .route("/points", post(catalog::create_point).get(lists::points))
        .route(
            "/points/{id}",
            get(catalog::get_point).patch(catalog::patch_point),
        )
        .route(
            "/services",
            post(catalog::create_service).get(lists::services),
        )
        .route("/users", post(accounts::create_user).get(lists::users))
        .route("/users/{id}", get(accounts::get_user))
        .route(
            "/employees",
            post(accounts::create_employee).get(lists::employees),
        )
        .route("/employees/{id}", get(accounts::get_employee))
        .route("/tokens", post(accounts::create_token))
        .route("/sessions/current", axum::routing::delete(accounts::logout))
        .route("/me", get(accounts::me))
        .route("/services/{id}", get(catalog::get_service))
        .route(
            "/applications",
            post(applications::create).get(applications::list),
        )
        .route("/applications/bulk", post(bulk::create))
        .route("/applications/{id}", get(applications::get))
        .route(
            "/applications/{id}/request-template",
            get(applications::template),
        )
        .route("/applications/{id}/csr", post(applications::attach_csr))
        .route("/applications/{id}/approve", post(applications::approve))
        .route("/applications/{id}/reject", post(applications::reject))
        .route("/applications/{id}/cancel", post(applications::cancel))
        .route("/applications/{id}/issue", post(applications::issue))
        .route(
            "/applications/{id}/rerun-checks",
            post(applications::rerun_checks),
        )
        .route(
            "/applications/{id}/accept-paper",
            post(applications::accept_paper),
        )
        .route(
            "/applications/{id}/certificate",
            get(applications::certificate),
        )
        // The case file (issue #8): documents up to 10 MiB.
        .route(
            "/applications/{id}/files",
            post(case::upload)
                .get(case::list)
                .layer(DefaultBodyLimit::max(
                    utrust_core::domain::casefile::MAX_DOCUMENT_BYTES + 1,
                )),
        )
        .route("/applications/{id}/files/{file_id}", get(case::download))
        .route(
            "/applications/{id}/files/{file_id}/signature",
            post(case::sign),
        )
        .route("/applications/{id}/confirm", post(case::confirm))
        .route("/applications/{id}/payment", post(case::payment))
        .route("/applications/{id}/paid", post(case::paid))
        .route(
            "/applications/{id}/esia-registration",
            post(case::esia_retry),
        )
        .route("/applications/{id}/complete", post(case::complete))
        // Head accounts and the power of attorney (issue #8).
        .route("/accounts", get(head_accounts::list))
        .route(
            "/accounts/{id}",
            get(head_accounts::get).patch(head_accounts::patch),
        )
        .route(
            "/applications/{id}/power-of-attorney",
            get(head_accounts::power_of_attorney),
        )
        .route("/certificates/{serial}", get(certificates::get))
        .route("/certificates/{serial}/revoke", post(certificates::revoke))
        .route(
            "/certificates/{serial}/suspend",
            post(certificates::suspend),
        )
        .route("/certificates/{serial}/resume", post(certificates::resume))
        .route("/certificates/{serial}/renew", post(certificates::renew))
        .route("/me/devices", get(devices::my_devices).post(devices::issue))
        .route(
            "/me/devices/{id}/continue",
            post(devices::continue_issuance),
        )
        .route(
            "/me/secret-questions",
            get(devices::questions).put(devices::set_questions),
        )
        .route("/device-types", post(devices::put_type).get(devices::types))
        .route(
            "/device-policies",
            post(devices::put_policy).get(devices::policies),
        )
        .route(
            "/device-policy-assignments",
            post(devices::assign).get(devices::assignments),
        )
        .route(
            "/users/{id}/profile",
            get(devices::profile).put(devices::put_profile),
        )
        .route("/me/devices/{id}/lost", post(devices::my_device_lost))
        .route("/devices", get(devices::list).post(devices::register))
        .route("/devices/{id}", get(devices::device))
        .route("/devices/{id}/lost", post(devices::lost))
        .route("/devices/{id}/broken", post(devices::broken))
        .route("/devices/{id}/withdraw", post(devices::withdraw))
        .route("/devices/{id}/destroy", post(devices::destroy))
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ))
        // Public: logging in, what relying parties need (CA certificate, CRL) and
        // the OpenAPI document.
        .merge(
            Router::new()
                .route("/sessions", post(accounts::login))
                .route("/ca/crl", get(certificates::crl))
                .route("/ca/certificate", get(certificates::ca_certificate))
                .route("/openapi.json", get(openapi::document)),
        );
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .nest("/api/v1", api)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_id::timeout,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_id::observe,
        ))
        .with_state(state)
}
