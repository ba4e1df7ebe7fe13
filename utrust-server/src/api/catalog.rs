//! Catalog and agent-network handlers: products, organizations, branches, points,
//! services.

use std::str::FromStr;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::agents::{
    Branch, IssuingPoint, Organization, OrganizationKind, PointParent,
};
use utrust_core::domain::catalog::{CryptoClass, KeyAlgorithm, Product, Service, SmevCheckKind};
use utrust_core::domain::identifiers::{AnyInn, Email};
use utrust_core::domain::ids::{BranchId, OrganizationId, PointId, ProductId, ServiceId};
use utrust_core::domain::quota::{Allotment, Quota};

use super::json::ApiJson;
use super::openapi::{ReadErrors, WriteErrors};
use super::wire::{self, BranchOut, OrganizationOut, PointOut, ProductOut, ServiceOut};
use super::{ApiError, AppState};

type Created<T> = (StatusCode, Json<T>);

/// Parses an id from a path or body field; a malformed id is "not found" in a
/// path and "invalid" in a body.
pub(super) fn path_id<T: FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    T::from_str(raw).map_err(|_| ApiError::not_found(what))
}

pub(super) fn body_id<T: FromStr>(raw: &str, field: &str) -> Result<T, ApiError> {
    T::from_str(raw).map_err(|_| ApiError::invalid(field, "not a valid id"))
}

#[utoipa::path(
    post,
    path = "/api/v1/products",
    tag = "catalog",
    request_body = wire::ProductIn,
    responses((status = 201, description = "Created", body = ProductOut), WriteErrors),
)]
pub async fn create_product(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<wire::ProductIn>,
) -> Result<Created<ProductOut>, ApiError> {
    st.engine.authorize(&who, Permission::ManageCatalog)?;
    let mut p = Product::new(body.code, body.name);
    p.quantity_accounting = body.quantity_accounting;
    p.oids = body.oids.to_domain()?;
    p.price_kopecks = body.price_kopecks;
    p.smart_card_only = body.smart_card_only;
    p.additional_service = body.additional_service;
    p.shown_in_agent_filters = body.shown_in_agent_filters;
    let p = st.engine.create_product(p).await?;
    Ok((StatusCode::CREATED, Json(ProductOut::from_domain(&p))))
}

#[utoipa::path(
    get,
    path = "/api/v1/products/{id}",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The product's id (UUID)")),
    responses((status = 200, description = "The product", body = ProductOut), ReadErrors),
)]
pub async fn get_product(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProductOut>, ApiError> {
    let p = st
        .engine
        .product(path_id::<ProductId>(&id, "product")?)
        .await?;
    Ok(Json(ProductOut::from_domain(&p)))
}

#[utoipa::path(
    post,
    path = "/api/v1/organizations",
    tag = "agents",
    request_body = wire::OrganizationIn,
    responses((status = 201, description = "Created", body = OrganizationOut), WriteErrors),
)]
pub async fn create_organization(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<wire::OrganizationIn>,
) -> Result<Created<OrganizationOut>, ApiError> {
    st.engine.authorize(&who, Permission::ManageAgents)?;
    let mut o = Organization::new(body.name);
    o.inn = body
        .inn
        .as_deref()
        .map(|i| AnyInn::parse(i).map_err(|e| ApiError::invalid("inn", e.problem.to_string())))
        .transpose()?;
    o.kind = match body.kind.as_deref() {
        None | Some("legal_entity") => OrganizationKind::LegalEntity,
        Some("sole_proprietor") => OrganizationKind::SoleProprietor,
        Some(_) => {
            return Err(ApiError::invalid(
                "kind",
                "expected legal_entity or sole_proprietor",
            ));
        }
    };
    match (&o.inn, o.kind) {
        (Some(AnyInn::Person(_)), OrganizationKind::LegalEntity) => {
            return Err(ApiError::invalid(
                "inn",
                "a legal entity has a 10-digit INN",
            ));
        }
        (Some(AnyInn::LegalEntity(_)), OrganizationKind::SoleProprietor) => {
            return Err(ApiError::invalid(
                "inn",
                "a sole proprietor has a 12-digit INN",
            ));
        }
        _ => {}
    }
    o.comment = body.comment;
    o.blocked = body.blocked;
    o.attorney = body
        .attorney
        .as_ref()
        .map(super::head_accounts::AttorneyIn::to_domain)
        .transpose()?;
    let o = st.engine.create_organization(o).await?;
    Ok((StatusCode::CREATED, Json(OrganizationOut::from_domain(&o))))
}

#[utoipa::path(
    get,
    path = "/api/v1/organizations/{id}",
    tag = "agents",
    params(("id" = uuid::Uuid, Path, description = "The organization's id (UUID)")),
    responses((status = 200, description = "The organization", body = OrganizationOut), ReadErrors),
)]
pub async fn get_organization(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<OrganizationOut>, ApiError> {
    st.engine.staff_only(&who, "organization", &id)?;
    let o = st
        .engine
        .organization(path_id::<OrganizationId>(&id, "organization")?)
        .await?;
    Ok(Json(OrganizationOut::from_domain(&o)))
}

#[utoipa::path(
    patch,
    path = "/api/v1/organizations/{id}",
    tag = "agents",
    params(("id" = uuid::Uuid, Path, description = "The organization's id (UUID)")),
    request_body = wire::OrganizationPatch,
    responses((status = 200, description = "The changed organization", body = OrganizationOut), WriteErrors),
)]
pub async fn patch_organization(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<wire::OrganizationPatch>,
) -> Result<Json<OrganizationOut>, ApiError> {
    st.engine.authorize(&who, Permission::ManageAgents)?;
    let id = path_id::<OrganizationId>(&id, "organization")?;
    if let Some(a) = &body.attorney {
        let data = a.to_domain()?;
        st.engine.set_organization_attorney(id, Some(data)).await?;
    }
    let o = match body.blocked {
        Some(b) => st.engine.set_organization_blocked(id, b).await?,
        None => st.engine.organization(id).await?,
    };
    Ok(Json(OrganizationOut::from_domain(&o)))
}

#[utoipa::path(
    post,
    path = "/api/v1/branches",
    tag = "agents",
    request_body = wire::BranchIn,
    responses((status = 201, description = "Created", body = BranchOut), WriteErrors),
)]
pub async fn create_branch(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<wire::BranchIn>,
) -> Result<Created<BranchOut>, ApiError> {
    st.engine.authorize(&who, Permission::ManageAgents)?;
    let org = body_id::<OrganizationId>(&body.organization_id, "organization_id")?;
    let b = st.engine.create_branch(Branch::new(org, body.name)).await?;
    Ok((StatusCode::CREATED, Json(BranchOut::from_domain(&b))))
}

#[utoipa::path(
    get,
    path = "/api/v1/branches/{id}",
    tag = "agents",
    params(("id" = uuid::Uuid, Path, description = "The branch's id (UUID)")),
    responses((status = 200, description = "The branch", body = BranchOut), ReadErrors),
)]
pub async fn get_branch(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<BranchOut>, ApiError> {
    st.engine.staff_only(&who, "branch", &id)?;
    let b = st
        .engine
        .branch(path_id::<BranchId>(&id, "branch")?)
        .await?;
    Ok(Json(BranchOut::from_domain(&b)))
}

#[utoipa::path(
    patch,
    path = "/api/v1/branches/{id}",
    tag = "agents",
    params(("id" = uuid::Uuid, Path, description = "The branch's id (UUID)")),
    request_body = wire::BlockPatch,
    responses((status = 200, description = "The changed branch", body = BranchOut), WriteErrors),
)]
pub async fn patch_branch(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<wire::BlockPatch>,
) -> Result<Json<BranchOut>, ApiError> {
    st.engine.authorize(&who, Permission::ManageAgents)?;
    let id = path_id::<BranchId>(&id, "branch")?;
    let b = match body.blocked {
        Some(v) => st.engine.set_branch_blocked(id, v).await?,
        None => st.engine.branch(id).await?,
    };
    Ok(Json(BranchOut::from_domain(&b)))
}

fn quantity(q: &wire::QuantityIn) -> Result<(ProductId, Allotment), ApiError> {
    let id = body_id::<ProductId>(&q.product_id, "quantities.product_id")?;
    let a = Allotment::quantity_from_wire(q.quantity).map_err(|_| {
        ApiError::invalid(
            "quantities.quantity",
            "-1 (unlimited), 0 (none in stock) or 1..=1500",
        )
    })?;
    Ok((id, a))
}

#[utoipa::path(
    post,
    path = "/api/v1/points",
    tag = "agents",
    request_body = wire::PointIn,
    responses((status = 201, description = "Created", body = PointOut), WriteErrors),
)]
pub async fn create_point(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<wire::PointIn>,
) -> Result<Created<PointOut>, ApiError> {
    st.engine.authorize(&who, Permission::ManageAgents)?;
    let parent_raw = body_id::<uuid::Uuid>(&body.parent_id, "parent_id")?;
    let parent = if st
        .engine
        .store()
        .organization(OrganizationId::from_uuid(parent_raw))
        .await
        .map_err(utrust_core::Error::from)?
        .is_some()
    {
        PointParent::Organization(OrganizationId::from_uuid(parent_raw))
    } else {
        PointParent::Branch(BranchId::from_uuid(parent_raw))
    };
    let email =
        Email::parse(&body.email).map_err(|e| ApiError::invalid("email", e.problem.to_string()))?;
    let limit = Allotment::from_wire(body.limit)
        .map_err(|_| ApiError::invalid("limit", "-1 (unlimited) or a count ≥ 0"))?;
    let mut p = IssuingPoint::new(parent, body.name, email, limit);
    for q in &body.quantities {
        let (id, a) = quantity(q)?;
        if p.quantities.insert(id, Quota::new(a)).is_some() {
            return Err(ApiError::invalid("quantities", "a product is listed twice"));
        }
    }
    p.region = body.region;
    p.technical = body.technical;
    p.inn = body
        .inn
        .as_deref()
        .map(|i| AnyInn::parse(i).map_err(|e| ApiError::invalid("inn", e.problem.to_string())))
        .transpose()?;
    p.address = body.address;
    p.phone = body.phone;
    p.kind = body.kind;
    p.licence_type = body.licence_type;
    p.manager = body.manager;
    for (field, v, range) in [
        ("latitude", body.latitude, 90.0),
        ("longitude", body.longitude, 180.0),
    ] {
        if let Some(v) = v
            && (!v.is_finite() || v.abs() > range)
        {
            return Err(ApiError::invalid(field, "out of range"));
        }
    }
    p.latitude = body.latitude;
    p.longitude = body.longitude;
    p.document_name = body.document_name;
    p.opening_hours = body.opening_hours;
    let p = st.engine.create_point(p).await?;
    Ok((StatusCode::CREATED, Json(PointOut::from_domain(&p))))
}

#[utoipa::path(
    get,
    path = "/api/v1/points/{id}",
    tag = "agents",
    params(("id" = uuid::Uuid, Path, description = "The point's id (UUID)")),
    responses((status = 200, description = "The point", body = PointOut), ReadErrors),
)]
pub async fn get_point(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<PointOut>, ApiError> {
    let point = st
        .engine
        .visible_point(&who, path_id::<PointId>(&id, "point")?)
        .await?;
    Ok(Json(PointOut::from_domain(&point)))
}

#[utoipa::path(
    patch,
    path = "/api/v1/points/{id}",
    tag = "agents",
    params(("id" = uuid::Uuid, Path, description = "The point's id (UUID)")),
    request_body = wire::PointPatch,
    responses((status = 200, description = "The changed point", body = PointOut), WriteErrors),
)]
pub async fn patch_point(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<wire::PointPatch>,
) -> Result<Json<PointOut>, ApiError> {
    st.engine.authorize(&who, Permission::ManageAgents)?;
    let id = path_id::<PointId>(&id, "point")?;
    st.engine.point(id).await?;
    let limit = body
        .limit
        .map(|l| {
            Allotment::from_wire(l)
                .map_err(|_| ApiError::invalid("limit", "-1 (unlimited) or a count ≥ 0"))
        })
        .transpose()?;
    let quantities = body
        .quantities
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(quantity)
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(l) = limit {
        st.engine.set_point_limit(id, l).await?;
    }
    for (product, q) in quantities {
        st.engine.set_point_quantity(id, product, q).await?;
    }
    if let Some(b) = body.blocked {
        st.engine.set_point_blocked(id, b).await?;
    }
    Ok(Json(PointOut::from_domain(&st.engine.point(id).await?)))
}

#[utoipa::path(
    post,
    path = "/api/v1/services",
    tag = "catalog",
    request_body = wire::ServiceIn,
    responses((status = 201, description = "Created", body = ServiceOut), WriteErrors),
)]
pub async fn create_service(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(b): ApiJson<wire::ServiceIn>,
) -> Result<Created<ServiceOut>, ApiError> {
    st.engine.authorize(&who, Permission::ManageCatalog)?;
    let mut s = Service::new(b.name);
    s.products = b
        .products
        .iter()
        .map(|p| body_id::<ProductId>(p, "products"))
        .collect::<Result<_, _>>()?;
    if let Some(kinds) = &b.applicant_kinds {
        s.applicant_kinds = wire::applicant_kinds("applicant_kinds", kinds)?
            .into_iter()
            .collect();
    }
    s.points = b
        .points
        .iter()
        .map(|p| body_id::<PointId>(p, "points"))
        .collect::<Result<_, _>>()?;
    s.approval_required = b.approval_required;
    s.smev_checks = b
        .smev_checks
        .iter()
        .map(|c| match c.as_str() {
            "passport" => Ok(SmevCheckKind::Passport),
            "snils" => Ok(SmevCheckKind::Snils),
            "inn" => Ok(SmevCheckKind::Inn),
            _ => Err(ApiError::invalid(
                "smev_checks",
                "expected passport, snils or inn",
            )),
        })
        .collect::<Result<_, _>>()?;
    if let Some(k) = &b.key_algorithm {
        s.key_algorithm = KeyAlgorithm::from_name(k)
            .ok_or_else(|| ApiError::invalid("key_algorithm", "unknown key algorithm"))?;
    }
    if let Some(c) = &b.crypto_class {
        s.crypto_class = match c.as_str() {
            "KC1" => CryptoClass::KC1,
            "KC2" => CryptoClass::KC2,
            "KC3" => CryptoClass::KC3,
            "KB1" => CryptoClass::KB1,
            "KB2" => CryptoClass::KB2,
            "KA1" => CryptoClass::KA1,
            _ => {
                return Err(ApiError::invalid(
                    "crypto_class",
                    "expected KC1, KC2, KC3, KB1, KB2 or KA1",
                ));
            }
        };
    }
    if let Some(scans) = &b.required_scans {
        s.required_scans = scans
            .iter()
            .map(|k| {
                utrust_core::domain::catalog::DocumentKind::from_name(k).ok_or_else(|| {
                    ApiError::invalid(
                        "required_scans",
                        format!("{k}: expected passport, snils, power_of_attorney, application_form, signed_blank or additional"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(t) = &b.attorney_type {
        s.attorney_type =
            serde_json::from_value(serde_json::Value::String(t.clone())).map_err(|_| {
                ApiError::invalid("attorney_type", "expected none, paper or machine_readable")
            })?;
    }
    if let Some(d) = &b.credentials_delivery {
        s.credentials_delivery = serde_json::from_value(serde_json::Value::String(d.clone()))
            .map_err(|_| {
                ApiError::invalid("credentials_delivery", "expected none, email, sms or print")
            })?;
    }
    if let Some(kinds) = &b.card_payment {
        s.card_payment = wire::applicant_kinds("card_payment", kinds)?
            .into_iter()
            .collect();
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = b.$f { s.$f = v; } )* };
    }
    set!(
        validity_days,
        active,
        public,
        hidden,
        order,
        service_type,
        short_description,
        full_description,
        require_documents,
        require_connected_token,
        renewal_reminders,
        revoke_superseded_on_renewal,
        esia_registration,
        bulk_csv,
        issuance_confirmation,
        certificate_after_completion,
        show_first_step,
        package_product,
        require_document_signature,
        passport_scan_on_verification,
        price_from_kopecks,
        price_without_discount_kopecks,
        domains
    );
    s.crypto_provider = b.crypto_provider;
    s.crypto_program = b.crypto_program;
    s.ca = b.ca;
    let s = st.engine.create_service(s).await?;
    Ok((StatusCode::CREATED, Json(ServiceOut::from_domain(&s))))
}

#[utoipa::path(
    get,
    path = "/api/v1/services/{id}",
    tag = "catalog",
    params(("id" = uuid::Uuid, Path, description = "The service's id (UUID)")),
    responses((status = 200, description = "The service", body = ServiceOut), ReadErrors),
)]
pub async fn get_service(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ServiceOut>, ApiError> {
    let s = st
        .engine
        .service(path_id::<ServiceId>(&id, "service")?)
        .await?;
    Ok(Json(ServiceOut::from_domain(&s)))
}
