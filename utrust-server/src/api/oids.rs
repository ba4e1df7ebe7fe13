//! The catalog's object identifiers (seed 004: "Объектные идентификаторы"):
//! named OIDs that products put into certificates.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::catalog::ObjectIdentifier;
use utrust_core::domain::identifiers::Oid;

use super::json::ApiJson;
use super::openapi::{ListErrors, WriteErrors};
use super::wire::Page;
use super::{ApiError, AppState};

/// `POST /oids`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidIn {
    /// Dotted OID, e.g. `1.2.643.100.2.1`.
    pub oid: String,
    /// Display name.
    pub name: String,
    /// Free description.
    #[serde(default)]
    pub description: String,
}

/// An OID of the catalog. Its `id` is the dotted OID itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct OidOut {
    /// The dotted OID (the identifier of this object).
    pub id: String,
    /// The dotted OID.
    pub oid: String,
    /// Display name.
    pub name: String,
    /// Free description.
    pub description: String,
}

fn out(o: &ObjectIdentifier) -> OidOut {
    OidOut {
        id: o.oid.to_string(),
        oid: o.oid.to_string(),
        name: o.name.clone(),
        description: o.description.clone(),
    }
}

/// Adds a named OID to the catalog.
#[utoipa::path(
    post,
    path = "/api/v1/oids",
    tag = "catalog",
    request_body = OidIn,
    responses((status = 201, description = "Created", body = OidOut), WriteErrors),
)]
pub async fn create(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<OidIn>,
) -> Result<(StatusCode, Json<OidOut>), ApiError> {
    st.engine.authorize(&who, Permission::ManageCatalog)?;
    let oid = Oid::parse(&body.oid).map_err(|e| ApiError::invalid("oid", e.problem.to_string()))?;
    let created = st
        .engine
        .create_object_identifier(ObjectIdentifier {
            oid,
            name: body.name,
            description: body.description,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(out(&created))))
}

/// Every named OID, ordered by OID (one page: the catalog is small).
#[utoipa::path(
    get,
    path = "/api/v1/oids",
    tag = "catalog",
    responses((status = 200, description = "All OIDs", body = Page<OidOut>), ListErrors),
)]
pub async fn list(State(st): State<AppState>) -> Result<Json<Page<OidOut>>, ApiError> {
    let items = st
        .engine
        .store()
        .object_identifiers()
        .await
        .map_err(|e| ApiError::from(utrust_core::Error::from(e)))?;
    Ok(Json(Page {
        items: items.iter().map(out).collect(),
        next: None,
    }))
}
