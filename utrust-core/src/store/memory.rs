//! An in-memory [`Store`]: one mutex over all state, so every method is trivially
//! atomic. For tests and for embedders that persist elsewhere.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

mod accounts;
mod case;
mod devices;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::agents::{Branch, Employee, IssuingPoint, Organization, UserAccount};
use crate::domain::application::{Application, HistoryEntry};
use crate::domain::catalog::{ObjectIdentifier, Product, Service, SmevCheckKind};
use crate::domain::certificate::{CertificateRecord, SerialNumber};
use crate::domain::checks::IdentityCheck;
use crate::domain::ids::{
    ApplicationId, BranchId, EmployeeId, OrganizationId, PointId, ProductId, ReservationId,
    ServiceId, UserId,
};
use crate::domain::quota::{Allotment, Quota, QuotaScope, Reservation};
use crate::domain::revocation::{CertificateHistoryEntry, CertificateStatus};
use crate::ports::{ApplicationFilter, PublishedCrl, Session, Store, StoreError, StoredCa};

#[derive(Default)]
struct State {
    oids: BTreeMap<String, ObjectIdentifier>,
    products: HashMap<ProductId, Product>,
    services: HashMap<ServiceId, Service>,
    organizations: HashMap<OrganizationId, Organization>,
    branches: HashMap<BranchId, Branch>,
    points: HashMap<PointId, IssuingPoint>,
    applications: HashMap<ApplicationId, Application>,
    history: HashMap<ApplicationId, Vec<HistoryEntry>>,
    reservations: HashMap<ReservationId, Reservation>,
    certificates: BTreeMap<SerialNumber, CertificateRecord>,
    certificate_history: HashMap<SerialNumber, Vec<CertificateHistoryEntry>>,
    /// Claimed reminders: (serial, window).
    reminders: BTreeSet<(SerialNumber, String)>,
    /// The last CRL number allocated (0: none yet).
    crl_number: u64,
    crls: BTreeMap<u64, PublishedCrl>,
    ca_material: HashMap<String, StoredCa>,
    users: BTreeMap<UserId, UserAccount>,
    employees: BTreeMap<EmployeeId, Employee>,
    sessions: HashMap<String, Session>,
    /// Identity checks by (application, round, kind).
    checks: BTreeMap<(ApplicationId, u32, SmevCheckKind), IdentityCheck>,
}

impl State {
    fn check_version(&self, app: &Application) -> Result<(), StoreError> {
        match self.applications.get(&app.id) {
            Some(stored) if stored.version + 1 == app.version => Ok(()),
            Some(_) => Err(StoreError::VersionConflict { id: app.id }),
            None => Err(StoreError::NotFound {
                entity: "application",
                id: app.id.to_string(),
            }),
        }
    }

    fn write_app(&mut self, app: &Application, entry: Option<&HistoryEntry>) {
        self.applications.insert(app.id, app.clone());
        if let Some(e) = entry {
            self.history.entry(app.id).or_default().push(e.clone());
        }
    }

    fn point_mut(&mut self, id: PointId) -> Result<&mut IssuingPoint, StoreError> {
        self.points
            .get_mut(&id)
            .ok_or_else(|| StoreError::NotFound {
                entity: "point",
                id: id.to_string(),
            })
    }
}

/// The in-memory store.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    devices: Mutex<devices::DeviceTables>,
    case: Mutex<case::CaseTables>,
    accounts: Mutex<accounts::AccountTables>,
}

impl core::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: every
        // method validates before it mutates.
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert_object_identifier(&self, oid: &ObjectIdentifier) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.oids.contains_key(oid.oid.as_str()) {
            return Err(StoreError::Duplicate {
                entity: "oid",
                field: "oid",
            });
        }
        s.oids.insert(oid.oid.to_string(), oid.clone());
        Ok(())
    }

    async fn object_identifiers(&self) -> Result<Vec<ObjectIdentifier>, StoreError> {
        Ok(self.lock().oids.values().cloned().collect())
    }

    async fn insert_product(&self, product: &Product) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.products.values().any(|p| p.code == product.code) {
            return Err(StoreError::Duplicate {
                entity: "product",
                field: "code",
            });
        }
        s.products.insert(product.id, product.clone());
        Ok(())
    }

    async fn product(&self, id: ProductId) -> Result<Option<Product>, StoreError> {
        Ok(self.lock().products.get(&id).cloned())
    }

    async fn insert_service(&self, service: &Service) -> Result<(), StoreError> {
        self.lock().services.insert(service.id, service.clone());
        Ok(())
    }

    async fn service(&self, id: ServiceId) -> Result<Option<Service>, StoreError> {
        Ok(self.lock().services.get(&id).cloned())
    }

    async fn insert_organization(&self, org: &Organization) -> Result<(), StoreError> {
        self.lock().organizations.insert(org.id, org.clone());
        Ok(())
    }

    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, StoreError> {
        Ok(self.lock().organizations.get(&id).cloned())
    }

    async fn update_organization(&self, org: &Organization) -> Result<(), StoreError> {
        let mut s = self.lock();
        let slot = s
            .organizations
            .get_mut(&org.id)
            .ok_or_else(|| StoreError::NotFound {
                entity: "organization",
                id: org.id.to_string(),
            })?;
        *slot = org.clone();
        Ok(())
    }

    async fn insert_branch(&self, branch: &Branch) -> Result<(), StoreError> {
        self.lock().branches.insert(branch.id, branch.clone());
        Ok(())
    }

    async fn branch(&self, id: BranchId) -> Result<Option<Branch>, StoreError> {
        Ok(self.lock().branches.get(&id).cloned())
    }

    async fn update_branch(&self, branch: &Branch) -> Result<(), StoreError> {
        let mut s = self.lock();
        let slot = s
            .branches
            .get_mut(&branch.id)
            .ok_or_else(|| StoreError::NotFound {
                entity: "branch",
                id: branch.id.to_string(),
            })?;
        *slot = branch.clone();
        Ok(())
    }

    async fn insert_point(&self, point: &IssuingPoint) -> Result<(), StoreError> {
        self.lock().points.insert(point.id, point.clone());
        Ok(())
    }

    async fn point(&self, id: PointId) -> Result<Option<IssuingPoint>, StoreError> {
        Ok(self.lock().points.get(&id).cloned())
    }

    async fn update_point(&self, point: &IssuingPoint) -> Result<(), StoreError> {
        let mut s = self.lock();
        let slot = s.point_mut(point.id)?;
        let (limit, quantities) = (slot.limit, slot.quantities.clone());
        *slot = point.clone();
        slot.limit = limit;
        slot.quantities = quantities;
        Ok(())
    }

    async fn set_point_limit(&self, id: PointId, limit: Allotment) -> Result<(), StoreError> {
        let mut s = self.lock();
        let p = s.point_mut(id)?;
        p.limit.set_allotment(limit, QuotaScope::PointLimit(id))?;
        Ok(())
    }

    async fn set_point_quantity(
        &self,
        id: PointId,
        product: ProductId,
        quantity: Allotment,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let p = s.point_mut(id)?;
        p.quantities
            .entry(product)
            .or_insert_with(|| Quota::new(quantity))
            .set_allotment(quantity, QuotaScope::ProductQuantity(id, product))?;
        Ok(())
    }

    async fn insert_application(
        &self,
        app: &Application,
        entry: &HistoryEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.applications.contains_key(&app.id) {
            return Err(StoreError::Duplicate {
                entity: "application",
                field: "id",
            });
        }
        s.write_app(app, Some(entry));
        Ok(())
    }

    async fn application(&self, id: ApplicationId) -> Result<Option<Application>, StoreError> {
        Ok(self.lock().applications.get(&id).cloned())
    }

    async fn history(&self, id: ApplicationId) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(self.lock().history.get(&id).cloned().unwrap_or_default())
    }

    async fn update_application(
        &self,
        app: &Application,
        entry: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.check_version(app)?;
        s.write_app(app, entry);
        Ok(())
    }

    async fn begin_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        r: &Reservation,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.check_version(app)?;
        // Check every quota before touching any, so a refusal changes nothing.
        let point = s
            .points
            .get(&r.point_id)
            .ok_or_else(|| StoreError::NotFound {
                entity: "point",
                id: r.point_id.to_string(),
            })?;
        let mut updated = point.clone();
        updated.limit.reserve(QuotaScope::PointLimit(r.point_id))?;
        for product in &r.products {
            let scope = QuotaScope::ProductQuantity(r.point_id, *product);
            updated
                .quantities
                .get_mut(product)
                .ok_or(crate::domain::quota::QuotaError::Exhausted { scope })?
                .reserve(scope)?;
        }
        s.points.insert(r.point_id, updated);
        s.reservations.insert(r.id, r.clone());
        s.write_app(app, Some(entry));
        Ok(())
    }

    async fn complete_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        reservation: ReservationId,
        certificate: &CertificateRecord,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.check_version(app)?;
        if !s.reservations.contains_key(&reservation) {
            return Err(StoreError::ReservationGone(reservation));
        }
        if s.certificates.contains_key(&certificate.serial) {
            return Err(StoreError::Duplicate {
                entity: "certificate",
                field: "serial",
            });
        }
        let Some(r) = s.reservations.remove(&reservation) else {
            return Err(StoreError::ReservationGone(reservation));
        };
        let p = s.point_mut(r.point_id)?;
        p.limit.commit();
        for product in &r.products {
            if let Some(q) = p.quantities.get_mut(product) {
                q.commit();
            }
        }
        s.certificates
            .insert(certificate.serial.clone(), certificate.clone());
        s.write_app(app, Some(entry));
        Ok(())
    }

    async fn abort_issuance(
        &self,
        app: &Application,
        entry: &HistoryEntry,
        reservation: ReservationId,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.check_version(app)?;
        let Some(r) = s.reservations.remove(&reservation) else {
            return Err(StoreError::ReservationGone(reservation));
        };
        let p = s.point_mut(r.point_id)?;
        p.limit.release();
        for product in &r.products {
            if let Some(q) = p.quantities.get_mut(product) {
                q.release();
            }
        }
        s.write_app(app, Some(entry));
        Ok(())
    }

    async fn certificate(
        &self,
        serial: &SerialNumber,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        Ok(self.lock().certificates.get(serial).cloned())
    }

    async fn count_certificates(
        &self,
        point: PointId,
    ) -> Result<(u32, Vec<(ProductId, u32)>), StoreError> {
        let s = self.lock();
        let mut total = 0u32;
        let mut per: BTreeMap<ProductId, u32> = BTreeMap::new();
        for c in s.certificates.values().filter(|c| c.point_id == point) {
            total += 1;
            for p in &c.products {
                *per.entry(*p).or_default() += 1;
            }
        }
        Ok((total, per.into_iter().collect()))
    }
    async fn update_certificate(
        &self,
        certificate: &CertificateRecord,
        entry: &CertificateHistoryEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        match s.certificates.get(&certificate.serial) {
            Some(stored) if stored.version.checked_add(1) == Some(certificate.version) => {}
            Some(_) => {
                return Err(StoreError::CertificateVersionConflict {
                    serial: certificate.serial.clone(),
                });
            }
            None => {
                return Err(StoreError::NotFound {
                    entity: "certificate",
                    id: certificate.serial.to_string(),
                });
            }
        }
        s.certificates
            .insert(certificate.serial.clone(), certificate.clone());
        s.certificate_history
            .entry(certificate.serial.clone())
            .or_default()
            .push(entry.clone());
        Ok(())
    }

    async fn certificate_history(
        &self,
        serial: &SerialNumber,
    ) -> Result<Vec<CertificateHistoryEntry>, StoreError> {
        Ok(self
            .lock()
            .certificate_history
            .get(serial)
            .cloned()
            .unwrap_or_default())
    }

    async fn revoked_certificates(&self) -> Result<Vec<CertificateRecord>, StoreError> {
        Ok(self
            .lock()
            .certificates
            .values()
            .filter(|c| {
                matches!(
                    c.status,
                    CertificateStatus::Revoked { .. } | CertificateStatus::Suspended { .. }
                )
            })
            .cloned()
            .collect())
    }

    async fn certificates_expiring(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        let mut v: Vec<CertificateRecord> = self
            .lock()
            .certificates
            .values()
            .filter(|c| {
                c.status == CertificateStatus::Valid && c.not_after > from && c.not_after <= to
            })
            .cloned()
            .collect();
        // The map is ordered by serial and the sort is stable: ties stay by serial.
        v.sort_by_key(|c| c.not_after);
        Ok(v)
    }

    async fn certificates_past_validity(
        &self,
        at: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        let mut v: Vec<CertificateRecord> = self
            .lock()
            .certificates
            .values()
            .filter(|c| {
                matches!(
                    c.status,
                    CertificateStatus::Valid | CertificateStatus::Suspended { .. }
                ) && c.not_after <= at
            })
            .cloned()
            .collect();
        v.sort_by_key(|c| c.not_after);
        Ok(v)
    }

    async fn claim_reminder(
        &self,
        serial: &SerialNumber,
        window: &str,
        _at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .reminders
            .insert((serial.clone(), window.to_owned())))
    }

    async fn release_reminder(
        &self,
        serial: &SerialNumber,
        window: &str,
    ) -> Result<(), StoreError> {
        self.lock()
            .reminders
            .remove(&(serial.clone(), window.to_owned()));
        Ok(())
    }

    async fn next_crl_number(&self) -> Result<u64, StoreError> {
        let mut s = self.lock();
        s.crl_number = s
            .crl_number
            .checked_add(1)
            .ok_or_else(|| StoreError::Backend("CRL numbers exhausted".into()))?;
        Ok(s.crl_number)
    }

    async fn save_crl(&self, crl: &PublishedCrl) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.crls.contains_key(&crl.number) {
            return Err(StoreError::Duplicate {
                entity: "crl",
                field: "number",
            });
        }
        s.crls.insert(crl.number, crl.clone());
        Ok(())
    }

    async fn latest_crl(&self) -> Result<Option<PublishedCrl>, StoreError> {
        Ok(self.lock().crls.values().next_back().cloned())
    }

    async fn expired_reservations(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Reservation>, StoreError> {
        let mut v: Vec<Reservation> = self
            .lock()
            .reservations
            .values()
            .filter(|r| r.expires_at <= now)
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            a.expires_at
                .cmp(&b.expires_at)
                .then_with(|| a.id.to_string().cmp(&b.id.to_string()))
        });
        v.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(v)
    }

    async fn ca_material(&self, name: &str) -> Result<Option<StoredCa>, StoreError> {
        Ok(self.lock().ca_material.get(name).cloned())
    }

    async fn insert_ca_material(&self, ca: &StoredCa) -> Result<bool, StoreError> {
        let mut s = self.lock();
        if s.ca_material.contains_key(&ca.name) {
            return Ok(false);
        }
        s.ca_material.insert(ca.name.clone(), ca.clone());
        Ok(true)
    }

    async fn list_applications(
        &self,
        filter: &ApplicationFilter,
        after: Option<ApplicationId>,
        limit: u32,
    ) -> Result<Vec<Application>, StoreError> {
        let s = self.lock();
        let mut out: Vec<Application> = s
            .applications
            .values()
            .filter(|a| filter.status.is_none_or(|st| a.status == st))
            .filter(|a| filter.point_id.is_none_or(|p| a.point_id == p))
            .filter(|a| filter.service_id.is_none_or(|sv| a.service_id == sv))
            .filter(|a| after.is_none_or(|c| a.id > c))
            .cloned()
            .collect();
        out.sort_by_key(|a| a.id);
        out.truncate(limit as usize);
        Ok(out)
    }

    async fn ensure_checks(&self, checks: &[IdentityCheck]) -> Result<(), StoreError> {
        let mut s = self.lock();
        for c in checks {
            s.checks
                .entry((c.application_id, c.round, c.kind))
                .or_insert_with(|| c.clone());
        }
        Ok(())
    }

    async fn checks(&self, application: ApplicationId) -> Result<Vec<IdentityCheck>, StoreError> {
        let s = self.lock();
        Ok(s.checks
            .range((application, 0, SmevCheckKind::Passport)..)
            .take_while(|((a, _, _), _)| *a == application)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn claim_due_checks(
        &self,
        now: OffsetDateTime,
        lease_until_at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<IdentityCheck>, StoreError> {
        let mut s = self.lock();
        let mut due: Vec<&mut IdentityCheck> = s
            .checks
            .values_mut()
            .filter(|c| {
                !c.state.is_final()
                    && c.next_attempt_at <= now
                    && c.lease_until.is_none_or(|l| l <= now)
            })
            .collect();
        due.sort_by_key(|c| c.next_attempt_at);
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|c| {
                c.lease_until = Some(lease_until_at);
                c.version += 1;
                c.clone()
            })
            .collect())
    }

    async fn update_check(&self, check: &IdentityCheck) -> Result<(), StoreError> {
        let mut s = self.lock();
        let key = (check.application_id, check.round, check.kind);
        match s.checks.get_mut(&key) {
            Some(stored) if stored.version + 1 == check.version => {
                *stored = check.clone();
                Ok(())
            }
            Some(_) => Err(StoreError::CheckVersionConflict {
                key: check.idempotency_key.clone(),
            }),
            None => Err(StoreError::NotFound {
                entity: "identity check",
                id: check.idempotency_key.clone(),
            }),
        }
    }

    async fn insert_user(&self, user: &UserAccount) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.users
            .values()
            .any(|u| u.username == user.username && u.id != user.id)
        {
            return Err(StoreError::Duplicate {
                entity: "user",
                field: "username",
            });
        }
        s.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn user(&self, id: UserId) -> Result<Option<UserAccount>, StoreError> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserAccount>, StoreError> {
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| u.username == username)
            .cloned())
    }

    async fn update_user(&self, user: &UserAccount) -> Result<(), StoreError> {
        let mut s = self.lock();
        if !s.users.contains_key(&user.id) {
            return Err(StoreError::NotFound {
                entity: "user",
                id: user.id.to_string(),
            });
        }
        if s.users
            .values()
            .any(|u| u.username == user.username && u.id != user.id)
        {
            return Err(StoreError::Duplicate {
                entity: "user",
                field: "username",
            });
        }
        s.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserAccount>, StoreError> {
        Ok(page(&self.lock().users, after, limit))
    }

    async fn insert_employee(&self, employee: &Employee) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.employees
            .values()
            .any(|e| e.user_id == employee.user_id && e.id != employee.id)
        {
            return Err(StoreError::Duplicate {
                entity: "employee",
                field: "user_id",
            });
        }
        s.employees.insert(employee.id, employee.clone());
        Ok(())
    }

    async fn employee(&self, id: EmployeeId) -> Result<Option<Employee>, StoreError> {
        Ok(self.lock().employees.get(&id).cloned())
    }

    async fn employee_by_user(&self, user: UserId) -> Result<Option<Employee>, StoreError> {
        Ok(self
            .lock()
            .employees
            .values()
            .find(|e| e.user_id == user)
            .cloned())
    }

    async fn list_employees(
        &self,
        after: Option<EmployeeId>,
        limit: u32,
    ) -> Result<Vec<Employee>, StoreError> {
        Ok(page(&self.lock().employees, after, limit))
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.sessions.contains_key(&session.token_hash) {
            return Err(StoreError::Duplicate {
                entity: "session",
                field: "token_hash",
            });
        }
        s.sessions
            .insert(session.token_hash.clone(), session.clone());
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        Ok(self.lock().sessions.get(token_hash).cloned())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.lock().sessions.remove(token_hash);
        Ok(())
    }

    async fn list_products(
        &self,
        after: Option<ProductId>,
        limit: u32,
    ) -> Result<Vec<Product>, StoreError> {
        let s = self.lock();
        Ok(page_unordered(&s.products, after, limit))
    }

    async fn list_services(
        &self,
        after: Option<ServiceId>,
        limit: u32,
    ) -> Result<Vec<Service>, StoreError> {
        let s = self.lock();
        Ok(page_unordered(&s.services, after, limit))
    }

    async fn list_organizations(
        &self,
        after: Option<OrganizationId>,
        limit: u32,
    ) -> Result<Vec<Organization>, StoreError> {
        let s = self.lock();
        Ok(page_unordered(&s.organizations, after, limit))
    }

    async fn list_branches(
        &self,
        after: Option<BranchId>,
        limit: u32,
    ) -> Result<Vec<Branch>, StoreError> {
        let s = self.lock();
        Ok(page_unordered(&s.branches, after, limit))
    }

    async fn list_points(
        &self,
        after: Option<PointId>,
        limit: u32,
    ) -> Result<Vec<IssuingPoint>, StoreError> {
        let s = self.lock();
        Ok(page_unordered(&s.points, after, limit))
    }
}

/// One page of an ordered map after the cursor.
fn page<K: Ord + Copy, V: Clone>(map: &BTreeMap<K, V>, after: Option<K>, limit: u32) -> Vec<V> {
    let iter: Box<dyn Iterator<Item = (&K, &V)>> = match after {
        Some(a) => Box::new(map.range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))),
        None => Box::new(map.iter()),
    };
    iter.take(limit as usize).map(|(_, v)| v.clone()).collect()
}

/// One page of a hash map, ordered by key, after the cursor.
fn page_unordered<K: Ord + Copy + std::hash::Hash, V: Clone>(
    map: &HashMap<K, V>,
    after: Option<K>,
    limit: u32,
) -> Vec<V> {
    let mut keys: Vec<&K> = map
        .keys()
        .filter(|k| after.is_none_or(|a| **k > a))
        .collect();
    keys.sort();
    keys.into_iter()
        .take(limit as usize)
        .filter_map(|k| map.get(k).cloned())
        .collect()
}
