//! The application's case file (issue #8): documents and their signatures,
//! issuance confirmation, payment, ЕСИА registration, completion, and the
//! certificate withheld from the applicant until completion.
//!
//! Every guard is a pure rule of `domain::casefile`; a refused step is
//! [`Error::RequirementsMissing`] naming each missing requirement.
//!
//! **Signatures of documents** (service flag "require signature of uploaded
//! documents"): a detached CMS signature is accepted when
//! 1. it verifies over the stored content and its signer's certificate was issued
//!    by our CA and is within its validity (the [`SignatureVerifier`] port);
//! 2. the signer's certificate is one our CA issued and still holds as `valid`
//!    (not suspended, revoked or expired) in the store;
//! 3. it is the **responsible employee's** certificate: the e-mail of the
//!    certificate's owner (on the application it was issued for) is the e-mail
//!    of the employee who uploads the signature; when an administrator uploads
//!    it, of some employee on record.
//!
//! **ЕСИА registration** (flag "automatic ESIA registration"): when the
//! certificate is issued, an identity check of kind `esia_registration` is
//! stored (round = the application's `esia_attempt`) and run by the durable
//! check worker like the SMEV checks; completion waits for it to succeed; after
//! a failure an employee may start a new attempt.

use std::sync::Arc;

use super::Engine;
use crate::domain::access::Principal;
use crate::domain::application::{Actor, Application};
use crate::domain::casefile::{
    CaseDocument, DOCUMENT_MEDIA_TYPES, DocumentSignature, EsiaStatus, MAX_DOCUMENT_BYTES, Payment,
    PaymentMethod, Requirement, Sha256Hex, check_file_name, completion_missing,
    documents_step_missing, payment_methods, verification_missing,
};
use crate::domain::catalog::{DocumentKind, Service, SmevCheckKind};
use crate::domain::certificate::CertificateRecord;
use crate::domain::checks::IdentityCheck;
use crate::domain::ids::{ApplicationId, DocumentId};
use crate::domain::lifecycle::{ApplicationEvent, ApplicationStatus, Step, steps_ahead};
use crate::domain::revocation::CertificateStatus;
use crate::error::{Error, Result};
use crate::ports::signature::{SignatureError, SignatureVerifier};
use crate::ports::{ApplicationFilter, DocumentStore, PaymentProvider};

/// A document to add to the case file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDocument {
    /// What it is.
    pub kind: DocumentKind,
    /// File name (no path).
    pub name: String,
    /// Media type (parameters such as `; charset=` are dropped).
    pub media_type: String,
    /// The content.
    pub content: Vec<u8>,
}

impl Engine {
    /// Stores case-file document content in `store` (default: in memory).
    #[must_use]
    pub fn with_document_store(mut self, store: Arc<dyn DocumentStore>) -> Self {
        self.documents = store;
        self
    }

    /// Uses `provider` for payments (default: [`ManualPayments`](crate::ports::ManualPayments)).
    #[must_use]
    pub fn with_payment_provider(mut self, provider: Arc<dyn PaymentProvider>) -> Self {
        self.payments = provider;
        self
    }

    /// Verifies detached signatures of documents with `verifier` (without one,
    /// every signature is refused as untrusted).
    #[must_use]
    pub fn with_signature_verifier(mut self, verifier: Arc<dyn SignatureVerifier>) -> Self {
        self.signature_verifier = Some(verifier);
        self
    }

    /// The documents of an application, in upload order.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn documents(&self, id: ApplicationId) -> Result<Vec<CaseDocument>> {
        self.load_application(id).await?;
        Ok(self.store.documents(id).await?)
    }

    /// One document with its content.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown document (or lost content).
    pub async fn document_content(
        &self,
        id: ApplicationId,
        doc: DocumentId,
    ) -> Result<(CaseDocument, Vec<u8>)> {
        let meta = self.document_meta(id, doc).await?;
        let content = self
            .documents
            .get(&meta.sha256)
            .await
            .map_err(|e| Error::Storage(e.to_string()))?
            .ok_or_else(|| {
                Error::Storage(format!(
                    "content {} of document {doc} is missing",
                    meta.sha256
                ))
            })?;
        Ok((meta, content))
    }

    async fn document_meta(&self, id: ApplicationId, doc: DocumentId) -> Result<CaseDocument> {
        self.store
            .document(id, doc)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "document",
                id: doc.to_string(),
            })
    }

    /// Adds a document to the case file. In `AwaitingDocuments`, when the
    /// documents step has what it needs, the application moves on.
    ///
    /// # Errors
    /// [`Error::DocumentTooLarge`], [`Error::UnsupportedMediaType`],
    /// [`Error::Invalid`] (`name`, `content`), [`Error::CaseClosed`] for a
    /// terminal application.
    pub async fn upload_document(
        &self,
        id: ApplicationId,
        new: NewDocument,
        actor: Actor,
    ) -> Result<(CaseDocument, Application)> {
        let app = self.load_application(id).await?;
        if app.status.is_terminal() {
            return Err(Error::CaseClosed {
                status: app.status.as_str(),
            });
        }
        if new.content.len() > MAX_DOCUMENT_BYTES {
            return Err(Error::DocumentTooLarge {
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        if new.content.is_empty() {
            return Err(Error::invalid("content", "the document is empty"));
        }
        let media_type = new
            .media_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !DOCUMENT_MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(Error::UnsupportedMediaType {
                media_type,
                accepted: DOCUMENT_MEDIA_TYPES.join(", "),
            });
        }
        check_file_name(&new.name).map_err(|m| Error::invalid("name", m))?;
        let sha256 = Sha256Hex::of(&new.content);
        self.documents
            .put(&sha256, &new.content)
            .await
            .map_err(|e| Error::Storage(e.to_string()))?;
        let doc = CaseDocument {
            id: DocumentId::from_random_bytes(self.random_bytes()),
            application_id: id,
            kind: new.kind,
            name: new.name,
            media_type,
            size: new.content.len() as u64,
            sha256,
            uploaded_by: actor.clone(),
            uploaded_at: self.clock.now(),
            signature: None,
        };
        self.store.insert_document(&doc).await?;
        let app = self.advance_documents(id, actor).await?;
        Ok((doc, app))
    }

    /// Leaves `AwaitingDocuments` if the documents step is satisfied.
    async fn advance_documents(&self, id: ApplicationId, actor: Actor) -> Result<Application> {
        let mut app = self.load_application(id).await?;
        if app.status != ApplicationStatus::AwaitingDocuments {
            return Ok(app);
        }
        let service = self.service(app.service_id).await?;
        let docs = self.store.documents(id).await?;
        if !documents_step_missing(&service, &docs).is_empty() {
            return Ok(app);
        }
        app.version += 1;
        let entry = app.apply(
            ApplicationEvent::DocumentsComplete,
            actor,
            self.clock.now(),
            None,
        )?;
        match self.store.update_application(&app, Some(&entry)).await {
            Ok(()) => {
                self.announce_transition(&app, &entry).await;
            }
            // Someone else moved it first: theirs stands.
            Err(e) => match Error::from(e) {
                Error::Conflict => return self.load_application(id).await,
                other => return Err(other),
            },
        }
        // Best effort: the check worker's sweep creates the checks if this fails.
        let _ = self.open_check_round(&app).await;
        Ok(app)
    }

    /// Attaches a detached CMS signature (DER or PEM) to a document, after the
    /// checks in the module documentation.
    ///
    /// # Errors
    /// [`Error::Signature`] (each verification failure its own code),
    /// [`Error::SignerNotResponsible`], [`Error::Duplicate`] if the document is
    /// signed already, [`Error::CaseClosed`].
    pub async fn sign_document(
        &self,
        principal: &Principal,
        id: ApplicationId,
        doc: DocumentId,
        signature: &[u8],
    ) -> Result<(CaseDocument, Application)> {
        let app = self.load_application(id).await?;
        if app.status.is_terminal() {
            return Err(Error::CaseClosed {
                status: app.status.as_str(),
            });
        }
        let (meta, content) = self.document_content(id, doc).await?;
        if meta.signature.is_some() {
            return Err(Error::Duplicate {
                entity: "signature",
                field: "document",
            });
        }
        let verifier = self.signature_verifier.clone().ok_or_else(|| {
            Error::Signature(SignatureError::UntrustedSigner(
                "no signature verifier is configured".into(),
            ))
        })?;
        let now = self.clock.now();
        let signer = verifier.verify_detached(&content, signature, now)?;
        let cert = self
            .store
            .certificate(&signer.serial)
            .await?
            .ok_or_else(|| Error::SignerNotResponsible {
                reason: format!("certificate {} is not one this CA issued", signer.serial),
            })?;
        if cert.status != CertificateStatus::Valid {
            return Err(Error::Signature(SignatureError::CertificateRevoked {
                serial: cert.serial.clone(),
                status: cert.status.name().to_owned(),
            }));
        }
        self.require_responsible(principal, &cert).await?;
        // Keep the signature itself as evidence, content-addressed like documents.
        let signature_sha256 = Sha256Hex::of(signature);
        self.documents
            .put(&signature_sha256, signature)
            .await
            .map_err(|e| Error::Storage(e.to_string()))?;
        let sig = DocumentSignature {
            signer_serial: signer.serial.to_string(),
            signer_subject: signer.subject,
            signature_sha256,
            signed_by: principal.actor(),
            signed_at: now,
        };
        self.store.set_document_signature(id, doc, &sig).await?;
        let app = self.advance_documents(id, principal.actor()).await?;
        let meta = self.document_meta(id, doc).await?;
        Ok((meta, app))
    }

    /// Rule 3 of the module documentation.
    async fn require_responsible(
        &self,
        principal: &Principal,
        cert: &CertificateRecord,
    ) -> Result<()> {
        let owner_app = self.load_application(cert.application_id).await?;
        let owner_email = owner_app.owner.email.as_str().to_ascii_lowercase();
        let matches = |email: &str| email.to_ascii_lowercase() == owner_email;
        match principal {
            Principal::Employee { employee, .. } => {
                if matches(employee.email.as_str()) {
                    Ok(())
                } else {
                    Err(Error::SignerNotResponsible {
                        reason: format!(
                            "certificate {} belongs to {}, not to the employee signing",
                            cert.serial, cert.subject
                        ),
                    })
                }
            }
            Principal::Admin { .. } => {
                let mut after = None;
                loop {
                    let page = self.store.list_employees(after, 200).await?;
                    if page.iter().any(|e| matches(e.email.as_str())) {
                        return Ok(());
                    }
                    match page.last() {
                        Some(last) => after = Some(last.id),
                        None => break,
                    }
                }
                Err(Error::SignerNotResponsible {
                    reason: format!("certificate {} does not belong to an employee", cert.serial),
                })
            }
            Principal::Applicant { .. } => Err(Error::Forbidden {
                permission: "process_applications",
            }),
        }
    }

    /// The requirements behind `steps` (the documents step expanded into the
    /// documents it misses).
    async fn expand(
        &self,
        app: &Application,
        service: &Service,
        steps: &[Step],
    ) -> Result<Vec<Requirement>> {
        let mut out = Vec::new();
        for step in steps {
            if *step == Step::Documents {
                let docs = self.store.documents(app.id).await?;
                out.extend(documents_step_missing(service, &docs));
            } else {
                out.push(Requirement::Step(*step));
            }
        }
        Ok(out)
    }

    /// Refuses `action` on an application waiting at one of the case-file steps
    /// (documents, payment, confirmation) before `target`, naming what is missing.
    pub(super) async fn require_case_steps(
        &self,
        app: &Application,
        target: Step,
        action: &'static str,
    ) -> Result<()> {
        if !matches!(
            app.status,
            ApplicationStatus::AwaitingDocuments
                | ApplicationStatus::AwaitingPayment
                | ApplicationStatus::AwaitingConfirmation
        ) {
            return Ok(());
        }
        let steps: Vec<Step> = steps_ahead(app.status, &app.plan)
            .into_iter()
            .take_while(|s| *s != target)
            .collect();
        // Only a status that is a step of this application's plan waits for it
        // (otherwise the state machine's own refusal stands).
        let waiting = match app.status {
            ApplicationStatus::AwaitingDocuments => Step::Documents,
            ApplicationStatus::AwaitingPayment => Step::Payment,
            _ => Step::Confirmation,
        };
        if steps.first() != Some(&waiting) {
            return Ok(());
        }
        let service = self.service(app.service_id).await?;
        let missing = self.expand(app, &service, &steps).await?;
        Err(Error::RequirementsMissing { action, missing })
    }

    /// Verification (accepting the certificate request) needs the passport scan
    /// when the service says "passport scan on verification".
    pub(super) async fn require_verification(&self, app: &Application) -> Result<()> {
        self.require_case_steps(app, Step::Csr, "attach the certificate request")
            .await?;
        if app.status != ApplicationStatus::AwaitingCsr {
            return Ok(());
        }
        let service = self.service(app.service_id).await?;
        let docs = self.store.documents(app.id).await?;
        let missing = verification_missing(&service, &docs);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::RequirementsMissing {
                action: "attach the certificate request",
                missing,
            })
        }
    }

    /// The extra confirmation before issuing.
    ///
    /// # Errors
    /// [`Error::RequirementsMissing`] while earlier case-file steps are open,
    /// [`Error::Transition`] otherwise out of `AwaitingConfirmation`.
    pub async fn confirm_issuance(&self, id: ApplicationId, actor: Actor) -> Result<Application> {
        let mut app = self.load_application(id).await?;
        if app.plan.confirmation {
            self.require_case_steps(&app, Step::Confirmation, "confirm")
                .await?;
        }
        app.version += 1;
        let entry = app.apply(ApplicationEvent::Confirm, actor, self.clock.now(), None)?;
        self.store.update_application(&app, Some(&entry)).await?;
        // Status notices (after the change is committed).
        self.announce_transition(&app, &entry).await;
        Ok(app)
    }

    /// The payment methods offered to an application.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn payment_methods(&self, id: ApplicationId) -> Result<Vec<PaymentMethod>> {
        let app = self.load_application(id).await?;
        let service = self.service(app.service_id).await?;
        Ok(if app.plan.payment {
            payment_methods(&service, app.applicant_kind())
        } else {
            Vec::new()
        })
    }

    /// Chooses the payment method and opens the payment with the provider.
    ///
    /// # Errors
    /// [`Error::Invalid`] on `method` when the service takes no payment, the
    /// method is not offered to the applicant kind (card), or it is paid already;
    /// [`Error::CaseClosed`]; [`Error::Payment`].
    pub async fn choose_payment(
        &self,
        id: ApplicationId,
        method: PaymentMethod,
        _actor: Actor,
    ) -> Result<Application> {
        let mut app = self.load_application(id).await?;
        if app.status.is_terminal() {
            return Err(Error::CaseClosed {
                status: app.status.as_str(),
            });
        }
        if !app.plan.payment {
            return Err(Error::invalid("method", "the service takes no payment"));
        }
        if app.payment.paid_at.is_some() {
            return Err(Error::invalid("method", "the application is paid already"));
        }
        let service = self.service(app.service_id).await?;
        let kind = app.applicant_kind();
        if !payment_methods(&service, kind).contains(&method) {
            return Err(Error::invalid(
                "method",
                format!(
                    "card payment is not available to {kind} applicants of this service; pay by invoice"
                ),
            ));
        }
        let products = self.products_of(&app).await?;
        let mut amount: u64 = products.iter().map(|p| p.price_kopecks).sum();
        if amount == 0 {
            amount = service.price_from_kopecks;
        }
        let reference = self.payments.open(id, method, amount).await?;
        app.payment = Payment {
            method: Some(method),
            reference: Some(reference),
            paid_at: None,
        };
        app.version += 1;
        app.updated_at = self.clock.now();
        self.store.update_application(&app, None).await?;
        Ok(app)
    }

    /// An employee records the payment as received: the application leaves
    /// `AwaitingPayment`.
    ///
    /// # Errors
    /// [`Error::RequirementsMissing`] (`payment_method`, or earlier steps),
    /// [`Error::Transition`], [`Error::Payment`].
    pub async fn mark_paid(&self, id: ApplicationId, actor: Actor) -> Result<Application> {
        let mut app = self.load_application(id).await?;
        if app.plan.payment && app.status == ApplicationStatus::AwaitingDocuments {
            self.require_case_steps(&app, Step::Payment, "record the payment")
                .await?;
        }
        // A wrong status is reported as such before the provider is asked.
        crate::domain::lifecycle::transition(
            app.status,
            ApplicationEvent::PaymentReceived,
            &app.plan,
        )?;
        let Some(reference) = app.payment.reference.clone() else {
            return Err(Error::RequirementsMissing {
                action: "record the payment",
                missing: vec![Requirement::PaymentMethod],
            });
        };
        self.payments.mark_paid(&reference).await?;
        let now = self.clock.now();
        app.payment.paid_at = Some(now);
        app.version += 1;
        let entry = app.apply(ApplicationEvent::PaymentReceived, actor, now, None)?;
        self.store.update_application(&app, Some(&entry)).await?;
        // Status notices (after the change is committed).
        self.announce_transition(&app, &entry).await;
        Ok(app)
    }

    /// The status of the ЕСИА registration of the application's current attempt
    /// (`None` before one started).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn esia_status(&self, app: &Application) -> Result<Option<EsiaStatus>> {
        if !app.plan.esia_registration {
            return Ok(None);
        }
        Ok(self
            .store
            .checks(app.id)
            .await?
            .into_iter()
            .find(|c| c.kind == SmevCheckKind::EsiaRegistration && c.round == app.esia_attempt)
            .map(|c| EsiaStatus::of(&c.state)))
    }

    /// Stores the ЕСИА registration check of an issued application (idempotent).
    pub(super) async fn open_esia_registration(&self, app: &Application) -> Result<()> {
        if !app.plan.esia_registration || app.status != ApplicationStatus::Issued {
            return Ok(());
        }
        let now = self.clock.now();
        let check = IdentityCheck::new(
            app.id,
            app.esia_attempt,
            SmevCheckKind::EsiaRegistration,
            now,
            now + self.check_timing.deadline,
        );
        Ok(self.store.ensure_checks(&[check]).await?)
    }

    /// Creates the missing ЕСИА registration checks of issued applications (the
    /// worker's sweep; covers a crash between issuing and storing the check).
    pub(super) async fn sweep_esia_registrations(&self) -> Result<()> {
        let filter = ApplicationFilter {
            status: Some(ApplicationStatus::Issued),
            ..ApplicationFilter::default()
        };
        let mut after = None;
        loop {
            let page = self.store.list_applications(&filter, after, 200).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for app in page.iter().filter(|a| a.plan.esia_registration) {
                self.open_esia_registration(app).await?;
            }
        }
        Ok(())
    }

    /// Starts a new ЕСИА registration attempt after a failed one.
    ///
    /// # Errors
    /// [`Error::Invalid`] unless the application is issued, registers in ЕСИА and
    /// its last attempt failed.
    pub async fn retry_esia_registration(
        &self,
        id: ApplicationId,
        _actor: Actor,
    ) -> Result<Application> {
        let mut app = self.load_application(id).await?;
        if !app.plan.esia_registration || app.status != ApplicationStatus::Issued {
            return Err(Error::invalid(
                "esia_registration",
                "only an issued application of a service with ЕСИА registration registers",
            ));
        }
        if !matches!(self.esia_status(&app).await?, Some(EsiaStatus::Failed(_))) {
            return Err(Error::invalid(
                "esia_registration",
                "only a failed registration is retried",
            ));
        }
        app.esia_attempt += 1;
        app.version += 1;
        app.updated_at = self.clock.now();
        self.store.update_application(&app, None).await?;
        // Best effort: the worker's sweep creates it if this fails.
        let _ = self.open_esia_registration(&app).await;
        Ok(app)
    }

    /// Everything that still stands between the application and `Completed`.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn completion_requirements(&self, app: &Application) -> Result<Vec<Requirement>> {
        let service = self.service(app.service_id).await?;
        let steps = steps_ahead(app.status, &app.plan);
        let mut missing = self.expand(app, &service, &steps).await?;
        let docs = self.store.documents(app.id).await?;
        let esia = self.esia_status(app).await?;
        for r in completion_missing(&service, app.plan.esia_registration, &docs, esia.as_ref()) {
            if !missing.contains(&r) {
                missing.push(r);
            }
        }
        Ok(missing)
    }

    /// Closes the case: `Issued → Completed` when every closing requirement
    /// holds.
    ///
    /// # Errors
    /// [`Error::RequirementsMissing`] naming each; [`Error::Transition`] for a
    /// terminal application.
    pub async fn complete(&self, id: ApplicationId, actor: Actor) -> Result<Application> {
        let mut app = self.load_application(id).await?;
        if !app.status.is_terminal() {
            let missing = self.completion_requirements(&app).await?;
            if !missing.is_empty() {
                return Err(Error::RequirementsMissing {
                    action: "complete",
                    missing,
                });
            }
        }
        app.version += 1;
        let entry = app.apply(ApplicationEvent::Complete, actor, self.clock.now(), None)?;
        self.store.update_application(&app, Some(&entry)).await?;
        // Status notices (after the change is committed).
        self.announce_transition(&app, &entry).await;
        Ok(app)
    }

    /// Refuses the certificate to an applicant while the service withholds it
    /// until completion; staff always see it.
    ///
    /// # Errors
    /// [`Error::CertificateWithheld`].
    pub async fn release_certificate_to(
        &self,
        principal: &Principal,
        app: &Application,
    ) -> Result<()> {
        if !matches!(principal, Principal::Applicant { .. })
            || app.status == ApplicationStatus::Completed
        {
            return Ok(());
        }
        let service = self.service(app.service_id).await?;
        if service.certificate_after_completion {
            return Err(Error::CertificateWithheld {
                status: app.status.as_str(),
            });
        }
        Ok(())
    }
}
