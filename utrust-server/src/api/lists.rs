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
use serde::Serialize;
use serde_json::{Value, json};
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::ids::{
    BranchId, EmployeeId, OrganizationId, PointId, ProductId, ServiceId, UserId,
};

use super::catalog::body_id;
use super::wire::PointOut;
use super::{ApiError, AppState};

type QueryResult = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// The cursor and page size of a listing.
fn page<T: FromStr>(query: QueryResult) -> Result<(Option<T>, u32), ApiError> {
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

fn answer<T: Serialize>(items: Vec<T>, next: Option<String>) -> Json<Value> {
    Json(json!({ "items": items, "next": next }))
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

pub async fn products(
    State(st): State<AppState>,
    query: QueryResult,
) -> Result<Json<Value>, ApiError> {
    let (after, limit) = page::<ProductId>(query)?;
    let items = st
        .engine
        .store()
        .list_products(after, limit)
        .await
        .map_err(storage)?;
    let next = next_of(items.len(), limit, items.last().map(|p| p.id));
    Ok(answer(
        items.iter().map(super::catalog::product_json).collect(),
        next,
    ))
}

pub async fn services(
    State(st): State<AppState>,
    query: QueryResult,
) -> Result<Json<Value>, ApiError> {
    let (after, limit) = page::<ServiceId>(query)?;
    let items = st
        .engine
        .store()
        .list_services(after, limit)
        .await
        .map_err(storage)?;
    let next = next_of(items.len(), limit, items.last().map(|s| s.id));
    Ok(answer(
        items.iter().map(super::catalog::service_json).collect(),
        next,
    ))
}

pub async fn organizations(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Value>, ApiError> {
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
        items
            .iter()
            .map(super::catalog::organization_json)
            .collect(),
        next,
    ))
}

pub async fn branches(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Value>, ApiError> {
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
        items.iter().map(super::catalog::branch_json).collect(),
        next,
    ))
}

/// Applicants are offered only points that are neither technical nor blocked.
pub async fn points(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Value>, ApiError> {
    let (after, limit) = page::<PointId>(query)?;
    let (items, next) = st.engine.offered_points(&who, after, limit).await?;
    Ok(answer(
        items.iter().map(PointOut::from_domain).collect(),
        next.map(|n| n.to_string()),
    ))
}

pub async fn users(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Value>, ApiError> {
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
        items.iter().map(super::accounts::user_json).collect(),
        next,
    ))
}

pub async fn employees(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Value>, ApiError> {
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
        items.iter().map(super::accounts::employee_json).collect(),
        next,
    ))
}
