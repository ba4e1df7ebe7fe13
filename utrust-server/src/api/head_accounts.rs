//! Head accounts (`/accounts`) and power-of-attorney documents.
//!
//! - `GET /accounts?inn=&after=&limit=` — a page `{"items", "next"}`;
//! - `GET /accounts/{id}`, `PATCH /accounts/{id}` (`full_name`, `address`,
//!   `contacts`, optional `version` for an optimistic edit);
//! - `GET /applications/{id}/power-of-attorney` — the HTML document of a
//!   corporate application's power of attorney.
//!
//! Staff with `process_applications` browse and edit accounts; applicants get 404.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utrust_core::domain::access::Principal;
use utrust_core::domain::agents::AttorneyData;
use utrust_core::domain::application::Address;
use utrust_core::domain::attorney::PowerOfAttorney;
use utrust_core::domain::head_accounts::{AccountPatch, Contacts, HeadAccount};
use utrust_core::domain::identifiers::{AnyInn, Email, RegionCode};
use utrust_core::domain::ids::{ApplicationId, HeadAccountId};
use utrust_core::ports::AccountFilter;

use super::catalog::path_id;
use super::json::ApiJson;
use super::lists::{QueryResult, page_with};
use super::openapi::{ListErrors, ReadErrors, WriteErrors};
use super::wire::{AddressIn, Page};
use super::{ApiError, AppState};

/// An organization's power-of-attorney data (`"attorney"` of
/// `POST/PATCH /organizations`).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttorneyIn {
    /// Full name of the trusted person on whose behalf the power of attorney is
    /// issued.
    pub trusted_person: String,
    /// Their position.
    pub position: String,
    /// Legal basis (name and number of the act).
    pub legal_basis: String,
    /// Powers granted.
    #[serde(default)]
    pub powers: Vec<String>,
    /// Validity of issued powers of attorney, in years.
    #[schema(minimum = 1, maximum = 50)]
    pub validity_years: u8,
}

impl AttorneyIn {
    /// Validates the data.
    ///
    /// # Errors
    /// 422 naming `attorney.<field>`.
    pub fn to_domain(&self) -> Result<AttorneyData, ApiError> {
        for (field, v) in [
            ("attorney.trusted_person", &self.trusted_person),
            ("attorney.position", &self.position),
            ("attorney.legal_basis", &self.legal_basis),
        ] {
            if v.trim().is_empty() {
                return Err(ApiError::invalid(field, "must not be empty"));
            }
        }
        if self.powers.iter().any(|p| p.trim().is_empty()) {
            return Err(ApiError::invalid("attorney.powers", "empty power"));
        }
        if !(1..=50).contains(&self.validity_years) {
            return Err(ApiError::invalid("attorney.validity_years", "1..=50"));
        }
        Ok(AttorneyData {
            trusted_person: self.trusted_person.clone(),
            position: self.position.clone(),
            legal_basis: self.legal_basis.clone(),
            powers: self.powers.clone(),
            validity_years: self.validity_years,
        })
    }

    /// The API form of stored data.
    pub fn from_domain(a: &AttorneyData) -> Self {
        Self {
            trusted_person: a.trusted_person.clone(),
            position: a.position.clone(),
            legal_basis: a.legal_basis.clone(),
            powers: a.powers.clone(),
            validity_years: a.validity_years,
        }
    }
}

/// The power of attorney of a corporate application (`"power_of_attorney"` of
/// `GET /applications/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PowerOfAttorneyOut {
    /// `paper` or `machine_readable`.
    pub attorney_type: String,
    /// The legal entity granting it.
    pub principal: PrincipalOut,
    /// The agent organization whose attorney data was used.
    pub organization: String,
    /// The trusted person who signs it.
    pub trusted_person: String,
    /// Their position.
    pub position: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Powers granted.
    pub powers: Vec<String>,
    /// The holder (the certificate owner).
    pub holder: String,
    /// Valid from (date).
    pub valid_from: String,
    /// Valid until (date).
    pub valid_until: String,
}

/// The principal of a power of attorney.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalOut {
    pub name: String,
    pub inn: String,
    pub kpp: Option<String>,
    pub ogrn: String,
}

impl PowerOfAttorneyOut {
    /// The API form.
    pub fn from_domain(p: &PowerOfAttorney) -> Self {
        Self {
            attorney_type: serde_json::to_value(p.attorney_type)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            principal: PrincipalOut {
                name: p.principal.name.clone(),
                inn: p.principal.inn.clone(),
                kpp: p.principal.kpp.clone(),
                ogrn: p.principal.ogrn.clone(),
            },
            organization: p.organization.clone(),
            trusted_person: p.trusted_person.clone(),
            position: p.position.clone(),
            legal_basis: p.legal_basis.clone(),
            powers: p.powers.clone(),
            holder: p.holder.clone(),
            valid_from: p.valid_from.to_string(),
            valid_until: p.valid_until.to_string(),
        }
    }
}

/// Contacts of an account.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactsIo {
    #[schema(format = Email)]
    pub email: Option<String>,
    pub phone: Option<String>,
    pub contact_person: Option<String>,
}

/// A head account as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountOut {
    #[schema(format = Uuid)]
    pub id: String,
    pub version: u64,
    /// `individual`, `sole_proprietor` or `legal_entity`.
    pub kind: String,
    pub inn: String,
    pub kpp: Option<String>,
    pub full_name: String,
    pub address: AddressIn,
    pub contacts: ContactsIo,
    pub created_at: String,
    pub updated_at: String,
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl AccountOut {
    fn from_domain(a: &HeadAccount) -> Self {
        Self {
            id: a.id.to_string(),
            version: a.version,
            kind: a.kind.to_string(),
            inn: a.key.inn.to_string(),
            kpp: a.key.kpp.as_ref().map(ToString::to_string),
            full_name: a.full_name.clone(),
            address: AddressIn {
                region_code: a.address.region_code.map(|r| r.to_string()),
                region_name: a.address.region_name.clone(),
                locality: a.address.locality.clone(),
                street: a.address.street.clone(),
                kladr: a.address.kladr.clone(),
            },
            contacts: ContactsIo {
                email: a.contacts.email.as_ref().map(ToString::to_string),
                phone: a.contacts.phone.clone(),
                contact_person: a.contacts.contact_person.clone(),
            },
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
        }
    }
}

/// `PATCH /accounts/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatchIn {
    pub full_name: Option<String>,
    /// Replaces the whole address.
    pub address: Option<AddressIn>,
    /// Replace all contacts.
    pub contacts: Option<ContactsIo>,
    /// The version the edit is based on; a different current version is 409.
    pub version: Option<u64>,
}

fn address(a: &AddressIn) -> Result<Address, ApiError> {
    Ok(Address {
        region_code: a
            .region_code
            .as_deref()
            .map(|r| {
                RegionCode::parse(r)
                    .map_err(|e| ApiError::invalid("address.region_code", e.problem.to_string()))
            })
            .transpose()?,
        region_name: a.region_name.clone(),
        locality: a.locality.clone(),
        street: a.street.clone(),
        kladr: a.kladr.clone(),
    })
}

fn contacts(c: &ContactsIo) -> Result<Contacts, ApiError> {
    Ok(Contacts {
        email: c
            .email
            .as_deref()
            .map(|e| {
                Email::parse(e)
                    .map_err(|err| ApiError::invalid("contacts.email", err.problem.to_string()))
            })
            .transpose()?,
        phone: c.phone.clone(),
        contact_person: c.contact_person.clone(),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "accounts",
    params(
        ("inn" = Option<String>, Query, description = "Only accounts with this INN (10 or 12 digits)"),
        ("after" = Option<uuid::Uuid>, Query, description = "Cursor: the `next` of the previous page"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)"),
    ),
    responses((status = 200, description = "A page of head accounts", body = Page<AccountOut>), ListErrors),
)]
pub async fn list(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Page<AccountOut>>, ApiError> {
    let mut filter = AccountFilter::default();
    let (after, limit) = page_with::<HeadAccountId>(query, |k, v| {
        if k != "inn" {
            return Ok(false);
        }
        filter.inn =
            Some(AnyInn::parse(v).map_err(|e| ApiError::invalid("inn", e.problem.to_string()))?);
        Ok(true)
    })?;
    let (items, next) = st.engine.head_accounts(&who, &filter, after, limit).await?;
    Ok(Json(Page {
        items: items.iter().map(AccountOut::from_domain).collect(),
        next: next.map(|n| n.to_string()),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "The account's id (UUID)")),
    responses((status = 200, description = "The head account", body = AccountOut), ReadErrors),
)]
pub async fn get(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<AccountOut>, ApiError> {
    let id = path_id::<HeadAccountId>(&id, "account")?;
    let a = st.engine.head_account(&who, id).await?;
    Ok(Json(AccountOut::from_domain(&a)))
}

#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "The account's id (UUID)")),
    request_body = AccountPatchIn,
    responses((status = 200, description = "The edited account", body = AccountOut), WriteErrors),
)]
pub async fn patch(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AccountPatchIn>,
) -> Result<Json<AccountOut>, ApiError> {
    let id = path_id::<HeadAccountId>(&id, "account")?;
    // Visibility and permission before the body's content is judged.
    st.engine.head_account(&who, id).await?;
    let patch = AccountPatch {
        full_name: body.full_name.clone(),
        address: body.address.as_ref().map(address).transpose()?,
        contacts: body.contacts.as_ref().map(contacts).transpose()?,
    };
    let a = st
        .engine
        .update_head_account(&who, id, patch, body.version)
        .await?;
    Ok(Json(AccountOut::from_domain(&a)))
}

/// An HTML page.
#[derive(Debug, ToSchema)]
#[schema(value_type = String)]
pub struct Html(pub String);

impl axum::response::IntoResponse for Html {
    fn into_response(self) -> axum::response::Response {
        (
            [
                (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    axum::http::header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'",
                ),
            ],
            self.0,
        )
            .into_response()
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/power-of-attorney",
    tag = "applications",
    params(("id" = uuid::Uuid, Path, description = "The application's id (UUID)")),
    responses((status = 200, description = "The power-of-attorney document (HTML)", content_type = "text/html", body = Html), ReadErrors),
)]
pub async fn power_of_attorney(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Html, ApiError> {
    let id = path_id::<ApplicationId>(&id, "application")?;
    Ok(Html(st.engine.power_of_attorney_html(&who, id).await?))
}
