//! Persistence. Every method is one atomic unit of work: a change, its history
//! entry and its quota counters commit together or not at all.
//!
//! Applications carry an optimistic `version`: a method that writes an
//! application is given the new state with `version` already incremented and
//! succeeds only if the stored version is exactly one less, so two racing writers
//! cannot both win ([`StoreError::VersionConflict`]).
//!
//! Quota debits are conditional updates inside the store (never read-modify-write
//! in the engine), so they are exact under concurrency.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::agents::{Branch, Employee, IssuingPoint, Organization, UserAccount};
use crate::domain::application::{Application, HistoryEntry};
use crate::domain::catalog::{ObjectIdentifier, Product, Service};
use crate::domain::certificate::{CertificateRecord, SerialNumber};
use crate::domain::checks::IdentityCheck;
use crate::domain::ids::{
    ApplicationId, BranchId, EmployeeId, OrganizationId, PointId, ProductId, ReservationId,
    ServiceId, UserId,
};
use crate::domain::lifecycle::ApplicationStatus;
use crate::domain::quota::{Allotment, QuotaError, Reservation};
use crate::domain::revocation::CertificateHistoryEntry;
use crate::ports::{AccountStore, CaseStore, DeviceStore};

/// Kind of a bearer credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A login session (expires).
    Session,
    /// An API token for an integration (may not expire; revoked by deletion).
    ApiToken,
}

/// A bearer credential, stored only as the SHA-256 of the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Lowercase hex SHA-256 of the token (the token itself is never stored).
    pub token_hash: String,
    /// Whose it is.
    pub user_id: UserId,
    /// Session or API token.
    pub kind: SessionKind,
    /// A name for API tokens.
    pub name: Option<String>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Expires (`None`: never).
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// Which applications a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationFilter {
    /// Only in this status.
    pub status: Option<ApplicationStatus>,
    /// Only at this point.
    pub point_id: Option<PointId>,
    /// Only of this service.
    pub service_id: Option<ServiceId>,
}

/// A published certificate revocation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedCrl {
    /// CRL number (1, 2, …; unique and increasing across server processes).
    pub number: u64,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: OffsetDateTime,
    /// The CRL, DER.
    pub der: Vec<u8>,
}

/// A CA's certificate and its private key, encrypted, as shared by every server
/// process on one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCa {
    /// Name of the CA (`default` for the embedded local CA).
    pub name: String,
    /// The CA certificate, DER.
    pub certificate_der: Vec<u8>,
    /// The private key, encrypted (never stored in clear).
    pub encrypted_key: Vec<u8>,
    /// How the key is encrypted (e.g. `aes-256-gcm`), so it can be rotated.
    pub key_encryption: String,
}

/// Store failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique field is taken (e.g. a product code).
    #[error("{entity} with this {field} already exists")]
    Duplicate {
        /// Entity kind.
        entity: &'static str,
        /// The unique field.
        field: &'static str,
    },
    /// The record to change does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// Entity kind.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// Someone else changed the application first.
    #[error("application {id} was changed concurrently")]
    VersionConflict {
        /// The application.
        id: ApplicationId,
    },
    /// Someone else changed the certificate first (its stored `version` is not
    /// exactly one less than the one written).
    #[error("certificate {serial} was changed concurrently")]
    CertificateVersionConflict {
        /// The certificate.
        serial: SerialNumber,
    },
    /// A quota refused the change.
    #[error(transparent)]
    Quota(#[from] QuotaError),
    /// The reservation is unknown (already committed, released or swept).
    #[error("reservation {0} is not active")]
    ReservationGone(ReservationId),
    /// Someone else changed the identity check first.
    #[error("identity check {key} was changed concurrently")]
    CheckVersionConflict {
        /// Its idempotency key.
        key: String,
    },
    /// Someone else changed the device first (its stored `version` is not
    /// exactly one less than the one written).
    #[error("device {id} was changed concurrently")]
    DeviceVersionConflict {
        /// The device.
        id: crate::domain::ids::DeviceId,
    },
    /// Someone else changed the head account first (its stored `version` is not
    /// exactly one less than the one written).
    #[error("account {id} was changed concurrently")]
    AccountVersionConflict {
        /// The account.
        id: crate::domain::ids::HeadAccountId,
    },
    /// A crypto-means journal entry is out of order or lacks its document.
    #[error(transparent)]
    Journal(#[from] crate::domain::devices::JournalError),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error: {0}")]
    Backend(String),
}

/// Persistence port. Implementations: [`MemoryStore`](crate::store::MemoryStore),
/// `SqliteStore` (feature `sqlite`).
#[async_trait]
pub trait Store: DeviceStore + CaseStore + AccountStore + Send + Sync {
    /// Adds a catalog OID.
    async fn insert_object_identifier(&self, oid: &ObjectIdentifier) -> Result<(), StoreError>;
    /// All catalog OIDs, ordered by OID.
    async fn object_identifiers(&self) -> Result<Vec<ObjectIdentifier>, StoreError>;

    /// Adds a product (code unique).
    async fn insert_product(&self, product: &Product) -> Result<(), StoreError>;
    /// A product by id.
    async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError>;

    /// Adds a service.
    async fn insert_service(&self, service: &Service) -> Result<(), StoreError>;
    /// A service by id.
    async fn service(&self, id: ServiceId) -> Result<Option<Service>, StoreError>;

    /// Adds an organization.
    async fn insert_organization(&self, org: &Organization) -> Result<(), StoreError>;
    /// An organization by id.
    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, StoreError>;
    /// Replaces an organization's fields.
    async fn update_organization(&self, org: &Organization) -> Result<(), StoreError>;

    /// Adds a branch.
    async fn insert_branch(&self, branch: &Branch) -> Result<(), StoreError>;
    /// A branch by id.
    async fn branch(&self, id: BranchId) -> Result<Option<Branch>, StoreError>;
    /// Replaces a branch's fields.
    async fn update_branch(&self, branch: &Branch) -> Result<(), StoreError>;

    /// Adds an issuing point (its counters must be zero).
    async fn insert_point(&self, point: &IssuingPoint) -> Result<(), StoreError>;
    /// A point by id, with its current counters.
    async fn point(&self, id: PointId) -> Result<Option<IssuingPoint>, StoreError>;
    /// Replaces a point's descriptive fields; its limit, quantities and counters are
    /// left as stored (they change only through the quota methods).
    async fn update_point(&self, point: &IssuingPoint) -> Result<(), StoreError>;
    /// Sets a point's limit, refusing a value below issued + reserved.
    async fn set_point_limit(&self, id: PointId, limit: Allotment) -> Result<(), StoreError>;
    /// Sets (or adds) a point's quantity of a product, refusing a value below
    /// issued + reserved.
    async fn set_point_quantity(
        &self,
        id: PointId,
        product: ProductId,
        quantity: Allotment,
    ) -> Result<(), StoreError>;

    /// Adds an application with its first history entry.
    async fn insert_application(
        &self,
        app: &Application,
        entry: &HistoryEntry,
    ) -> Result<(), StoreError>;
    /// An application by id.
    async fn application(&self, id: ApplicationId) -> Result<Option<Application>, StoreError>;
    /// The history of an application, oldest first.
    async fn history(&self, id: ApplicationId) -> Result<Vec<HistoryEntry>, StoreError>;
    /// Writes an application (version check) and, if given, its history entry.
    async fn update_application(
        &self,
        app: &Application,
        entry: Option<&HistoryEntry>,
    ) -> Result<(), StoreError>;

    /// Reserves the quotas of `reservation` and writes the application (now
    /// `Issuing`) with its history entry. If any quota is exhausted nothing changes
    /// and [`StoreError::Quota`] names it.
    async fn begin_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        reservation: &Reservation,
    ) -> Result<(), StoreError>;
    /// Commits the reservation, stores the certificate and writes the application
    /// (now `Issued`) with its history entry.
    async fn complete_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        reservation: ReservationId,
        certificate: &CertificateRecord,
    ) -> Result<(), StoreError>;
    /// Releases the reservation and writes the application (back to
    /// `ReadyToIssue`, or `Rejected`) with its history entry.
    async fn abort_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        reservation: ReservationId,
    ) -> Result<(), StoreError>;

    /// A certificate by serial.
    async fn certificate(
        &self,
        serial: &SerialNumber,
    ) -> Result<Option<CertificateRecord>, StoreError>;
    /// Number of certificates issued at a point, and per product (for recounts).
    async fn count_certificates(
        &self,
        point: PointId,
    ) -> Result<(u32, Vec<(ProductId, u32)>), StoreError>;

    /// Writes a certificate's new status with its history entry. The record's
    /// `version` is the new version; the stored one must be exactly one less.
    async fn update_certificate(
        &self,
        certificate: &CertificateRecord,
        entry: &CertificateHistoryEntry,
    ) -> Result<(), StoreError>;
    /// The status history of a certificate, oldest first.
    async fn certificate_history(
        &self,
        serial: &SerialNumber,
    ) -> Result<Vec<CertificateHistoryEntry>, StoreError>;
    /// Certificates that belong on the CRL (revoked or suspended), by serial.
    async fn revoked_certificates(&self) -> Result<Vec<CertificateRecord>, StoreError>;
    /// Valid certificates whose notAfter is in `(from, to]`, by notAfter.
    async fn certificates_expiring(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>, StoreError>;
    /// Valid or suspended certificates whose notAfter is at or before `at`.
    async fn certificates_past_validity(
        &self,
        at: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>, StoreError>;
    /// Claims the expiry reminder of `serial` for `window`: `true` if this call
    /// claimed it, `false` if it was claimed before (one per certificate per
    /// window, across processes).
    async fn claim_reminder(
        &self,
        serial: &SerialNumber,
        window: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Gives a claimed reminder back (its delivery failed).
    async fn release_reminder(&self, serial: &SerialNumber, window: &str)
    -> Result<(), StoreError>;

    /// Allocates the next CRL number (1, 2, …) atomically.
    async fn next_crl_number(&self) -> Result<u64, StoreError>;
    /// Records a published CRL; the latest is the one with the highest number.
    async fn save_crl(&self, crl: &PublishedCrl) -> Result<(), StoreError>;
    /// The CRL with the highest number.
    async fn latest_crl(&self) -> Result<Option<PublishedCrl>, StoreError>;

    /// Reservations that lapsed (`expires_at <= now`), oldest first, at most
    /// `limit`; the recovery sweep releases them with
    /// [`Store::abort_issuance`].
    async fn expired_reservations(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Reservation>, StoreError>;

    /// The stored CA named `name`.
    async fn ca_material(&self, name: &str) -> Result<Option<StoredCa>, StoreError>;
    /// Stores a CA unless one with that name exists; `false` if another process
    /// stored one first (the caller then loads that one).
    async fn insert_ca_material(&self, ca: &StoredCa) -> Result<bool, StoreError>;

    /// Applications matching `filter`, ordered by id, starting after `after`
    /// (cursor), at most `limit`.
    async fn list_applications(
        &self,
        filter: &ApplicationFilter,
        after: Option<ApplicationId>,
        limit: u32,
    ) -> Result<Vec<Application>, StoreError>;

    /// Creates identity checks; a check whose (application, round, kind) exists
    /// already is left as it is (idempotent).
    async fn ensure_checks(&self, checks: &[IdentityCheck]) -> Result<(), StoreError>;
    /// Every check of an application, by round then kind.
    async fn checks(&self, application: ApplicationId) -> Result<Vec<IdentityCheck>, StoreError>;
    /// Claims up to `limit` pending checks that are due (`next_attempt_at <= now`)
    /// and not leased by another worker (`lease_until` empty or past): sets
    /// `lease_until = lease_until_at`, bumps `version` and returns them. Two
    /// workers never claim the same check (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    async fn claim_due_checks(
        &self,
        now: OffsetDateTime,
        lease_until_at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<IdentityCheck>, StoreError>;
    /// Writes a check's progress. The record's `version` is the new version; the
    /// stored one must be exactly one less ([`StoreError::CheckVersionConflict`]).
    async fn update_check(&self, check: &IdentityCheck) -> Result<(), StoreError>;

    /// Adds a user account (username unique: [`StoreError::Duplicate`]).
    async fn insert_user(&self, user: &UserAccount) -> Result<(), StoreError>;
    /// A user by id.
    async fn user(&self, id: UserId) -> Result<Option<UserAccount>, StoreError>;
    /// A user by login.
    async fn user_by_username(&self, username: &str) -> Result<Option<UserAccount>, StoreError>;
    /// Replaces a user's fields (username unique).
    async fn update_user(&self, user: &UserAccount) -> Result<(), StoreError>;
    /// Users ordered by id after the cursor.
    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserAccount>, StoreError>;

    /// Adds an employee (one per user: [`StoreError::Duplicate`] on `user_id`).
    async fn insert_employee(&self, employee: &Employee) -> Result<(), StoreError>;
    /// An employee by id.
    async fn employee(&self, id: EmployeeId) -> Result<Option<Employee>, StoreError>;
    /// The employee record of a user.
    async fn employee_by_user(&self, user: UserId) -> Result<Option<Employee>, StoreError>;
    /// Employees ordered by id after the cursor.
    async fn list_employees(
        &self,
        after: Option<EmployeeId>,
        limit: u32,
    ) -> Result<Vec<Employee>, StoreError>;

    /// Stores a session or API token (by its hash).
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    /// A session or API token by the hash of its token.
    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError>;
    /// Deletes a session or API token.
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;

    /// Products ordered by id after the cursor.
    async fn list_products(
        &self,
        after: Option<ProductId>,
        limit: u32,
    ) -> Result<Vec<Product>, StoreError>;
    /// Services ordered by id after the cursor.
    async fn list_services(
        &self,
        after: Option<ServiceId>,
        limit: u32,
    ) -> Result<Vec<Service>, StoreError>;
    /// Organizations ordered by id after the cursor.
    async fn list_organizations(
        &self,
        after: Option<OrganizationId>,
        limit: u32,
    ) -> Result<Vec<Organization>, StoreError>;
    /// Branches ordered by id after the cursor.
    async fn list_branches(
        &self,
        after: Option<BranchId>,
        limit: u32,
    ) -> Result<Vec<Branch>, StoreError>;
    /// Points (with their counters) ordered by id after the cursor.
    async fn list_points(
        &self,
        after: Option<PointId>,
        limit: u32,
    ) -> Result<Vec<IssuingPoint>, StoreError>;
}
