//! The [`Store`] port: each method delegates to the module of its area.

use async_trait::async_trait;
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
use crate::domain::quota::{Allotment, Reservation};
use crate::domain::revocation::CertificateHistoryEntry;
use crate::ports::{ApplicationFilter, PublishedCrl, Session, Store, StoreError, StoredCa};

use super::{
    SqliteStore, agents, applications, ca, catalog, certificates, checks, crl, issuance, lists,
    reminders, users,
};

#[async_trait]
impl Store for SqliteStore {
    async fn insert_object_identifier(&self, oid: &ObjectIdentifier) -> Result<(), StoreError> {
        catalog::insert_object_identifier(self, oid).await
    }

    async fn object_identifiers(&self) -> Result<Vec<ObjectIdentifier>, StoreError> {
        catalog::object_identifiers(self).await
    }

    async fn insert_product(&self, product: &Product) -> Result<(), StoreError> {
        catalog::insert_product(self, product).await
    }

    async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
        catalog::product(self, id).await
    }

    async fn insert_service(&self, service: &Service) -> Result<(), StoreError> {
        catalog::insert_service(self, service).await
    }

    async fn service(&self, id: ServiceId) -> Result<Option<Service>, StoreError> {
        catalog::service(self, id).await
    }

    async fn insert_organization(&self, org: &Organization) -> Result<(), StoreError> {
        agents::insert_organization(self, org).await
    }

    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, StoreError> {
        agents::organization(self, id).await
    }

    async fn update_organization(&self, org: &Organization) -> Result<(), StoreError> {
        agents::update_organization(self, org).await
    }

    async fn insert_branch(&self, branch: &Branch) -> Result<(), StoreError> {
        agents::insert_branch(self, branch).await
    }

    async fn branch(&self, id: BranchId) -> Result<Option<Branch>, StoreError> {
        agents::branch(self, id).await
    }

    async fn update_branch(&self, branch: &Branch) -> Result<(), StoreError> {
        agents::update_branch(self, branch).await
    }

    async fn insert_point(&self, point: &IssuingPoint) -> Result<(), StoreError> {
        agents::insert_point(self, point).await
    }

    async fn point(&self, id: PointId) -> Result<Option<IssuingPoint>, StoreError> {
        agents::point(self, id).await
    }

    async fn update_point(&self, point: &IssuingPoint) -> Result<(), StoreError> {
        agents::update_point(self, point).await
    }

    async fn set_point_limit(&self, id: PointId, limit: Allotment) -> Result<(), StoreError> {
        agents::set_point_limit(self, id, limit).await
    }

    async fn set_point_quantity(
        &self,
        id: PointId,
        product: ProductId,
        quantity: Allotment,
    ) -> Result<(), StoreError> {
        agents::set_point_quantity(self, id, product, quantity).await
    }

    async fn insert_application(
        &self,
        app: &Application,
        entry: &HistoryEntry,
    ) -> Result<(), StoreError> {
        applications::insert_application(self, app, entry).await
    }

    async fn application(&self, id: ApplicationId) -> Result<Option<Application>, StoreError> {
        applications::application(self, id).await
    }

    async fn history(&self, id: ApplicationId) -> Result<Vec<HistoryEntry>, StoreError> {
        applications::history(self, id).await
    }

    async fn update_application(
        &self,
        app: &Application,
        entry: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        applications::update_application(self, app, entry).await
    }

    async fn begin_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        r: &Reservation,
    ) -> Result<(), StoreError> {
        issuance::begin_issuance(self, app, entry, r).await
    }

    async fn complete_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        reservation: ReservationId,
        certificate: &CertificateRecord,
    ) -> Result<(), StoreError> {
        issuance::complete_issuance(self, app, entry, reservation, certificate).await
    }

    async fn abort_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        reservation: ReservationId,
    ) -> Result<(), StoreError> {
        issuance::abort_issuance(self, app, entry, reservation).await
    }

    async fn certificate(
        &self,
        serial: &SerialNumber,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        certificates::certificate(self, serial).await
    }

    async fn count_certificates(
        &self,
        point: PointId,
    ) -> Result<(u32, Vec<(ProductId, u32)>), StoreError> {
        certificates::count_certificates(self, point).await
    }

    async fn update_certificate(
        &self,
        certificate: &CertificateRecord,
        entry: &CertificateHistoryEntry,
    ) -> Result<(), StoreError> {
        certificates::update_certificate(self, certificate, entry).await
    }

    async fn certificate_history(
        &self,
        serial: &SerialNumber,
    ) -> Result<Vec<CertificateHistoryEntry>, StoreError> {
        certificates::certificate_history(self, serial).await
    }

    async fn revoked_certificates(&self) -> Result<Vec<CertificateRecord>, StoreError> {
        certificates::revoked_certificates(self).await
    }

    async fn certificates_expiring(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        certificates::certificates_expiring(self, from, to).await
    }

    async fn certificates_past_validity(
        &self,
        at: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        certificates::certificates_past_validity(self, at).await
    }

    async fn claim_reminder(
        &self,
        serial: &SerialNumber,
        window: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        reminders::claim_reminder(self, serial, window, at).await
    }

    async fn release_reminder(
        &self,
        serial: &SerialNumber,
        window: &str,
    ) -> Result<(), StoreError> {
        reminders::release_reminder(self, serial, window).await
    }

    async fn next_crl_number(&self) -> Result<u64, StoreError> {
        crl::next_crl_number(self).await
    }

    async fn save_crl(&self, crl: &PublishedCrl) -> Result<(), StoreError> {
        crl::save_crl(self, crl).await
    }

    async fn latest_crl(&self) -> Result<Option<PublishedCrl>, StoreError> {
        crl::latest_crl(self).await
    }

    async fn expired_reservations(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Reservation>, StoreError> {
        issuance::expired_reservations(self, now, limit).await
    }

    async fn ca_material(&self, name: &str) -> Result<Option<StoredCa>, StoreError> {
        ca::ca_material(self, name).await
    }

    async fn insert_ca_material(&self, ca: &StoredCa) -> Result<bool, StoreError> {
        ca::insert_ca_material(self, ca).await
    }

    async fn list_applications(
        &self,
        filter: &ApplicationFilter,
        after: Option<ApplicationId>,
        limit: u32,
    ) -> Result<Vec<Application>, StoreError> {
        applications::list_applications(self, filter, after, limit).await
    }

    async fn ensure_checks(&self, list: &[IdentityCheck]) -> Result<(), StoreError> {
        checks::ensure_checks(self, list).await
    }

    async fn checks(&self, application: ApplicationId) -> Result<Vec<IdentityCheck>, StoreError> {
        checks::checks(self, application).await
    }

    async fn claim_due_checks(
        &self,
        now: OffsetDateTime,
        lease_until_at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<IdentityCheck>, StoreError> {
        checks::claim_due_checks(self, now, lease_until_at, limit).await
    }

    async fn update_check(&self, check: &IdentityCheck) -> Result<(), StoreError> {
        checks::update_check(self, check).await
    }

    async fn insert_user(&self, user: &UserAccount) -> Result<(), StoreError> {
        users::insert_user(self, user).await
    }

    async fn user(&self, id: UserId) -> Result<Option<UserAccount>, StoreError> {
        users::user(self, id).await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserAccount>, StoreError> {
        users::user_by_username(self, username).await
    }

    async fn update_user(&self, user: &UserAccount) -> Result<(), StoreError> {
        users::update_user(self, user).await
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserAccount>, StoreError> {
        lists::list_users(self, after, limit).await
    }

    async fn insert_employee(&self, employee: &Employee) -> Result<(), StoreError> {
        users::insert_employee(self, employee).await
    }

    async fn employee(&self, id: EmployeeId) -> Result<Option<Employee>, StoreError> {
        users::employee(self, id).await
    }

    async fn employee_by_user(&self, user: UserId) -> Result<Option<Employee>, StoreError> {
        users::employee_by_user(self, user).await
    }

    async fn list_employees(
        &self,
        after: Option<EmployeeId>,
        limit: u32,
    ) -> Result<Vec<Employee>, StoreError> {
        lists::list_employees(self, after, limit).await
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        users::insert_session(self, session).await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        users::session(self, token_hash).await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        users::delete_session(self, token_hash).await
    }

    async fn list_products(
        &self,
        after: Option<ProductId>,
        limit: u32,
    ) -> Result<Vec<Product>, StoreError> {
        lists::list_products(self, after, limit).await
    }

    async fn list_services(
        &self,
        after: Option<ServiceId>,
        limit: u32,
    ) -> Result<Vec<Service>, StoreError> {
        lists::list_services(self, after, limit).await
    }

    async fn list_organizations(
        &self,
        after: Option<OrganizationId>,
        limit: u32,
    ) -> Result<Vec<Organization>, StoreError> {
        lists::list_organizations(self, after, limit).await
    }

    async fn list_branches(
        &self,
        after: Option<BranchId>,
        limit: u32,
    ) -> Result<Vec<Branch>, StoreError> {
        lists::list_branches(self, after, limit).await
    }

    async fn list_points(
        &self,
        after: Option<PointId>,
        limit: u32,
    ) -> Result<Vec<IssuingPoint>, StoreError> {
        lists::list_points(self, after, limit).await
    }
}
