//! Head accounts (found by INN/KPP) and the power of attorney of corporate
//! applications (issue #8).
//!
//! Submitting an application finds the head account for its key (the legal
//! entity's INN and KPP, or the owner's INN) or creates it from the application's
//! data, atomically in the store, and links it. For a legal entity applying
//! through a service with an attorney type, the issuing point's organization's
//! attorney data is snapshotted onto the application.
//!
//! Accounts are browsed and edited by staff who process applications
//! ([`Permission::ProcessApplications`]); applicants do not see them.

use super::Engine;
use crate::domain::access::{Permission, Principal};
use crate::domain::agents::IssuingPoint;
use crate::domain::application::{Account, Address, CertificateOwner};
use crate::domain::attorney::PowerOfAttorney;
use crate::domain::catalog::Service;
use crate::domain::head_accounts::{AccountPatch, HeadAccount};
use crate::domain::ids::{ApplicationId, HeadAccountId};
use crate::error::{Error, Result};
use crate::ports::AccountFilter;

fn account_not_found(id: HeadAccountId) -> Error {
    Error::NotFound {
        entity: "account",
        id: id.to_string(),
    }
}

impl Engine {
    /// The head account of an application being submitted: found by its key, or
    /// created from the application's data.
    ///
    /// # Errors
    /// Storage errors.
    pub(super) async fn head_account_for(
        &self,
        account: &Account,
        owner: &CertificateOwner,
        address: &Address,
        now: time::OffsetDateTime,
    ) -> Result<HeadAccountId> {
        let candidate = HeadAccount::from_application(
            HeadAccountId::from_random_bytes(self.random_bytes()),
            account,
            owner,
            address,
            now,
        );
        let (found, _created) = self.store.find_or_create_account(&candidate).await?;
        Ok(found.id)
    }

    /// The power of attorney a submitted application carries: for a legal
    /// entity, a service with an attorney type, and an organization (of the
    /// point) with attorney data; otherwise none.
    ///
    /// # Errors
    /// Storage errors; [`Error::NotFound`] if the point's organization is gone.
    pub(super) async fn power_of_attorney_for(
        &self,
        service: &Service,
        point: &IssuingPoint,
        account: &Account,
        owner: &CertificateOwner,
        now: time::OffsetDateTime,
    ) -> Result<Option<PowerOfAttorney>> {
        if service.attorney_type == crate::domain::catalog::AttorneyType::None
            || !matches!(account, Account::LegalEntity { .. })
        {
            return Ok(None);
        }
        let org = self.organization(point.organization_id).await?;
        Ok(PowerOfAttorney::snapshot(
            service.attorney_type,
            account,
            owner,
            &org.name,
            org.attorney.as_ref(),
            now.date(),
        ))
    }

    fn account_access(&self, principal: &Principal, what: impl ToString) -> Result<()> {
        self.staff_only(principal, "account", what)?;
        self.authorize(principal, Permission::ProcessApplications)
    }

    /// A page of head accounts (ordered by id after the cursor) and the cursor of
    /// the next page (`None` at the end).
    ///
    /// # Errors
    /// [`Error::NotFound`] for applicants, [`Error::Forbidden`] without
    /// `process_applications`; storage errors.
    pub async fn head_accounts(
        &self,
        principal: &Principal,
        filter: &AccountFilter,
        after: Option<HeadAccountId>,
        limit: u32,
    ) -> Result<(Vec<HeadAccount>, Option<HeadAccountId>)> {
        self.account_access(principal, "*")?;
        let page = self.store.list_accounts(filter, after, limit).await?;
        let next = (limit > 0 && page.len() == limit as usize)
            .then(|| page.last().map(|a| a.id))
            .flatten();
        Ok((page, next))
    }

    /// A head account.
    ///
    /// # Errors
    /// [`Error::NotFound`] (also for applicants), [`Error::Forbidden`].
    pub async fn head_account(
        &self,
        principal: &Principal,
        id: HeadAccountId,
    ) -> Result<HeadAccount> {
        self.account_access(principal, id)?;
        self.store
            .account(id)
            .await?
            .ok_or_else(|| account_not_found(id))
    }

    /// Edits a head account. With `expected_version`, the edit applies only to
    /// that version (what the editor read); without, to the current one.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Forbidden`], [`Error::Invalid`] naming the
    /// field, [`Error::Conflict`] when the version is not the current one or a
    /// concurrent edit won.
    pub async fn update_head_account(
        &self,
        principal: &Principal,
        id: HeadAccountId,
        patch: AccountPatch,
        expected_version: Option<u64>,
    ) -> Result<HeadAccount> {
        let mut account = self.head_account(principal, id).await?;
        if expected_version.is_some_and(|v| v != account.version) {
            return Err(Error::Conflict);
        }
        account
            .apply(patch, self.clock.now())
            .map_err(|e| Error::invalid(e.field, e.problem))?;
        self.store.update_account(&account).await?;
        Ok(account)
    }

    /// Sets (or, with `None`, removes) an organization's power-of-attorney data;
    /// applications already submitted keep their snapshot.
    ///
    /// # Errors
    /// [`Error::NotFound`]; storage errors.
    pub async fn set_organization_attorney(
        &self,
        id: crate::domain::ids::OrganizationId,
        attorney: Option<crate::domain::agents::AttorneyData>,
    ) -> Result<crate::domain::agents::Organization> {
        let mut org = self.organization(id).await?;
        org.attorney = attorney;
        self.store.update_organization(&org).await?;
        Ok(org)
    }

    /// The power-of-attorney document of an application, as HTML.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the application is not visible or has no power
    /// of attorney.
    pub async fn power_of_attorney_html(
        &self,
        principal: &Principal,
        id: ApplicationId,
    ) -> Result<String> {
        let app = self.visible_application(principal, id).await?;
        let poa = app.power_of_attorney.ok_or_else(|| Error::NotFound {
            entity: "power_of_attorney",
            id: id.to_string(),
        })?;
        Ok(poa.render_html(&id.to_string()))
    }
}
