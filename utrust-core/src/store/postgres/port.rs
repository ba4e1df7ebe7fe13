//! [`Store`] for [`PgStore`]: each method one unit of work, delegated to the
//! module of its area. Writes run in [`transaction!`] (retried after a
//! serialization failure or deadlock); single-statement reads use the pool.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    PgStore, applications, catalog, certificates, checks, crl, lists, points, transaction, users,
};
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

#[async_trait]
impl Store for PgStore {
    async fn insert_object_identifier(&self, oid: &ObjectIdentifier) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| catalog::insert_oid(conn, oid))
    }

    async fn object_identifiers(&self) -> Result<Vec<ObjectIdentifier>, StoreError> {
        Ok(catalog::oids(&self.pool).await?)
    }

    async fn insert_product(&self, product: &Product) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| catalog::insert_product(conn, product))
    }

    async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
        Ok(catalog::product(&self.pool, id.to_string()).await?)
    }

    async fn insert_service(&self, service: &Service) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| catalog::upsert_service(conn, service))
    }

    async fn service(&self, id: ServiceId) -> Result<Option<Service>, StoreError> {
        Ok(catalog::service(&self.pool, id.to_string()).await?)
    }

    async fn insert_organization(&self, org: &Organization) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| catalog::upsert_organization(conn, org))
    }

    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, StoreError> {
        Ok(catalog::organization(&self.pool, id.to_string()).await?)
    }

    async fn update_organization(&self, org: &Organization) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| catalog::update_organization(conn, org))
    }

    async fn insert_branch(&self, branch: &Branch) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| catalog::upsert_branch(conn, branch))
    }

    async fn branch(&self, id: BranchId) -> Result<Option<Branch>, StoreError> {
        Ok(catalog::branch(&self.pool, id.to_string()).await?)
    }

    async fn update_branch(&self, branch: &Branch) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| catalog::update_branch(conn, branch))
    }

    async fn insert_point(&self, point: &IssuingPoint) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| points::insert(conn, point))
    }

    async fn point(&self, id: PointId) -> Result<Option<IssuingPoint>, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(points::load(&mut conn, id).await?)
    }

    async fn update_point(&self, point: &IssuingPoint) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| points::update(conn, point))
    }

    async fn set_point_limit(&self, id: PointId, limit: Allotment) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| points::set_limit(conn, id, limit))
    }

    async fn set_point_quantity(
        &self,
        id: PointId,
        product: ProductId,
        quantity: Allotment,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| points::set_quantity(
            conn, id, product, quantity
        ))
    }

    async fn insert_application(
        &self,
        app: &Application,
        entry: &HistoryEntry,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| async {
            applications::insert(conn, app).await?;
            applications::append_history(conn, app.id, entry).await
        })
    }

    async fn application(&self, id: ApplicationId) -> Result<Option<Application>, StoreError> {
        Ok(applications::load(&self.pool, id).await?)
    }

    async fn history(&self, id: ApplicationId) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(applications::history(&self.pool, id).await?)
    }

    async fn update_application(
        &self,
        app: &Application,
        entry: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| async {
            applications::update(conn, app).await?;
            if let Some(e) = entry {
                applications::append_history(conn, app.id, e).await?;
            }
            Ok(())
        })
    }

    async fn begin_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        r: &Reservation,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| async {
            applications::update(conn, app).await?;
            points::reserve(conn, r.point_id, &r.products).await?;
            applications::insert_reservation(conn, r).await?;
            applications::append_history(conn, app.id, entry).await
        })
    }

    async fn complete_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        reservation: ReservationId,
        certificate: &CertificateRecord,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| async {
            applications::update(conn, app).await?;
            let (point, products) = applications::take_reservation(conn, reservation).await?;
            certificates::insert(conn, certificate).await?;
            points::settle(conn, point, &products, true).await?;
            applications::append_history(conn, app.id, entry).await
        })
    }

    async fn abort_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        reservation: ReservationId,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| async {
            applications::update(conn, app).await?;
            let (point, products) = applications::take_reservation(conn, reservation).await?;
            points::settle(conn, point, &products, false).await?;
            applications::append_history(conn, app.id, entry).await
        })
    }

    async fn certificate(
        &self,
        serial: &SerialNumber,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        Ok(certificates::load(&self.pool, serial).await?)
    }

    async fn count_certificates(
        &self,
        point: PointId,
    ) -> Result<(u32, Vec<(ProductId, u32)>), StoreError> {
        // One transaction: the total and the per-product counts agree.
        transaction!(self.pool, |conn| certificates::count_at(conn, point))
    }

    async fn update_certificate(
        &self,
        certificate: &CertificateRecord,
        entry: &CertificateHistoryEntry,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| certificates::update(
            conn,
            certificate,
            entry
        ))
    }

    async fn certificate_history(
        &self,
        serial: &SerialNumber,
    ) -> Result<Vec<CertificateHistoryEntry>, StoreError> {
        Ok(certificates::history(&self.pool, serial).await?)
    }

    async fn revoked_certificates(&self) -> Result<Vec<CertificateRecord>, StoreError> {
        Ok(certificates::on_crl(&self.pool).await?)
    }

    async fn certificates_expiring(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        Ok(certificates::expiring(&self.pool, from, to).await?)
    }

    async fn certificates_past_validity(
        &self,
        at: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        Ok(certificates::past_validity(&self.pool, at).await?)
    }

    async fn claim_reminder(
        &self,
        serial: &SerialNumber,
        window: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        transaction!(self.pool, |conn| certificates::claim_reminder(
            conn, serial, window, at
        ))
    }

    async fn release_reminder(
        &self,
        serial: &SerialNumber,
        window: &str,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| certificates::release_reminder(
            conn, serial, window
        ))
    }

    async fn next_crl_number(&self) -> Result<u64, StoreError> {
        transaction!(self.pool, |conn| crl::next_number(conn))
    }

    async fn save_crl(&self, crl: &PublishedCrl) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| crl::save(conn, crl))
    }

    async fn latest_crl(&self) -> Result<Option<PublishedCrl>, StoreError> {
        Ok(crl::latest(&self.pool).await?)
    }

    async fn expired_reservations(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Reservation>, StoreError> {
        Ok(applications::expired_reservations(&self.pool, now, limit).await?)
    }

    async fn ca_material(&self, name: &str) -> Result<Option<StoredCa>, StoreError> {
        Ok(crl::ca_material(&self.pool, name).await?)
    }

    async fn insert_ca_material(&self, ca: &StoredCa) -> Result<bool, StoreError> {
        transaction!(self.pool, |conn| crl::insert_ca_material(conn, ca))
    }

    async fn list_applications(
        &self,
        filter: &ApplicationFilter,
        after: Option<ApplicationId>,
        limit: u32,
    ) -> Result<Vec<Application>, StoreError> {
        Ok(applications::list(&self.pool, filter, after, limit).await?)
    }

    async fn ensure_checks(&self, list: &[IdentityCheck]) -> Result<(), StoreError> {
        if list.is_empty() {
            return Ok(());
        }
        transaction!(self.pool, |conn| checks::ensure(conn, list))
    }

    async fn checks(&self, application: ApplicationId) -> Result<Vec<IdentityCheck>, StoreError> {
        Ok(checks::of_application(&self.pool, application).await?)
    }

    async fn claim_due_checks(
        &self,
        now: OffsetDateTime,
        lease_until_at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<IdentityCheck>, StoreError> {
        transaction!(self.pool, |conn| checks::claim_due(
            conn,
            now,
            lease_until_at,
            limit
        ))
    }

    async fn update_check(&self, check: &IdentityCheck) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| checks::update(conn, check))
    }

    async fn insert_user(&self, user: &UserAccount) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| users::insert_user(conn, user))
    }

    async fn user(&self, id: UserId) -> Result<Option<UserAccount>, StoreError> {
        Ok(users::user(&self.pool, id.to_string()).await?)
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserAccount>, StoreError> {
        Ok(users::user_by_username(&self.pool, username.to_owned()).await?)
    }

    async fn update_user(&self, user: &UserAccount) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| users::update_user(conn, user))
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserAccount>, StoreError> {
        Ok(lists::page(
            &self.pool,
            "SELECT data::text AS data FROM users WHERE id > $1 ORDER BY id LIMIT $2",
            "user",
            after.map(|a| a.to_string()),
            limit,
        )
        .await?)
    }

    async fn insert_employee(&self, employee: &Employee) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| users::insert_employee(conn, employee))
    }

    async fn employee(&self, id: EmployeeId) -> Result<Option<Employee>, StoreError> {
        Ok(users::employee(&self.pool, id.to_string()).await?)
    }

    async fn employee_by_user(&self, user: UserId) -> Result<Option<Employee>, StoreError> {
        Ok(users::employee_by_user(&self.pool, user.to_string()).await?)
    }

    async fn list_employees(
        &self,
        after: Option<EmployeeId>,
        limit: u32,
    ) -> Result<Vec<Employee>, StoreError> {
        Ok(lists::page(
            &self.pool,
            "SELECT data::text AS data FROM employees WHERE id > $1 ORDER BY id LIMIT $2",
            "employee",
            after.map(|a| a.to_string()),
            limit,
        )
        .await?)
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| users::insert_session(conn, session))
    }

    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        Ok(users::session(&self.pool, token_hash.to_owned()).await?)
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| users::delete_session(
            conn,
            token_hash.to_owned()
        ))
    }

    async fn list_products(
        &self,
        after: Option<ProductId>,
        limit: u32,
    ) -> Result<Vec<Product>, StoreError> {
        Ok(lists::page(
            &self.pool,
            "SELECT data::text AS data FROM products WHERE id > $1 ORDER BY id LIMIT $2",
            "product",
            after.map(|a| a.to_string()),
            limit,
        )
        .await?)
    }

    async fn list_services(
        &self,
        after: Option<ServiceId>,
        limit: u32,
    ) -> Result<Vec<Service>, StoreError> {
        Ok(lists::page(
            &self.pool,
            "SELECT data::text AS data FROM services WHERE id > $1 ORDER BY id LIMIT $2",
            "service",
            after.map(|a| a.to_string()),
            limit,
        )
        .await?)
    }

    async fn list_organizations(
        &self,
        after: Option<OrganizationId>,
        limit: u32,
    ) -> Result<Vec<Organization>, StoreError> {
        Ok(lists::page(
            &self.pool,
            "SELECT data::text AS data FROM organizations WHERE id > $1 ORDER BY id LIMIT $2",
            "organization",
            after.map(|a| a.to_string()),
            limit,
        )
        .await?)
    }

    async fn list_branches(
        &self,
        after: Option<BranchId>,
        limit: u32,
    ) -> Result<Vec<Branch>, StoreError> {
        Ok(lists::page(
            &self.pool,
            "SELECT data::text AS data FROM branches WHERE id > $1 ORDER BY id LIMIT $2",
            "branch",
            after.map(|a| a.to_string()),
            limit,
        )
        .await?)
    }

    async fn list_points(
        &self,
        after: Option<PointId>,
        limit: u32,
    ) -> Result<Vec<IssuingPoint>, StoreError> {
        Ok(lists::point_page(&self.pool, after.map(|a| a.to_string()), limit).await?)
    }
}
