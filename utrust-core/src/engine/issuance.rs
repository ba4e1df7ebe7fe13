//! Issuing: reserve the quotas, ask the CA, then commit or release.
//!
//! The reservation and the move to `Issuing` are one unit of work; so are the
//! commit, the certificate and the move to `Issued`; so are the release and the
//! move back to `ReadyToIssue` (transient CA failure, retryable) or to `Rejected`
//! (refusal). A crash between them leaves a reservation that lapses after the
//! reservation TTL.

use super::Engine;
use crate::domain::application::Actor;
use crate::domain::certificate::{CertificateRecord, CertificateStatus, SerialNumber};
use crate::domain::ids::{ApplicationId, ReservationId};
use crate::domain::lifecycle::ApplicationEvent;
use crate::domain::quota::Reservation;
use crate::domain::template::subject_text;
use crate::error::{Error, Result};
use crate::ports::{CaError, IssueRequest};

impl Engine {
    /// Issues the certificate of an application in `ReadyToIssue`.
    ///
    /// # Errors
    /// [`Error::Quota`] (`quota_exhausted`) when the point's limit or a product
    /// quantity is used up — nothing changes; [`Error::Ca`] when the CA fails
    /// (quota released, application back in `ReadyToIssue` or `Rejected`, history
    /// says why); [`Error::Transition`], [`Error::Conflict`].
    pub async fn issue(&self, id: ApplicationId, actor: Actor) -> Result<CertificateRecord> {
        let mut app = self.load_application(id).await?;
        // Open case-file steps (documents, payment, confirmation) are named.
        self.require_case_steps(&app, crate::domain::lifecycle::Step::Issuance, "issue")
            .await?;
        // A wrong status is reported as such before anything else is looked at.
        crate::domain::lifecycle::transition(
            app.status,
            ApplicationEvent::StartIssuing,
            &app.plan,
        )?;
        let template = self.template_of(&app).await?;
        let products = self.products_of(&app).await?;
        let csr_der = app
            .csr_der
            .clone()
            .ok_or_else(|| Error::invalid("csr", "no certificate request attached"))?;
        let service = self.service(app.service_id).await?;

        let now = self.clock.now();
        app.version += 1;
        let entry = app.apply(ApplicationEvent::StartIssuing, actor.clone(), now, None)?;
        let reservation = Reservation {
            id: ReservationId::from_random_bytes(self.random_bytes()),
            application_id: app.id,
            point_id: app.point_id,
            products: products
                .iter()
                .filter(|p| p.quantity_accounting)
                .map(|p| p.id)
                .collect(),
            expires_at: now + self.reservation_ttl,
        };
        self.store
            .begin_issuance(&app, &entry, &reservation)
            .await?;

        let request = IssueRequest {
            csr_der,
            subject: template.subject.clone(),
            extensions: template.extensions.clone(),
            not_before: now,
            not_after: now + time::Duration::days(i64::from(service.validity_days)),
        };
        match self.ca.issue(request).await {
            Ok(issued) => {
                let record = CertificateRecord {
                    serial: issued.serial.clone(),
                    application_id: app.id,
                    point_id: app.point_id,
                    products: app.products.clone(),
                    applicant_kind: app.applicant_kind(),
                    subject: subject_text(&template.subject),
                    not_before: issued.not_before,
                    not_after: issued.not_after,
                    status: CertificateStatus::Valid,
                    version: 1,
                    der: issued.der,
                };
                app.version += 1;
                app.certificate_serial = Some(issued.serial);
                let entry = app.apply(
                    ApplicationEvent::CaIssued,
                    Actor::System,
                    self.clock.now(),
                    None,
                )?;
                self.store
                    .complete_issuance(&app, &entry, reservation.id, &record)
                    .await?;
                self.announce_transition(&app, &entry).await;
                // Best effort: the check worker's sweep creates it if this fails.
                let _ = self.open_esia_registration(&app).await;
                if let (Some(renewed), true) = (&app.renews, service.revoke_superseded_on_renewal) {
                    self.supersede(renewed, &record.serial).await;
                }
                Ok(record)
            }
            Err(ca_error) => {
                let event = match ca_error {
                    CaError::Refused(_) => ApplicationEvent::CaRefused,
                    _ => ApplicationEvent::CaFailed,
                };
                app.version += 1;
                let entry = app.apply(
                    event,
                    Actor::System,
                    self.clock.now(),
                    Some(ca_error.to_string()),
                )?;
                self.store
                    .abort_issuance(&app, &entry, reservation.id)
                    .await?;
                self.announce_transition(&app, &entry).await;
                Err(Error::Ca(ca_error))
            }
        }
    }

    /// The certificate issued for an application.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the application has no certificate yet.
    pub async fn certificate_of(&self, id: ApplicationId) -> Result<CertificateRecord> {
        let app = self.load_application(id).await?;
        let serial = app.certificate_serial.ok_or_else(|| Error::NotFound {
            entity: "certificate",
            id: format!("of application {id}"),
        })?;
        self.certificate(&serial).await
    }

    /// A certificate by serial.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn certificate(&self, serial: &SerialNumber) -> Result<CertificateRecord> {
        self.store
            .certificate(serial)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "certificate",
                id: serial.to_string(),
            })
    }
}
