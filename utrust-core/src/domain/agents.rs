//! The agent network (seed 004, "Модуль работы с агентами"): organizations,
//! branches, issuing points, employees and user accounts.
//!
//! Blocking cascades downwards: a point is available only if it, its branch (if
//! any) and its organization are all unblocked. The cascade is derived
//! ([`point_availability`]) rather than copied into every child, so unblocking the
//! organization restores exactly the children that were not blocked on their own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::identifiers::{AnyInn, Email};
use super::ids::{BranchId, EmployeeId, OrganizationId, PointId, ProductId, ServiceId, UserId};
use super::quota::Quota;

/// Legal form of an agent organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationKind {
    /// A legal entity (ЮЛ).
    #[default]
    LegalEntity,
    /// A sole proprietor (ИП).
    SoleProprietor,
}

/// Power-of-attorney data of an organization (seed: "Данные доверенности").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttorneyData {
    /// Full name of the trusted person.
    pub trusted_person: String,
    /// Their position.
    pub position: String,
    /// Legal basis (e.g. the charter).
    pub legal_basis: String,
    /// Powers granted.
    pub powers: Vec<String>,
    /// Validity in years.
    pub validity_years: u8,
}

/// An agent organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// Server-generated id.
    pub id: OrganizationId,
    /// Name as registered with the tax service.
    pub name: String,
    /// INN (10 digits for a legal entity, 12 for a sole proprietor).
    pub inn: Option<AnyInn>,
    /// Legal form.
    pub kind: OrganizationKind,
    /// Blocked: its branches and points are blocked too.
    pub blocked: bool,
    /// Free comment.
    pub comment: String,
    /// Power-of-attorney data.
    pub attorney: Option<AttorneyData>,
}

/// A branch of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    /// Server-generated id.
    pub id: BranchId,
    /// The organization it belongs to.
    pub organization_id: OrganizationId,
    /// Name.
    pub name: String,
    /// Blocked: its points are blocked too.
    pub blocked: bool,
}

/// The level directly above an issuing point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum PointParent {
    /// Directly under an organization.
    Organization(OrganizationId),
    /// Under a branch.
    Branch(BranchId),
}

/// An issuing point ("точка выдачи").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuingPoint {
    /// Server-generated id.
    pub id: PointId,
    /// The organization or branch above it.
    pub parent: PointParent,
    /// The organization it ultimately belongs to (derived from `parent`).
    pub organization_id: OrganizationId,
    /// Name.
    pub name: String,
    /// INN.
    pub inn: Option<AnyInn>,
    /// Licence type.
    pub licence_type: String,
    /// The overall limit with its counters.
    pub limit: Quota,
    /// Point kind.
    pub kind: String,
    /// Address.
    pub address: String,
    /// Region (from the region dictionary).
    pub region: String,
    /// Phone.
    pub phone: String,
    /// E-mail (required).
    pub email: Email,
    /// Responsible manager.
    pub manager: String,
    /// Blocked on its own.
    pub blocked: bool,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Name used in documents.
    pub document_name: String,
    /// Opening hours, free text.
    pub opening_hours: String,
    /// Dates when the point is closed (ISO 8601).
    pub closed_dates: Vec<String>,
    /// Services offered.
    pub services: Vec<ServiceId>,
    /// Technical point: hidden from applicants, used by the API.
    pub technical: bool,
    /// Per-product quantities (products under quantity accounting).
    pub quantities: BTreeMap<ProductId, Quota>,
}

/// Why a point cannot take applications now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Open.
    Available,
    /// Blocked on its own.
    PointBlocked,
    /// Its branch is blocked.
    BranchBlocked,
    /// Its organization is blocked.
    OrganizationBlocked,
}

/// Derives whether a point is available from its own flag and its ancestors'.
pub fn point_availability(
    point: &IssuingPoint,
    branch: Option<&Branch>,
    organization: &Organization,
) -> Availability {
    if organization.blocked {
        Availability::OrganizationBlocked
    } else if branch.is_some_and(|b| b.blocked) {
        Availability::BranchBlocked
    } else if point.blocked {
        Availability::PointBlocked
    } else {
        Availability::Available
    }
}

/// Where an employee belongs, and what they may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum AgentRef {
    /// An organization.
    Organization(OrganizationId),
    /// A branch.
    Branch(BranchId),
    /// An issuing point.
    Point(PointId),
}

/// An employee of the agent network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    /// Server-generated id.
    pub id: EmployeeId,
    /// The user account they log in with.
    pub user_id: UserId,
    /// Surname.
    pub surname: String,
    /// Given name.
    pub given_name: String,
    /// Patronymic.
    pub patronymic: Option<String>,
    /// Position.
    pub position: String,
    /// E-mail.
    pub email: Email,
    /// Phone.
    pub phone: String,
    /// Receives notifications.
    pub notify: bool,
    /// Permission flags.
    pub permissions: Vec<String>,
    /// Where they belong (organization, branch or point).
    pub referral: AgentRef,
    /// Whose applications they may see.
    pub visibility: Vec<AgentRef>,
}

/// A login account. The password hash is opaque to the domain (argon2 PHC string
/// made by the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAccount {
    /// Server-generated id.
    pub id: UserId,
    /// Login.
    pub username: String,
    /// Password hash (PHC string), never the password.
    pub password_hash: String,
    /// May log in.
    pub active: bool,
    /// Staff (employee) account.
    pub staff: bool,
    /// Superuser.
    pub superuser: bool,
    /// Groups.
    pub groups: Vec<String>,
    /// Extra permissions.
    pub permissions: Vec<String>,
}

impl Organization {
    /// An unblocked legal-entity organization. The engine assigns the id.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            id: OrganizationId::from_uuid(uuid::Uuid::nil()),
            name: name.into(),
            inn: None,
            kind: OrganizationKind::LegalEntity,
            blocked: false,
            comment: String::new(),
            attorney: None,
        }
    }
}

impl Branch {
    /// An unblocked branch of `organization_id`. The engine assigns the id.
    pub fn new(organization_id: OrganizationId, name: impl Into<String>) -> Self {
        Self {
            id: BranchId::from_uuid(uuid::Uuid::nil()),
            organization_id,
            name: name.into(),
            blocked: false,
        }
    }
}

impl IssuingPoint {
    /// An open, non-technical point with the given limit and no quantities. The
    /// engine assigns the id and derives `organization_id` from `parent`.
    pub fn new(
        parent: PointParent,
        name: impl Into<String>,
        email: Email,
        limit: super::quota::Allotment,
    ) -> Self {
        let organization_id = match parent {
            PointParent::Organization(o) => o,
            PointParent::Branch(_) => OrganizationId::from_uuid(uuid::Uuid::nil()),
        };
        Self {
            id: PointId::from_uuid(uuid::Uuid::nil()),
            parent,
            organization_id,
            name: name.into(),
            inn: None,
            licence_type: String::new(),
            limit: Quota::new(limit),
            kind: String::new(),
            address: String::new(),
            region: String::new(),
            phone: String::new(),
            email,
            manager: String::new(),
            blocked: false,
            latitude: None,
            longitude: None,
            document_name: String::new(),
            opening_hours: String::new(),
            closed_dates: Vec::new(),
            services: Vec::new(),
            technical: false,
            quantities: BTreeMap::new(),
        }
    }
}
