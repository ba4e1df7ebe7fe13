//! JSON wire types of the HTTP API and their conversion to and from domain values.
//! Field names here are the contract of DESIGN §7: extend, never rename.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use utrust_core::NewApplication;
use utrust_core::domain::agents::{Branch, IssuingPoint, Organization, OrganizationKind};
use utrust_core::domain::application::{
    Account, Address, Application, CertificateOwner, HistoryEntry, Passport,
};
use utrust_core::domain::catalog::{ApplicantKind, OidSet, Product, Service};
use utrust_core::domain::checks::IdentityCheck;
use utrust_core::domain::identifiers::{
    Email, Inn, InnLe, Kpp, Ogrn, Ogrnip, Oid, PassportRf, RegionCode, Snils,
};
use utrust_core::domain::request::RequestTemplate;

use super::error::ApiError;

/// `POST /products`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductIn {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub quantity_accounting: bool,
    #[serde(default)]
    pub oids: OidSetIn,
    #[serde(default)]
    pub price_kopecks: u64,
    #[serde(default)]
    pub smart_card_only: bool,
    #[serde(default)]
    pub additional_service: bool,
    #[serde(default = "yes")]
    pub shown_in_agent_filters: bool,
}

fn yes() -> bool {
    true
}

/// The OID set of a product.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidSetIn {
    #[serde(default)]
    pub common: Vec<String>,
    #[serde(default)]
    pub legal_entity: Vec<String>,
    #[serde(default)]
    pub individual: Vec<String>,
    #[serde(default)]
    pub sole_proprietor: Vec<String>,
}

fn oids(field: &str, v: &[String]) -> Result<Vec<Oid>, ApiError> {
    v.iter()
        .map(|s| Oid::parse(s).map_err(|e| ApiError::invalid(field, format!("{s}: {e}"))))
        .collect()
}

impl OidSetIn {
    pub fn to_domain(&self) -> Result<OidSet, ApiError> {
        Ok(OidSet {
            common: oids("oids.common", &self.common)?,
            legal_entity: oids("oids.legal_entity", &self.legal_entity)?,
            individual: oids("oids.individual", &self.individual)?,
            sole_proprietor: oids("oids.sole_proprietor", &self.sole_proprietor)?,
        })
    }

    pub fn from_domain(s: &OidSet) -> Self {
        let f = |v: &[Oid]| v.iter().map(ToString::to_string).collect();
        Self {
            common: f(&s.common),
            legal_entity: f(&s.legal_entity),
            individual: f(&s.individual),
            sole_proprietor: f(&s.sole_proprietor),
        }
    }
}

/// `POST /organizations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationIn {
    pub name: String,
    pub inn: Option<String>,
    pub kind: Option<String>,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub blocked: bool,
    /// Power-of-attorney data ("Данные для доверенности").
    pub attorney: Option<super::head_accounts::AttorneyIn>,
}

/// `PATCH /organizations/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationPatch {
    pub blocked: Option<bool>,
    /// Replaces the power-of-attorney data.
    pub attorney: Option<super::head_accounts::AttorneyIn>,
}

/// `PATCH /organizations/{id}`, `PATCH /branches/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockPatch {
    pub blocked: Option<bool>,
}

/// `POST /branches`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchIn {
    #[schema(format = Uuid)]
    pub organization_id: String,
    pub name: String,
}

/// One product quantity of a point.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantityIn {
    #[schema(format = Uuid)]
    pub product_id: String,
    #[schema(minimum = -1, maximum = 1500)]
    pub quantity: i64,
}

/// `POST /points`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointIn {
    #[schema(format = Uuid)]
    pub parent_id: String,
    pub name: String,
    #[schema(format = Email)]
    pub email: String,
    #[serde(default)]
    pub region: String,
    #[serde(default = "unlimited")]
    #[schema(minimum = -1)]
    pub limit: i64,
    #[serde(default)]
    pub quantities: Vec<QuantityIn>,
    #[serde(default)]
    pub technical: bool,
    pub inn: Option<String>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub licence_type: String,
    #[serde(default)]
    pub manager: String,
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    #[serde(default)]
    pub document_name: String,
    #[serde(default)]
    pub opening_hours: String,
}

fn unlimited() -> i64 {
    -1
}

/// `PATCH /points/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointPatch {
    pub blocked: Option<bool>,
    #[schema(minimum = -1)]
    pub limit: Option<i64>,
    pub quantities: Option<Vec<QuantityIn>>,
}

/// A point as `GET /points/{id}` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointOut {
    pub id: String,
    pub parent_id: String,
    pub organization_id: String,
    pub name: String,
    pub email: String,
    pub region: String,
    pub limit: i64,
    pub issued: u32,
    pub reserved: u32,
    pub remaining: Option<u32>,
    pub blocked: bool,
    pub technical: bool,
    pub quantities: Vec<QuantityOut>,
}

/// A product quantity with its counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuantityOut {
    pub product_id: String,
    pub quantity: i64,
    pub issued: u32,
    pub reserved: u32,
    pub remaining: Option<u32>,
}

impl PointOut {
    pub fn from_domain(p: &IssuingPoint) -> Self {
        use utrust_core::domain::agents::PointParent;
        Self {
            id: p.id.to_string(),
            parent_id: match p.parent {
                PointParent::Organization(o) => o.to_string(),
                PointParent::Branch(b) => b.to_string(),
            },
            organization_id: p.organization_id.to_string(),
            name: p.name.clone(),
            email: p.email.to_string(),
            region: p.region.clone(),
            limit: p.limit.allotment.to_wire(),
            issued: p.limit.issued,
            reserved: p.limit.reserved,
            remaining: p.limit.remaining(),
            blocked: p.blocked,
            technical: p.technical,
            quantities: p
                .quantities
                .iter()
                .map(|(id, q)| QuantityOut {
                    product_id: id.to_string(),
                    quantity: q.allotment.to_wire(),
                    issued: q.issued,
                    reserved: q.reserved,
                    remaining: q.remaining(),
                })
                .collect(),
        }
    }
}

/// `POST /services`: the core-flow fields of DESIGN §7 plus the seed's flags.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceIn {
    pub name: String,
    pub products: Vec<String>,
    pub applicant_kinds: Option<Vec<String>>,
    #[serde(default)]
    pub points: Vec<String>,
    #[serde(default)]
    pub approval_required: bool,
    #[serde(default)]
    pub smev_checks: Vec<String>,
    pub key_algorithm: Option<String>,
    pub crypto_class: Option<String>,
    pub validity_days: Option<u32>,
    pub active: Option<bool>,
    pub public: Option<bool>,
    pub hidden: Option<bool>,
    pub order: Option<i32>,
    pub service_type: Option<String>,
    pub short_description: Option<String>,
    pub full_description: Option<String>,
    pub crypto_provider: Option<String>,
    pub crypto_program: Option<String>,
    pub require_documents: Option<bool>,
    pub require_connected_token: Option<bool>,
    pub renewal_reminders: Option<bool>,
    pub revoke_superseded_on_renewal: Option<bool>,
    pub esia_registration: Option<bool>,
    pub bulk_csv: Option<bool>,
    pub issuance_confirmation: Option<bool>,
    pub certificate_after_completion: Option<bool>,
    pub show_first_step: Option<bool>,
    pub package_product: Option<bool>,
    pub require_document_signature: Option<bool>,
    pub passport_scan_on_verification: Option<bool>,
    pub price_from_kopecks: Option<u64>,
    pub price_without_discount_kopecks: Option<u64>,
    pub card_payment: Option<Vec<String>>,
    pub domains: Option<Vec<String>>,
    pub ca: Option<String>,
    /// The scan set needed to complete ("Состав скан-копий"): `passport`,
    /// `snils`, `power_of_attorney`, `application_form`, `signed_blank`,
    /// `additional`.
    pub required_scans: Option<Vec<String>>,
    /// Power-of-attorney type: `none`, `paper` or `machine_readable`.
    pub attorney_type: Option<String>,
    /// How client credentials are delivered ("Как отправлять данные клиента"):
    /// `none`, `email`, `sms` or `print`.
    pub credentials_delivery: Option<String>,
}

/// Parses applicant kind names.
pub fn applicant_kinds(field: &str, v: &[String]) -> Result<Vec<ApplicantKind>, ApiError> {
    v.iter()
        .map(|s| {
            ApplicantKind::from_name(s).ok_or_else(|| {
                ApiError::invalid(
                    field,
                    format!("{s}: expected individual, sole_proprietor or legal_entity"),
                )
            })
        })
        .collect()
}

/// `POST /applications`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationIn {
    #[schema(format = Uuid)]
    pub service_id: String,
    #[schema(format = Uuid)]
    pub point_id: String,
    pub applicant_kind: String,
    pub products: Vec<String>,
    pub owner: OwnerIn,
    pub organization: Option<AccountOrgIn>,
    pub address: Option<AddressIn>,
    #[serde(default)]
    pub renewal_notice: bool,
}

/// The certificate owner.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerIn {
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub snils: String,
    pub inn: String,
    pub email: String,
    pub birth_date: Option<String>,
    pub passport: Option<PassportIn>,
    pub position: Option<String>,
}

/// A passport.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PassportIn {
    pub series: String,
    pub number: String,
    pub issued_on: String,
    pub issuer_code: String,
}

/// The organization (legal entity or sole proprietor) applying.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountOrgIn {
    pub name: Option<String>,
    pub inn: Option<String>,
    pub kpp: Option<String>,
    pub ogrn: Option<String>,
    pub ogrnip: Option<String>,
}

/// An address.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressIn {
    pub region_code: Option<String>,
    pub region_name: Option<String>,
    pub locality: Option<String>,
    pub street: Option<String>,
    pub kladr: Option<String>,
}

fn date(field: &str, s: &str) -> Result<Date, ApiError> {
    Date::parse(
        s,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| ApiError::invalid(field, "expected a date YYYY-MM-DD"))
}

fn ident<T>(
    field: &str,
    r: Result<T, utrust_core::domain::identifiers::IdentifierError>,
) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::invalid(field, e.problem.to_string()))
}

impl OwnerIn {
    pub fn to_domain(&self) -> Result<CertificateOwner, ApiError> {
        let passport = match &self.passport {
            None => None,
            Some(p) => Some(Passport {
                document: PassportRf::parse(&p.series, &p.number, &p.issuer_code).map_err(|e| {
                    ApiError::invalid(&format!("owner.{}", e.field), e.problem.to_string())
                })?,
                issued_on: date("owner.passport.issued_on", &p.issued_on)?,
            }),
        };
        Ok(CertificateOwner {
            surname: self.surname.trim().to_owned(),
            given_name: self.given_name.trim().to_owned(),
            patronymic: self
                .patronymic
                .as_ref()
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty()),
            snils: ident("owner.snils", Snils::parse(&self.snils))?,
            inn: ident("owner.inn", Inn::parse(&self.inn))?,
            email: ident("owner.email", Email::parse(&self.email))?,
            birth_date: self
                .birth_date
                .as_deref()
                .map(|d| date("owner.birth_date", d))
                .transpose()?,
            passport,
            position: self.position.clone(),
        })
    }

    pub fn from_domain(o: &CertificateOwner) -> Self {
        Self {
            surname: o.surname.clone(),
            given_name: o.given_name.clone(),
            patronymic: o.patronymic.clone(),
            snils: o.snils.to_string(),
            inn: o.inn.to_string(),
            email: o.email.to_string(),
            birth_date: o.birth_date.map(|d| d.to_string()),
            passport: o.passport.as_ref().map(|p| PassportIn {
                series: p.document.series().to_owned(),
                number: p.document.number().to_owned(),
                issued_on: p.issued_on.to_string(),
                issuer_code: p.document.issuer_code().to_owned(),
            }),
            position: o.position.clone(),
        }
    }
}

impl ApplicationIn {
    /// The new application this body describes, validated field by field
    /// (shared by `POST /applications` and the CSV rows of
    /// `POST /applications/bulk`).
    pub fn to_domain(&self) -> Result<NewApplication, ApiError> {
        use super::catalog::body_id;
        Ok(NewApplication {
            service_id: body_id(&self.service_id, "service_id")?,
            point_id: body_id(&self.point_id, "point_id")?,
            products: self
                .products
                .iter()
                .map(|p| body_id(p, "products"))
                .collect::<Result<_, _>>()?,
            account: self.account()?,
            owner: self.owner.to_domain()?,
            address: self.address()?,
            renewal_notice: self.renewal_notice,
        })
    }

    /// The account for the declared applicant kind, with only that kind's fields.
    pub fn account(&self) -> Result<Account, ApiError> {
        let kind = ApplicantKind::from_name(&self.applicant_kind).ok_or_else(|| {
            ApiError::invalid(
                "applicant_kind",
                "expected individual, sole_proprietor or legal_entity",
            )
        })?;
        let org = self.organization.as_ref();
        let need = |field: &str, v: Option<&String>| -> Result<String, ApiError> {
            v.cloned()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| ApiError::invalid(field, "required for this applicant kind"))
        };
        match kind {
            ApplicantKind::Individual => {
                if org.is_some() {
                    return Err(ApiError::invalid(
                        "organization",
                        "not allowed for individual applicants",
                    ));
                }
                Ok(Account::Individual)
            }
            ApplicantKind::SoleProprietor => {
                let ogrnip = need("organization.ogrnip", org.and_then(|o| o.ogrnip.as_ref()))?;
                Ok(Account::SoleProprietor {
                    ogrnip: ident("organization.ogrnip", Ogrnip::parse(&ogrnip))?,
                })
            }
            ApplicantKind::LegalEntity => {
                let name = need("organization.name", org.and_then(|o| o.name.as_ref()))?;
                let inn = need("organization.inn", org.and_then(|o| o.inn.as_ref()))?;
                let ogrn = need("organization.ogrn", org.and_then(|o| o.ogrn.as_ref()))?;
                let kpp = org.and_then(|o| o.kpp.as_ref());
                Ok(Account::LegalEntity {
                    name: name.trim().to_owned(),
                    inn: ident("organization.inn", InnLe::parse(&inn))?,
                    kpp: kpp
                        .map(|k| ident("organization.kpp", Kpp::parse(k)))
                        .transpose()?,
                    ogrn: ident("organization.ogrn", Ogrn::parse(&ogrn))?,
                })
            }
        }
    }

    pub fn address(&self) -> Result<Address, ApiError> {
        let Some(a) = &self.address else {
            return Ok(Address::default());
        };
        if let Some(k) = &a.kladr
            && (!(13..=19).contains(&k.len()) || !k.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ApiError::invalid("address.kladr", "13 to 19 digits"));
        }
        Ok(Address {
            region_code: a
                .region_code
                .as_deref()
                .map(|r| ident("address.region_code", RegionCode::parse(r)))
                .transpose()?,
            region_name: a.region_name.clone(),
            locality: a.locality.clone(),
            street: a.street.clone(),
            kladr: a.kladr.clone(),
        })
    }
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// One history entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryOut {
    pub at: String,
    pub actor: String,
    pub from: String,
    pub to: String,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl HistoryOut {
    pub fn from_domain(h: &HistoryEntry) -> Self {
        Self {
            at: rfc3339(h.at),
            actor: h.actor.to_string(),
            from: h.from.to_string(),
            to: h.to.to_string(),
            event: h.event.to_string(),
            reason: h.reason.clone(),
        }
    }
}

/// An application as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationOut {
    pub id: String,
    pub status: String,
    pub version: u64,
    pub service_id: String,
    pub point_id: String,
    pub applicant_kind: String,
    pub products: Vec<String>,
    pub owner: OwnerIn,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<AccountOrgIn>,
    pub address: AddressIn,
    pub renewal_notice: bool,
    pub csr_attached: bool,
    pub certificate_serial: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryOut>>,
    /// The current round of SMEV identity checks (empty when the service has none).
    pub checks: Vec<CheckOut>,
    /// The payment (only for services with a price; not in listings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<super::case::PaymentOut>,
    /// The ЕСИА registration (only for services that register; not in listings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub esia_registration: Option<super::case::EsiaOut>,
    /// The head account found by INN (and KPP) at submission.
    #[schema(format = Uuid)]
    pub head_account_id: Option<String>,
    /// The power of attorney (corporate applications of a service with an
    /// attorney type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_of_attorney: Option<super::head_accounts::PowerOfAttorneyOut>,
}

/// One identity check as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckOut {
    pub kind: String,
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub round: u32,
    pub created_at: String,
    pub submitted_at: Option<String>,
    pub completed_at: Option<String>,
}

impl CheckOut {
    pub fn from_domain(c: &IdentityCheck) -> Self {
        Self {
            kind: c.kind.as_str().to_owned(),
            result: c.state.name().to_owned(),
            reason: c.state.reason().map(str::to_owned),
            round: c.round,
            created_at: rfc3339(c.created_at),
            submitted_at: c.submitted_at.map(rfc3339),
            completed_at: c.completed_at.map(rfc3339),
        }
    }
}

/// `POST /applications/{id}/rerun-checks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RerunChecksIn {
    pub owner: Option<OwnerIn>,
}

impl ApplicationOut {
    pub fn from_domain(
        a: &Application,
        history: Option<&[HistoryEntry]>,
        checks: &[IdentityCheck],
    ) -> Self {
        let organization = match &a.account {
            Account::Individual => None,
            Account::SoleProprietor { ogrnip } => Some(AccountOrgIn {
                name: None,
                inn: None,
                kpp: None,
                ogrn: None,
                ogrnip: Some(ogrnip.to_string()),
            }),
            Account::LegalEntity {
                name,
                inn,
                kpp,
                ogrn,
            } => Some(AccountOrgIn {
                name: Some(name.clone()),
                inn: Some(inn.to_string()),
                kpp: kpp.as_ref().map(ToString::to_string),
                ogrn: Some(ogrn.to_string()),
                ogrnip: None,
            }),
        };
        Self {
            id: a.id.to_string(),
            status: a.status.to_string(),
            version: a.version,
            service_id: a.service_id.to_string(),
            point_id: a.point_id.to_string(),
            applicant_kind: a.applicant_kind().to_string(),
            products: a.products.iter().map(ToString::to_string).collect(),
            owner: OwnerIn::from_domain(&a.owner),
            organization,
            address: AddressIn {
                region_code: a.address.region_code.map(|r| r.to_string()),
                region_name: a.address.region_name.clone(),
                locality: a.address.locality.clone(),
                street: a.address.street.clone(),
                kladr: a.address.kladr.clone(),
            },
            renewal_notice: a.renewal_notice,
            csr_attached: a.csr_der.is_some(),
            certificate_serial: a.certificate_serial.as_ref().map(ToString::to_string),
            reason: a.reason.clone(),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
            history: history.map(|h| h.iter().map(HistoryOut::from_domain).collect()),
            checks: checks.iter().map(CheckOut::from_domain).collect(),
            payment: None,
            esia_registration: None,
            head_account_id: a.head_account_id.map(|h| h.to_string()),
            power_of_attorney: a
                .power_of_attorney
                .as_ref()
                .map(super::head_accounts::PowerOfAttorneyOut::from_domain),
        }
    }
}

/// `GET /applications/{id}/request-template`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateOut {
    pub key_algorithm: String,
    pub subject: Vec<SubjectAttrOut>,
    pub extensions: ExtensionsOut,
}

/// One subject attribute.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectAttrOut {
    pub oid: String,
    pub value: String,
    #[serde(rename = "type")]
    pub string_type: String,
}

/// Requested extensions.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionsOut {
    pub key_usage: Vec<String>,
    pub extended_key_usage: Vec<String>,
    pub certificate_policies: Vec<String>,
}

impl TemplateOut {
    pub fn from_domain(t: &RequestTemplate) -> Self {
        Self {
            key_algorithm: t.key_algorithm.to_string(),
            subject: t
                .subject
                .iter()
                .map(|a| SubjectAttrOut {
                    oid: a.oid.to_string(),
                    value: a.value.clone(),
                    string_type: a.string_type.as_str().to_owned(),
                })
                .collect(),
            extensions: ExtensionsOut {
                key_usage: t
                    .extensions
                    .key_usage
                    .iter()
                    .map(|u| u.as_str().to_owned())
                    .collect(),
                extended_key_usage: t
                    .extensions
                    .extended_key_usage
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                certificate_policies: t
                    .extensions
                    .certificate_policies
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            },
        }
    }
}

/// `POST /applications/{id}/reject|cancel`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonIn {
    pub reason: String,
}

/// `POST /applications/{id}/csr` as JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsrIn {
    pub csr: String,
}

/// `POST /applications/{id}/issue` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedOut {
    pub application_id: String,
    pub status: String,
    pub serial: String,
    pub certificate: String,
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
}

/// A page of a listing: `next` is the cursor of the following page (pass it as
/// `after`), `null` on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// A product as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductOut {
    pub id: String,
    pub code: String,
    pub name: String,
    pub price_kopecks: u64,
    pub smart_card_only: bool,
    pub additional_service: bool,
    pub shown_in_agent_filters: bool,
    pub quantity_accounting: bool,
    pub oids: OidSetIn,
}

impl ProductOut {
    pub fn from_domain(p: &Product) -> Self {
        Self {
            id: p.id.to_string(),
            code: p.code.clone(),
            name: p.name.clone(),
            price_kopecks: p.price_kopecks,
            smart_card_only: p.smart_card_only,
            additional_service: p.additional_service,
            shown_in_agent_filters: p.shown_in_agent_filters,
            quantity_accounting: p.quantity_accounting,
            oids: OidSetIn::from_domain(&p.oids),
        }
    }
}

/// An organization as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationOut {
    pub id: String,
    pub name: String,
    pub inn: Option<String>,
    /// `legal_entity` or `sole_proprietor`.
    pub kind: String,
    pub blocked: bool,
    pub comment: String,
    /// Power-of-attorney data, when set.
    pub attorney: Option<super::head_accounts::AttorneyIn>,
}

impl OrganizationOut {
    pub fn from_domain(o: &Organization) -> Self {
        Self {
            id: o.id.to_string(),
            name: o.name.clone(),
            inn: o.inn.as_ref().map(ToString::to_string),
            kind: match o.kind {
                OrganizationKind::LegalEntity => "legal_entity",
                OrganizationKind::SoleProprietor => "sole_proprietor",
            }
            .to_owned(),
            blocked: o.blocked,
            comment: o.comment.clone(),
            attorney: o
                .attorney
                .as_ref()
                .map(super::head_accounts::AttorneyIn::from_domain),
        }
    }
}

/// A branch as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BranchOut {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub blocked: bool,
}

impl BranchOut {
    pub fn from_domain(b: &Branch) -> Self {
        Self {
            id: b.id.to_string(),
            organization_id: b.organization_id.to_string(),
            name: b.name.clone(),
            blocked: b.blocked,
        }
    }
}

/// The serde name of a domain enum value (its wire name).
fn wire_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn wire_names<'a, T: Serialize + 'a>(v: impl IntoIterator<Item = &'a T>) -> Vec<String> {
    v.into_iter().map(wire_name).collect()
}

/// A service (issuance scenario) with every flag of the seed's service table.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceOut {
    pub id: String,
    pub active: bool,
    pub public: bool,
    pub hidden: bool,
    pub order: i32,
    pub name: String,
    pub service_type: String,
    pub short_description: String,
    pub full_description: String,
    pub products: Vec<String>,
    pub applicant_kinds: Vec<String>,
    pub points: Vec<String>,
    pub crypto_provider: Option<String>,
    pub crypto_program: Option<String>,
    pub smev_checks: Vec<String>,
    pub credentials_delivery: String,
    pub domains: Vec<String>,
    pub ca: Option<String>,
    pub key_algorithm: String,
    pub show_first_step: bool,
    pub require_documents: bool,
    pub require_connected_token: bool,
    pub card_payment: Vec<String>,
    pub price_from_kopecks: u64,
    pub price_without_discount_kopecks: u64,
    pub package_product: bool,
    pub renewal_reminders: bool,
    pub allowed_passport_types: Vec<String>,
    pub passport_input_formats: Vec<String>,
    pub esia_registration: bool,
    pub bulk_csv: bool,
    pub issuance_confirmation: bool,
    pub attorney_type: String,
    pub required_scans: Vec<String>,
    pub require_document_signature: bool,
    pub passport_scan_on_verification: bool,
    pub certificate_after_completion: bool,
    pub crypto_class: String,
    pub approval_required: bool,
    pub validity_days: u32,
    pub revoke_superseded_on_renewal: bool,
}

impl ServiceOut {
    pub fn from_domain(s: &Service) -> Self {
        Self {
            id: s.id.to_string(),
            active: s.active,
            public: s.public,
            hidden: s.hidden,
            order: s.order,
            name: s.name.clone(),
            service_type: s.service_type.clone(),
            short_description: s.short_description.clone(),
            full_description: s.full_description.clone(),
            products: s.products.iter().map(ToString::to_string).collect(),
            applicant_kinds: wire_names(&s.applicant_kinds),
            points: s.points.iter().map(ToString::to_string).collect(),
            crypto_provider: s.crypto_provider.clone(),
            crypto_program: s.crypto_program.clone(),
            smev_checks: wire_names(&s.smev_checks),
            credentials_delivery: wire_name(&s.credentials_delivery),
            domains: s.domains.clone(),
            ca: s.ca.clone(),
            key_algorithm: s.key_algorithm.as_str().to_owned(),
            show_first_step: s.show_first_step,
            require_documents: s.require_documents,
            require_connected_token: s.require_connected_token,
            card_payment: wire_names(&s.card_payment),
            price_from_kopecks: s.price_from_kopecks,
            price_without_discount_kopecks: s.price_without_discount_kopecks,
            package_product: s.package_product,
            renewal_reminders: s.renewal_reminders,
            allowed_passport_types: wire_names(&s.allowed_passport_types),
            passport_input_formats: wire_names(&s.passport_input_formats),
            esia_registration: s.esia_registration,
            bulk_csv: s.bulk_csv,
            issuance_confirmation: s.issuance_confirmation,
            attorney_type: wire_name(&s.attorney_type),
            required_scans: wire_names(&s.required_scans),
            require_document_signature: s.require_document_signature,
            passport_scan_on_verification: s.passport_scan_on_verification,
            certificate_after_completion: s.certificate_after_completion,
            crypto_class: wire_name(&s.crypto_class),
            approval_required: s.approval_required,
            validity_days: s.validity_days,
            revoke_superseded_on_renewal: s.revoke_superseded_on_renewal,
        }
    }
}

/// A PEM document (`-----BEGIN …-----`), served as `application/x-pem-file`.
#[derive(Debug, ToSchema)]
#[schema(value_type = String)]
pub struct Pem(pub String);

impl axum::response::IntoResponse for Pem {
    fn into_response(self) -> axum::response::Response {
        (
            [(axum::http::header::CONTENT_TYPE, "application/x-pem-file")],
            self.0,
        )
            .into_response()
    }
}

/// A DER document, served as `application/octet-stream` unless the handler
/// names a more precise type.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Der(pub Vec<u8>);

impl axum::response::IntoResponse for Der {
    fn into_response(self) -> axum::response::Response {
        (
            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
            self.0,
        )
            .into_response()
    }
}
