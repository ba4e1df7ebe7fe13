//! Applications for certificates (seed 004, "Просмотр заявок"): who applies, for
//! what, through which point, and the history of every status change.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::attorney::PowerOfAttorney;
use super::catalog::ApplicantKind;
use super::certificate::SerialNumber;
use super::identifiers::{Email, Inn, InnLe, Kpp, Ogrn, Ogrnip, PassportRf, RegionCode, Snils};
use super::ids::{ApplicationId, EmployeeId, HeadAccountId, PointId, ProductId, ServiceId, UserId};
use super::lifecycle::{
    ApplicationEvent, ApplicationStatus, StepPlan, TransitionError, transition,
};

/// The person the certificate is issued to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateOwner {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub given_name: String,
    /// Patronymic, if any.
    pub patronymic: Option<String>,
    /// SNILS.
    pub snils: Snils,
    /// Personal INN (12 digits).
    pub inn: Inn,
    /// E-mail.
    pub email: Email,
    /// Birth date.
    pub birth_date: Option<Date>,
    /// Passport.
    pub passport: Option<Passport>,
    /// Position (title), for legal-entity certificates.
    pub position: Option<String>,
}

impl CertificateOwner {
    /// "Surname Given Patronymic".
    pub fn full_name(&self) -> String {
        let mut s = format!("{} {}", self.surname, self.given_name);
        if let Some(p) = &self.patronymic {
            s.push(' ');
            s.push_str(p);
        }
        s
    }

    /// "Given Patronymic", the value of the givenName attribute.
    pub fn given_and_patronymic(&self) -> String {
        match &self.patronymic {
            Some(p) => format!("{} {}", self.given_name, p),
            None => self.given_name.clone(),
        }
    }
}

/// A passport with its issue date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passport {
    /// Series, number and issuer code.
    pub document: PassportRf,
    /// Date of issue.
    pub issued_on: Date,
}

/// The address of the owner or the legal entity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Region code (prefix of stateOrProvinceName).
    pub region_code: Option<RegionCode>,
    /// Region name, e.g. `г. Москва`.
    pub region_name: Option<String>,
    /// Locality (city, town).
    pub locality: Option<String>,
    /// Street address.
    pub street: Option<String>,
    /// Legacy KLADR code (13–19 digits), stored, never put into certificates.
    pub kladr: Option<String>,
}

impl Address {
    /// The stateOrProvinceName value: `"77 г. Москва"`.
    pub fn state_or_province(&self) -> Option<String> {
        match (&self.region_code, &self.region_name) {
            (Some(c), Some(n)) => Some(format!("{c} {n}")),
            (Some(c), None) => Some(c.to_string()),
            (None, Some(n)) => Some(n.clone()),
            (None, None) => None,
        }
    }
}

/// The account applying: a person, a sole proprietor or a legal entity, each with
/// only the identifiers its kind has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Account {
    /// Natural person (ФЛ): identified by the owner's own data.
    Individual,
    /// Sole proprietor (ИП).
    SoleProprietor {
        /// Registration number.
        ogrnip: Ogrnip,
    },
    /// Legal entity (ЮЛ).
    LegalEntity {
        /// Name as registered.
        name: String,
        /// 10-digit INN.
        inn: InnLe,
        /// KPP.
        kpp: Option<Kpp>,
        /// OGRN.
        ogrn: Ogrn,
    },
}

impl Account {
    /// The applicant kind of this account.
    pub fn kind(&self) -> ApplicantKind {
        match self {
            Self::Individual => ApplicantKind::Individual,
            Self::SoleProprietor { .. } => ApplicantKind::SoleProprietor,
            Self::LegalEntity { .. } => ApplicantKind::LegalEntity,
        }
    }
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// The system itself (background jobs, the CA).
    System,
    /// An administrator or API token.
    Admin(String),
    /// An employee.
    Employee(EmployeeId),
    /// A user (applicant).
    User(UserId),
}

impl core::fmt::Display for Actor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::System => f.write_str("system"),
            Self::Admin(a) => write!(f, "admin:{a}"),
            Self::Employee(e) => write!(f, "employee:{e}"),
            Self::User(u) => write!(f, "user:{u}"),
        }
    }
}

/// One status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The application.
    pub application_id: ApplicationId,
    /// Who caused it.
    pub actor: Actor,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Status before.
    pub from: ApplicationStatus,
    /// Status after.
    pub to: ApplicationStatus,
    /// The event.
    pub event: ApplicationEvent,
    /// Why (cancel reason, CA error, …).
    pub reason: Option<String>,
}

/// An application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Server-generated id.
    pub id: ApplicationId,
    /// Optimistic-concurrency version; bumped by every stored change.
    pub version: u64,
    /// Current status.
    pub status: ApplicationStatus,
    /// The steps this application goes through (fixed at submission).
    pub plan: StepPlan,
    /// The service (scenario).
    pub service_id: ServiceId,
    /// The point that verifies and issues.
    pub point_id: PointId,
    /// Products ordered.
    pub products: Vec<ProductId>,
    /// The account applying.
    pub account: Account,
    /// The certificate owner.
    pub owner: CertificateOwner,
    /// Address of the owner or legal entity.
    pub address: Address,
    /// Referring agent employee.
    pub referring_agent: Option<EmployeeId>,
    /// Managing employee.
    pub manager: Option<EmployeeId>,
    /// The applicant's user account.
    pub user: Option<UserId>,
    /// Wants a renewal notice before expiry.
    pub renewal_notice: bool,
    /// The accepted certificate request (DER).
    pub csr_der: Option<Vec<u8>>,
    /// Serial of the issued certificate.
    pub certificate_serial: Option<SerialNumber>,
    /// The certificate this application renews, if it is a renewal.
    #[serde(default)]
    pub renews: Option<SerialNumber>,
    /// The current round of identity checks (0 first; each re-run adds one).
    #[serde(default)]
    pub check_round: u32,
    /// Reason of cancellation or rejection.
    pub reason: Option<String>,
    /// The head account found by INN (and KPP for a legal entity) at submission.
    #[serde(default)]
    pub head_account_id: Option<HeadAccountId>,
    /// The power of attorney snapshotted at submission (corporate applications of a
    /// service with an attorney type, when the organization has attorney data).
    #[serde(default)]
    pub power_of_attorney: Option<PowerOfAttorney>,
    /// The payment (method chosen, when received).
    #[serde(default)]
    pub payment: super::casefile::Payment,
    /// The ЕСИА registration attempt (0 first; each retry adds one): the round of
    /// its `esia_registration` check.
    #[serde(default)]
    pub esia_attempt: u32,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Application {
    /// The applicant kind.
    pub fn applicant_kind(&self) -> ApplicantKind {
        self.account.kind()
    }

    /// Applies `event` through the transition table and returns the history entry
    /// to store in the same unit of work. On error nothing changes.
    ///
    /// # Errors
    /// [`TransitionError`] when the table has no such transition.
    pub fn apply(
        &mut self,
        event: ApplicationEvent,
        actor: Actor,
        at: OffsetDateTime,
        reason: Option<String>,
    ) -> Result<HistoryEntry, TransitionError> {
        let from = self.status;
        let to = transition(from, event, &self.plan)?;
        self.status = to;
        self.updated_at = at;
        if matches!(
            event,
            ApplicationEvent::Cancel | ApplicationEvent::Reject | ApplicationEvent::CaRefused
        ) {
            self.reason.clone_from(&reason);
        }
        Ok(HistoryEntry {
            application_id: self.id,
            actor,
            at,
            from,
            to,
            event,
            reason,
        })
    }
}
