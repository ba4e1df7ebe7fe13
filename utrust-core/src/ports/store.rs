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

use crate::domain::agents::{Branch, IssuingPoint, Organization};
use crate::domain::application::{Application, HistoryEntry};
use crate::domain::catalog::{ObjectIdentifier, Product, Service};
use crate::domain::certificate::{CertificateRecord, SerialNumber};
use crate::domain::ids::{
    ApplicationId, BranchId, OrganizationId, PointId, ProductId, ReservationId, ServiceId,
};
use crate::domain::quota::{Allotment, QuotaError, Reservation};

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
    /// A quota refused the change.
    #[error(transparent)]
    Quota(#[from] QuotaError),
    /// The reservation is unknown (already committed, released or swept).
    #[error("reservation {0} is not active")]
    ReservationGone(ReservationId),
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
pub trait Store: Send + Sync {
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
}
