//! Paginated listings of the catalog, the agent network and the accounts:
//! `GET /products|services|organizations|branches|points|users|employees` with
//! `?after=<id>&limit=<1..=500>` (default 50), answering `{"items", "next"}` —
//! `next` is the cursor of the following page, `null` on the last one.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use utoipa::ToSchema;
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::ids::{
    BranchId, EmployeeId, OrganizationId, PointId, ProductId, ServiceId, UserId,
};

use super::accounts::{EmployeeOut, UserOut};
use super::catalog::body_id;
use super::openapi::ListErrors;
use super::wire::{BranchOut, OrganizationOut, Page, PointOut, ProductOut, ServiceOut};
use super::{ApiError, AppState};

/// A listing's query string, or why axum could not read it.
pub(super) type QueryResult = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// The cursor and page size of a listing.
fn page<T: FromStr>(query: QueryResult) -> Result<(Option<T>, u32), ApiError> {
    page_with(query, |_, _| Ok(false))
}

/// The cursor (`after`) and page size (`limit`, 1..=500, default 50) of a
/// listing; every other parameter goes to `filter`, which answers `false` for
/// one it does not know (then 400 "unknown query parameter").
pub(super) fn page_with<T: FromStr>(
    query: QueryResult,
    mut filter: impl FnMut(&str, &str) -> Result<bool, ApiError>,
) -> Result<(Option<T>, u32), ApiError> {
    let Query(q) =
        query.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", r.body_text()))?;
    let mut after = None;
    let mut limit = 50u32;
    for (k, v) in &q {
        match k.as_str() {
            "after" => after = Some(body_id::<T>(v, "after")?),
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=500).contains(n))
                    .ok_or_else(|| ApiError::invalid("limit", "1..=500"))?;
            }
            other if filter(other, v)? => {}
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    format!("unknown query parameter `{other}`"),
                ));
            }
        }
    }
    Ok((after, limit))
}

fn answer<T: ToSchema>(items: Vec<T>, next: Option<String>) -> Json<Page<T>> {
    Json(Page { items, next })
}

/// The next cursor: the last id when the page is full.
fn next_of<I: ToString>(len: usize, limit: u32, last: Option<I>) -> Option<String> {
    (len == limit as usize)
        .then(|| last.map(|l| l.to_string()))
        .flatten()
}

fn storage(e: utrust_core::ports::StoreError) -> ApiError {
    ApiError::from(utrust_core::Error::from(e))
}

#[utoipa::path(
    get,
    path = "/api/v1/products",
    tag = "catalog",
    params(("after" = Option<uuid::Uuid>, Query, description = "Cursor: the `next` of the previous page"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)")),
    responses((status = 200, description = "A page", body = Page<ProductOut>), ListErrors),
)]
pub async fn products(
    State(st): State<AppState>,
    query: QueryResult,
) -> Result<Json<Page<ProductOut>>, ApiError> {
    let (after, limit) = page::<ProductId>(query)?;
    let items = st
        .engine
        .store()
        .list_products(after, limit)
        .await
        .map_err(storage)?;
    let next = next_of(items.len(), limit, items.last().map(|p| p.id));
    Ok(answer(
        items.iter().map(ProductOut::from_domain).collect(),
        next,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/services",
    tag = "catalog",
    params(("after" = Option<uuid::Uuid>, Query, description = "Cursor: the `next` of the previous page"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)")),
    responses((status = 200, description = "A page", body = Page<ServiceOut>), ListErrors),
)]
pub async fn services(
    State(st): State<AppState>,
    query: QueryResult,
) -> Result<Json<Page<ServiceOut>>, ApiError> {
    let (after, limit) = page::<ServiceId>(query)?;
    let items = st
        .engine
        .store()
        .list_services(after, limit)
        .await
        .map_err(storage)?;
    let next = next_of(items.len(), limit, items.last().map(|s| s.id));
    Ok(answer(
        items.iter().map(ServiceOut::from_domain).collect(),
        next,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/organizations",
    tag = "agents",
    params(("after" = Option<uuid::Uuid>, Query, description = "Cursor: the `next` of the previous page"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)")),
    responses((status = 200, description = "A page", body = Page<OrganizationOut>), ListErrors),
)]
pub async fn organizations(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Page<OrganizationOut>>, ApiError> {
    st.engine.staff_only(&who, "route", "/organizations")?;
    let (after, limit) = page::<OrganizationId>(query)?;
    let items = st
        .engine
        .store()
        .list_organizations(after, limit)
        .await
        .map_err(storage)?;
    let next = next_of(items.len(), limit, items.last().map(|o| o.id));
    Ok(answer(
        items.iter().map(OrganizationOut::from_domain).collect(),
        next,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/branches",
    tag = "agents",
    params(("after" = Option<uuid::Uuid>, Query, description = "Cursor: the `next` of the previous page"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)")),
    responses((status = 200, description = "A page", body = Page<BranchOut>), ListErrors),
)]
pub async fn branches(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Page<BranchOut>>, ApiError> {
    st.engine.staff_only(&who, "route", "/branches")?;
    let (after, limit) = page::<BranchId>(query)?;
    let items = st
        .engine
        .store()
        .list_branches(after, limit)
        .await
        .map_err(storage)?;
    let next = next_of(items.len(), limit, items.last().map(|b| b.id));
    Ok(answer(
        items.iter().map(BranchOut::from_domain).collect(),
        next,
    ))
}

/// Applicants are offered only points that are neither technical nor blocked.
#[utoipa::path(
    get,
    path = "/api/v1/points",
    tag = "agents",
    params(("after" = Option<uuid::Uuid>, Query, description = "Cursor: the `next` of the previous page"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)")),
    responses((status = 200, description = "A page", body = Page<PointOut>), ListErrors),
)]
pub async fn points(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Page<PointOut>>, ApiError> {
    let (after, limit) = page::<PointId>(query)?;
    let (items, next) = st.engine.offered_points(&who, after, limit).await?;
    Ok(answer(
        items.iter().map(PointOut::from_domain).collect(),
        next.map(|n| n.to_string()),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "accounts",
    params(("after" = Option<uuid::Uuid>, Query, description = "Cursor: the `next` of the previous page"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)")),
    responses((status = 200, description = "A page", body = Page<UserOut>), ListErrors),
)]
pub async fn users(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Page<UserOut>>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let (after, limit) = page::<UserId>(query)?;
    let items = st
        .engine
        .store()
        .list_users(after, limit)
        .await
        .map_err(storage)?;
    let next = next_of(items.len(), limit, items.last().map(|u| u.id));
    Ok(answer(
        items.iter().map(UserOut::from_domain).collect(),
        next,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/employees",
    tag = "accounts",
    params(("after" = Option<uuid::Uuid>, Query, description = "Cursor: the `next` of the previous page"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)")),
    responses((status = 200, description = "A page", body = Page<EmployeeOut>), ListErrors),
)]
pub async fn employees(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Page<EmployeeOut>>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let (after, limit) = page::<EmployeeId>(query)?;
    let items = st
        .engine
        .store()
        .list_employees(after, limit)
        .await
        .map_err(storage)?;
    let next = next_of(items.len(), limit, items.last().map(|e| e.id));
    Ok(answer(
        items.iter().map(EmployeeOut::from_domain).collect(),
        next,
    ))
}
