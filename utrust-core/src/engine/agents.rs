//! Catalog and agent-network use cases: create and change products, services,
//! organizations, branches and points, with referential checks.

use super::Engine;
use crate::domain::agents::{
    Availability, Branch, IssuingPoint, Organization, PointParent, point_availability,
};
use crate::domain::catalog::{ObjectIdentifier, Product, Service};
use crate::domain::ids::{BranchId, OrganizationId, PointId, ProductId, ServiceId};
use crate::domain::quota::{Allotment, Quota};
use crate::error::{Error, Result};

fn not_found(entity: &'static str, id: impl ToString) -> Error {
    Error::NotFound {
        entity,
        id: id.to_string(),
    }
}

fn require_text(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}

impl Engine {
    /// Adds an OID to the catalog.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty name; [`Error::Duplicate`].
    pub async fn create_object_identifier(
        &self,
        oid: ObjectIdentifier,
    ) -> Result<ObjectIdentifier> {
        require_text("name", &oid.name)?;
        self.store.insert_object_identifier(&oid).await?;
        Ok(oid)
    }

    /// Creates a product; the id given is replaced.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty code or name; [`Error::Duplicate`] for a
    /// taken code.
    pub async fn create_product(&self, mut product: Product) -> Result<Product> {
        require_text("code", &product.code)?;
        require_text("name", &product.name)?;
        product.id = ProductId::from_random_bytes(self.random_bytes());
        self.store.insert_product(&product).await?;
        Ok(product)
    }

    /// A product.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn product(&self, id: ProductId) -> Result<Product> {
        self.store
            .product(id)
            .await?
            .ok_or_else(|| not_found("product", id))
    }

    /// Creates an organization; the id given is replaced.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty name.
    pub async fn create_organization(&self, mut org: Organization) -> Result<Organization> {
        require_text("name", &org.name)?;
        org.id = OrganizationId::from_random_bytes(self.random_bytes());
        self.store.insert_organization(&org).await?;
        Ok(org)
    }

    /// An organization.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn organization(&self, id: OrganizationId) -> Result<Organization> {
        self.store
            .organization(id)
            .await?
            .ok_or_else(|| not_found("organization", id))
    }

    /// Blocks or unblocks an organization; its branches and points follow (the
    /// cascade is derived, see [`point_availability`]).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn set_organization_blocked(
        &self,
        id: OrganizationId,
        blocked: bool,
    ) -> Result<Organization> {
        let mut org = self.organization(id).await?;
        org.blocked = blocked;
        self.store.update_organization(&org).await?;
        Ok(org)
    }

    /// Creates a branch; the id given is replaced.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown organization; [`Error::Invalid`].
    pub async fn create_branch(&self, mut branch: Branch) -> Result<Branch> {
        require_text("name", &branch.name)?;
        self.store
            .organization(branch.organization_id)
            .await?
            .ok_or_else(|| Error::invalid("organization_id", "no such organization"))?;
        branch.id = BranchId::from_random_bytes(self.random_bytes());
        self.store.insert_branch(&branch).await?;
        Ok(branch)
    }

    /// A branch.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn branch(&self, id: BranchId) -> Result<Branch> {
        self.store
            .branch(id)
            .await?
            .ok_or_else(|| not_found("branch", id))
    }

    /// Blocks or unblocks a branch.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn set_branch_blocked(&self, id: BranchId, blocked: bool) -> Result<Branch> {
        let mut b = self.branch(id).await?;
        b.blocked = blocked;
        self.store.update_branch(&b).await?;
        Ok(b)
    }

    /// Creates an issuing point; the id given is replaced, counters start at zero,
    /// and quantities may only name products under quantity accounting.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `parent_id`, `name` or `quantities`.
    pub async fn create_point(&self, mut point: IssuingPoint) -> Result<IssuingPoint> {
        require_text("name", &point.name)?;
        point.organization_id = match point.parent {
            PointParent::Organization(o) => {
                self.store
                    .organization(o)
                    .await?
                    .ok_or_else(|| Error::invalid("parent_id", "no such organization or branch"))?
                    .id
            }
            PointParent::Branch(b) => {
                self.store
                    .branch(b)
                    .await?
                    .ok_or_else(|| Error::invalid("parent_id", "no such organization or branch"))?
                    .organization_id
            }
        };
        for (product_id, quota) in &mut point.quantities {
            let product =
                self.store.product(*product_id).await?.ok_or_else(|| {
                    Error::invalid("quantities", format!("no product {product_id}"))
                })?;
            if !product.quantity_accounting {
                return Err(Error::invalid(
                    "quantities",
                    format!("product {} is not under quantity accounting", product.code),
                ));
            }
            if let Allotment::Finite(n) = quota.allotment
                && n > crate::domain::quota::MAX_QUANTITY
            {
                return Err(Error::invalid(
                    "quantities",
                    "a quantity is -1, 0 or 1..=1500",
                ));
            }
            *quota = Quota::new(quota.allotment);
        }
        point.limit = Quota::new(point.limit.allotment);
        point.id = PointId::from_random_bytes(self.random_bytes());
        self.store.insert_point(&point).await?;
        Ok(point)
    }

    /// A point with its current counters.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn point(&self, id: PointId) -> Result<IssuingPoint> {
        self.store
            .point(id)
            .await?
            .ok_or_else(|| not_found("point", id))
    }

    /// Whether a point can take applications, considering its branch and
    /// organization.
    ///
    /// # Errors
    /// [`Error::NotFound`] if the point or an ancestor is missing.
    pub async fn point_availability(&self, point: &IssuingPoint) -> Result<Availability> {
        let branch = match point.parent {
            PointParent::Branch(b) => Some(self.branch(b).await?),
            PointParent::Organization(_) => None,
        };
        let org = self.organization(point.organization_id).await?;
        Ok(point_availability(point, branch.as_ref(), &org))
    }

    /// Blocks or unblocks a point.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn set_point_blocked(&self, id: PointId, blocked: bool) -> Result<IssuingPoint> {
        let mut p = self.point(id).await?;
        p.blocked = blocked;
        self.store.update_point(&p).await?;
        Ok(p)
    }

    /// Changes a point's limit (refused below issued + reserved).
    ///
    /// # Errors
    /// [`Error::Quota`] with `BelowUsage`; [`Error::NotFound`].
    pub async fn set_point_limit(&self, id: PointId, limit: Allotment) -> Result<IssuingPoint> {
        self.store.set_point_limit(id, limit).await?;
        self.point(id).await
    }

    /// Changes a point's quantity of a product (refused below issued + reserved).
    ///
    /// # Errors
    /// [`Error::Quota`], [`Error::Invalid`], [`Error::NotFound`].
    pub async fn set_point_quantity(
        &self,
        id: PointId,
        product: ProductId,
        quantity: Allotment,
    ) -> Result<IssuingPoint> {
        let p = self.product(product).await?;
        if !p.quantity_accounting {
            return Err(Error::invalid(
                "quantities",
                "product is not under quantity accounting",
            ));
        }
        if matches!(quantity, Allotment::Finite(n) if n > crate::domain::quota::MAX_QUANTITY) {
            return Err(Error::invalid(
                "quantities",
                "a quantity is -1, 0 or 1..=1500",
            ));
        }
        self.store.set_point_quantity(id, product, quantity).await?;
        self.point(id).await
    }

    /// Creates a service; the id given is replaced.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `name`, `products`, `points`, `applicant_kinds` or
    /// `validity_days`.
    pub async fn create_service(&self, mut service: Service) -> Result<Service> {
        require_text("name", &service.name)?;
        if service.products.is_empty() {
            return Err(Error::invalid(
                "products",
                "a service needs at least one product",
            ));
        }
        if service.applicant_kinds.is_empty() {
            return Err(Error::invalid(
                "applicant_kinds",
                "at least one applicant kind",
            ));
        }
        if service.validity_days == 0 || service.validity_days > 3660 {
            return Err(Error::invalid("validity_days", "1..=3660 days"));
        }
        for p in &service.products {
            if self.store.product(*p).await?.is_none() {
                return Err(Error::invalid("products", format!("no product {p}")));
            }
        }
        for p in &service.points {
            if self.store.point(*p).await?.is_none() {
                return Err(Error::invalid("points", format!("no point {p}")));
            }
        }
        service.id = ServiceId::from_random_bytes(self.random_bytes());
        self.store.insert_service(&service).await?;
        Ok(service)
    }

    /// A service.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn service(&self, id: ServiceId) -> Result<Service> {
        self.store
            .service(id)
            .await?
            .ok_or_else(|| not_found("service", id))
    }
}
