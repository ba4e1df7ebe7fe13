//! Application use cases up to issuing: submit, request template, CSR, approval,
//! rejection, cancellation.

use super::Engine;
use crate::domain::agents::Availability;
use crate::domain::application::{
    Account, Actor, Address, Application, CertificateOwner, HistoryEntry,
};
use crate::domain::catalog::{ApplicantKind, Product, SmevCheckKind};
use crate::domain::certificate::SerialNumber;
use crate::domain::ids::{ApplicationId, PointId, ProductId, ServiceId};
use crate::domain::lifecycle::{ApplicationEvent, ApplicationStatus, StepPlan};
use crate::domain::quota::Allotment;
use crate::domain::request::RequestTemplate;
use crate::domain::template::request_template;
use crate::error::{Error, Result};

/// The data of a new application, already parsed into validated domain values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication {
    /// The service (scenario).
    pub service_id: ServiceId,
    /// The point that verifies and issues.
    pub point_id: PointId,
    /// Products ordered (at least one, all offered by the service).
    pub products: Vec<ProductId>,
    /// The account applying; its kind is the applicant kind.
    pub account: Account,
    /// The certificate owner.
    pub owner: CertificateOwner,
    /// Address.
    pub address: Address,
    /// Wants a renewal notice.
    pub renewal_notice: bool,
}

/// The data each SMEV check needs must be there before it is sent: a passport
/// for the passport and INN checks, a birth date for the SNILS check.
pub(super) fn require_check_inputs(
    checks: &std::collections::BTreeSet<SmevCheckKind>,
    owner: &CertificateOwner,
) -> Result<()> {
    for kind in checks {
        match kind {
            SmevCheckKind::Passport | SmevCheckKind::Inn if owner.passport.is_none() => {
                return Err(Error::invalid(
                    "owner.passport",
                    format!("required: the service checks {kind} in SMEV"),
                ));
            }
            SmevCheckKind::Snils if owner.birth_date.is_none() => {
                return Err(Error::invalid(
                    "owner.birth_date",
                    "required: the service checks SNILS in SMEV",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

impl Engine {
    /// Submits an application: checks it against the service, the point and the
    /// products, and stores it in the first status its service's steps call for,
    /// with its history entry.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field at fault, [`Error::PointUnavailable`].
    pub async fn submit(&self, new: NewApplication, actor: Actor) -> Result<Application> {
        self.create_application(new, None, actor).await
    }

    /// [`Engine::submit`], recording the certificate the application renews.
    pub(super) async fn create_application(
        &self,
        new: NewApplication,
        renews: Option<SerialNumber>,
        actor: Actor,
    ) -> Result<Application> {
        let (app, entry) = self.build_application(new, renews, actor).await?;
        self.insert_built_application(&app, &entry).await?;
        Ok(app)
    }

    /// Stores an application made by [`Engine::build_application`] and opens
    /// its SMEV check round.
    pub(super) async fn insert_built_application(
        &self,
        app: &Application,
        entry: &HistoryEntry,
    ) -> Result<()> {
        self.store.insert_application(app, entry).await?;
        // Best effort: the check worker's sweep creates the checks if this fails.
        let _ = self.open_check_round(app).await;
        self.announce_submission(app, entry).await;
        Ok(())
    }

    /// Checks a new application against the service, the point and the
    /// products and makes it (submitted, with its history entry) without
    /// storing it, so that a caller (self-service device issuance) can do
    /// work that may fail before anything is stored.
    pub(super) async fn build_application(
        &self,
        new: NewApplication,
        renews: Option<SerialNumber>,
        actor: Actor,
    ) -> Result<(Application, HistoryEntry)> {
        let service = self
            .store
            .service(new.service_id)
            .await?
            .ok_or_else(|| Error::invalid("service_id", "no such service"))?;
        if !service.active {
            return Err(Error::invalid("service_id", "the service is not active"));
        }
        let kind = new.account.kind();
        if !service.applicant_kinds.contains(&kind) {
            return Err(Error::invalid(
                "applicant_kind",
                format!("the service does not accept {kind} applicants"),
            ));
        }
        if !service.points.is_empty() && !service.points.contains(&new.point_id) {
            return Err(Error::invalid(
                "point_id",
                "the point does not serve this service",
            ));
        }
        let point = self
            .store
            .point(new.point_id)
            .await?
            .ok_or_else(|| Error::invalid("point_id", "no such point"))?;
        match self.point_availability(&point).await? {
            Availability::Available => {}
            other => return Err(Error::PointUnavailable(other)),
        }
        if new.products.is_empty() {
            return Err(Error::invalid("products", "at least one product"));
        }
        let mut products = new.products.clone();
        products.sort();
        products.dedup();
        for p in &products {
            if !service.products.contains(p) {
                return Err(Error::invalid(
                    "products",
                    format!("product {p} is not offered by the service"),
                ));
            }
            let product = self.product(*p).await?;
            if product.quantity_accounting {
                match point.quantities.get(p).map(|q| q.allotment) {
                    None | Some(Allotment::Finite(0)) => {
                        return Err(Error::invalid(
                            "products",
                            format!("product {} is not in stock at this point", product.code),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        if kind == ApplicantKind::LegalEntity
            && new.owner.position.as_deref().is_none_or(str::is_empty)
        {
            // The signing person's title is part of a legal entity's certificate.
            return Err(Error::invalid(
                "owner.position",
                "required for legal entities",
            ));
        }
        for (field, value) in [
            ("owner.surname", &new.owner.surname),
            ("owner.given_name", &new.owner.given_name),
        ] {
            if value.trim().is_empty() {
                return Err(Error::invalid(field, "must not be empty"));
            }
        }
        require_check_inputs(&service.smev_checks, &new.owner)?;
        if let Account::LegalEntity { name, .. } = &new.account
            && name.trim().is_empty()
        {
            return Err(Error::invalid("organization.name", "must not be empty"));
        }
        let now = self.clock.now();
        let power_of_attorney = self
            .power_of_attorney_for(&service, &point, &new.account, &new.owner, now)
            .await?;
        let head_account_id = Some(
            self.head_account_for(&new.account, &new.owner, &new.address, now)
                .await?,
        );
        let client_account = self
            .client_account_for(&service, &new.owner, &actor)
            .await?;
        let mut app = Application {
            id: ApplicationId::from_random_bytes(self.random_bytes()),
            version: 1,
            status: ApplicationStatus::Draft,
            plan: StepPlan::for_service(&service),
            service_id: service.id,
            point_id: point.id,
            products,
            account: new.account,
            owner: new.owner,
            address: new.address,
            referring_agent: None,
            manager: None,
            user: match &actor {
                Actor::User(u) => Some(*u),
                _ => client_account,
            },
            renewal_notice: new.renewal_notice,
            csr_der: None,
            certificate_serial: None,
            renews,
            check_round: 0,
            reason: None,
            head_account_id,
            power_of_attorney,
            payment: Default::default(),
            esia_attempt: 0,
            created_at: now,
            updated_at: now,
        };
        let entry = app.apply(ApplicationEvent::Submit, actor, now, None)?;
        Ok((app, entry))
    }

    /// An application.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn application(&self, id: ApplicationId) -> Result<Application> {
        self.load_application(id).await
    }

    /// A page of applications matching `filter`, ordered by id, after the cursor.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list_applications(
        &self,
        filter: &crate::ports::ApplicationFilter,
        after: Option<ApplicationId>,
        limit: u32,
    ) -> Result<Vec<Application>> {
        Ok(self.store.list_applications(filter, after, limit).await?)
    }

    /// The history of an application, oldest first.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn history(&self, id: ApplicationId) -> Result<Vec<HistoryEntry>> {
        self.load_application(id).await?;
        Ok(self.store.history(id).await?)
    }

    pub(super) async fn products_of(&self, app: &Application) -> Result<Vec<Product>> {
        let mut out = Vec::with_capacity(app.products.len());
        for p in &app.products {
            out.push(self.product(*p).await?);
        }
        Ok(out)
    }

    /// What the key holder must put into the certificate request.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn request_template(&self, id: ApplicationId) -> Result<RequestTemplate> {
        let app = self.load_application(id).await?;
        self.template_of(&app).await
    }

    pub(super) async fn template_of(&self, app: &Application) -> Result<RequestTemplate> {
        let service = self.service(app.service_id).await?;
        let products = self.products_of(app).await?;
        Ok(request_template(app, &products, &service))
    }

    /// Attaches a certificate request (PEM or DER): parses it, verifies its
    /// signature over the received bytes, compares it with the template, and moves
    /// the application on. On any error nothing changes.
    ///
    /// # Errors
    /// [`Error::Csr`], [`Error::RequestMismatch`], [`Error::Transition`],
    /// [`Error::Conflict`].
    pub async fn attach_csr(
        &self,
        id: ApplicationId,
        bytes: &[u8],
        actor: Actor,
    ) -> Result<Application> {
        let mut app = self.load_application(id).await?;
        // Case-file steps before verification, and the passport scan it needs.
        self.require_verification(&app).await?;
        // Refuse early if the status does not take a CSR, before any parsing.
        crate::domain::lifecycle::transition(app.status, ApplicationEvent::CsrAccepted, &app.plan)?;
        let inspected = self.inspector.inspect(bytes)?;
        let template = self.template_of(&app).await?;
        template.check(&inspected)?;
        app.csr_der = Some(inspected.der);
        app.version += 1;
        let entry = app.apply(ApplicationEvent::CsrAccepted, actor, self.clock.now(), None)?;
        self.store.update_application(&app, Some(&entry)).await?;
        self.announce_transition(&app, &entry).await;
        Ok(app)
    }

    async fn simple_event(
        &self,
        id: ApplicationId,
        event: ApplicationEvent,
        actor: Actor,
        reason: Option<String>,
    ) -> Result<Application> {
        let mut app = self.load_application(id).await?;
        app.version += 1;
        let entry = app.apply(event, actor, self.clock.now(), reason)?;
        self.store.update_application(&app, Some(&entry)).await?;
        self.announce_transition(&app, &entry).await;
        Ok(app)
    }

    /// A CA operator approves the request.
    ///
    /// # Errors
    /// [`Error::Transition`], [`Error::Conflict`], [`Error::NotFound`].
    pub async fn approve(&self, id: ApplicationId, actor: Actor) -> Result<Application> {
        self.simple_event(id, ApplicationEvent::Approve, actor, None)
            .await
    }

    /// An operator rejects the application, with a reason.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty reason, [`Error::Transition`],
    /// [`Error::Conflict`], [`Error::NotFound`].
    pub async fn reject(
        &self,
        id: ApplicationId,
        actor: Actor,
        reason: String,
    ) -> Result<Application> {
        if reason.trim().is_empty() {
            return Err(Error::invalid("reason", "a rejection needs a reason"));
        }
        self.simple_event(id, ApplicationEvent::Reject, actor, Some(reason))
            .await
    }

    /// The applicant or agent withdraws the application, with a reason.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty reason, [`Error::Transition`],
    /// [`Error::Conflict`], [`Error::NotFound`].
    pub async fn cancel(
        &self,
        id: ApplicationId,
        actor: Actor,
        reason: String,
    ) -> Result<Application> {
        if reason.trim().is_empty() {
            return Err(Error::invalid("reason", "a cancellation needs a reason"));
        }
        self.simple_event(id, ApplicationEvent::Cancel, actor, Some(reason))
            .await
    }
}
