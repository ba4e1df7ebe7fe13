//! Use cases after issuance: suspend, resume, revoke, renew; CRL publication;
//! expiry; renewal reminders.
//!
//! The store is the registry of certificate status. A status change is stored
//! (version-checked, with its history entry) and then a new CRL is published, so a
//! CRL never shows a change that was not stored; if publication fails the change
//! stands and the next scheduled publication carries it.

use super::Engine;
use crate::domain::application::Actor;
use crate::domain::certificate::{CertificateRecord, SerialNumber};
use crate::domain::revocation::{
    CertificateEvent, CertificateHistoryEntry, CertificateStatus, RevocationReason,
    certificate_transition,
};
use crate::engine::NewApplication;
use crate::error::{Error, Result};
use crate::ports::{CrlEntry, CrlRequest, Notification, PublishedCrl};

impl Engine {
    async fn change_certificate(
        &self,
        serial: &SerialNumber,
        event: CertificateEvent,
        actor: Actor,
        comment: Option<String>,
    ) -> Result<CertificateRecord> {
        let mut cert = self.certificate(serial).await?;
        let now = self.clock.now();
        let from = cert.status;
        let to = certificate_transition(from, event, now)?;
        let ca_notice = match to {
            CertificateStatus::Revoked { reason, .. } => Some(Some(reason)),
            CertificateStatus::Suspended { .. } => Some(Some(RevocationReason::CertificateHold)),
            CertificateStatus::Valid => Some(None),
            CertificateStatus::Expired => None,
        };
        if let Some(reason) = ca_notice {
            self.ca.status_changed(serial, reason).await?;
        }
        cert.status = to;
        cert.version += 1;
        let entry = CertificateHistoryEntry {
            serial: serial.clone(),
            actor,
            at: now,
            from,
            to,
            event,
            comment,
        };
        self.store.update_certificate(&cert, &entry).await?;
        if ca_notice.is_some() {
            // The change is stored; if this publication fails, the maintenance
            // loop's next one carries it (`current_crl`).
            let _ = self.publish_crl().await;
        }
        Ok(cert)
    }

    /// Puts a valid certificate on hold (certificateHold) and publishes a CRL.
    ///
    /// # Errors
    /// [`Error::CertificateTransition`] unless the certificate is valid;
    /// [`Error::NotFound`], [`Error::Conflict`], [`Error::Ca`].
    pub async fn suspend(&self, serial: &SerialNumber, actor: Actor) -> Result<CertificateRecord> {
        self.change_certificate(serial, CertificateEvent::Suspend, actor, None)
            .await
    }

    /// Lifts the hold of a suspended certificate and publishes a CRL.
    ///
    /// # Errors
    /// [`Error::CertificateTransition`] unless the certificate is suspended.
    pub async fn resume(&self, serial: &SerialNumber, actor: Actor) -> Result<CertificateRecord> {
        self.change_certificate(serial, CertificateEvent::Resume, actor, None)
            .await
    }

    /// Revokes a valid or suspended certificate with an RFC 5280 reason and
    /// publishes a CRL.
    ///
    /// # Errors
    /// [`Error::Invalid`] (`reason`) for `certificateHold` or `removeFromCRL`;
    /// [`Error::CertificateTransition`] for a revoked or expired certificate.
    pub async fn revoke(
        &self,
        serial: &SerialNumber,
        reason: RevocationReason,
        actor: Actor,
    ) -> Result<CertificateRecord> {
        if !reason.is_final() {
            return Err(Error::invalid(
                "reason",
                format!("{reason} is not a revocation reason; suspend instead"),
            ));
        }
        self.change_certificate(serial, CertificateEvent::Revoke { reason }, actor, None)
            .await
    }

    /// The status history of a certificate, oldest first.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn certificate_history(
        &self,
        serial: &SerialNumber,
    ) -> Result<Vec<CertificateHistoryEntry>> {
        self.certificate(serial).await?;
        Ok(self.store.certificate_history(serial).await?)
    }

    /// Starts the renewal of a valid certificate: a new application with the same
    /// service, point, products, account, owner and address, going through the
    /// service's steps and the point's quotas like any other. The old certificate
    /// stays valid until the new one is issued; then it is revoked as
    /// `superseded` if the service says so.
    ///
    /// # Errors
    /// [`Error::CertificateTransition`] unless the certificate is valid; the
    /// errors of [`Engine::submit`] (inactive service, blocked point, …).
    pub async fn renew(
        &self,
        serial: &SerialNumber,
        actor: Actor,
    ) -> Result<crate::domain::application::Application> {
        let cert = self.certificate(serial).await?;
        certificate_transition(cert.status, CertificateEvent::Renew, self.clock.now())?;
        let old = self.load_application(cert.application_id).await?;
        let new = NewApplication {
            service_id: old.service_id,
            point_id: old.point_id,
            products: old.products.clone(),
            account: old.account.clone(),
            owner: old.owner.clone(),
            address: old.address.clone(),
            renewal_notice: old.renewal_notice,
        };
        self.create_application(new, Some(serial.clone()), actor)
            .await
    }

    /// After a renewal is issued: revokes the renewed certificate as superseded
    /// when the service asks for it. Failures are left to the operator (the new
    /// certificate is issued either way).
    pub(super) async fn supersede(&self, renewed: &SerialNumber, by: &SerialNumber) {
        let Ok(cert) = self.certificate(renewed).await else {
            return;
        };
        if cert.status.is_terminal() {
            return;
        }
        let event = CertificateEvent::Revoke {
            reason: RevocationReason::Superseded,
        };
        let _ = self
            .change_certificate(
                renewed,
                event,
                Actor::System,
                Some(format!("superseded by {by}")),
            )
            .await;
    }

    /// Signs and stores a new CRL with every revoked and suspended certificate.
    ///
    /// # Errors
    /// [`Error::Ca`] when the CA cannot sign; storage errors.
    pub async fn publish_crl(&self) -> Result<PublishedCrl> {
        let number = self.store.next_crl_number().await?;
        let entries = self
            .store
            .revoked_certificates()
            .await?
            .into_iter()
            .filter_map(|c| match c.status {
                CertificateStatus::Revoked { reason, at } => Some(CrlEntry {
                    serial: c.serial,
                    revoked_at: at,
                    reason,
                }),
                CertificateStatus::Suspended { since } => Some(CrlEntry {
                    serial: c.serial,
                    revoked_at: since,
                    reason: RevocationReason::CertificateHold,
                }),
                CertificateStatus::Valid | CertificateStatus::Expired => None,
            })
            .collect();
        let this_update = self.clock.now();
        let next_update = this_update + self.crl_validity;
        let der = self
            .ca
            .sign_crl(CrlRequest {
                number,
                this_update,
                next_update,
                entries,
            })
            .await?;
        let crl = PublishedCrl {
            number,
            this_update,
            next_update,
            der,
        };
        self.store.save_crl(&crl).await?;
        Ok(crl)
    }

    /// The current CRL: the latest one, or a fresh one when none exists or the
    /// latest has passed half its validity.
    ///
    /// # Errors
    /// As [`Engine::publish_crl`].
    pub async fn current_crl(&self) -> Result<PublishedCrl> {
        let now = self.clock.now();
        match self.store.latest_crl().await? {
            Some(crl) if now < crl.this_update + (crl.next_update - crl.this_update) / 2 => Ok(crl),
            _ => self.publish_crl().await,
        }
    }

    /// Marks certificates past their notAfter as expired; returns how many.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn expire_certificates(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut n = 0;
        for cert in self.store.certificates_past_validity(now).await? {
            match self
                .change_certificate(&cert.serial, CertificateEvent::Expire, Actor::System, None)
                .await
            {
                Ok(_) => n += 1,
                // Someone else expired or revoked it meanwhile.
                Err(Error::Conflict | Error::CertificateTransition(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Sends one expiry reminder per certificate per window: for every valid
    /// certificate expiring within `window` whose service has renewal reminders on
    /// and whose owner asked for renewal notices. `window` names the window so a
    /// 30-day and a 7-day reminder are separate. Returns how many were sent.
    ///
    /// # Errors
    /// Storage errors. A failed delivery releases its claim (retried next run)
    /// and does not stop the others.
    pub async fn send_expiry_reminders(&self, window: time::Duration) -> Result<usize> {
        let now = self.clock.now();
        let window_key = format!("{}d", window.whole_days());
        let mut sent = 0;
        for cert in self.store.certificates_expiring(now, now + window).await? {
            let app = self.load_application(cert.application_id).await?;
            let service = self.service(app.service_id).await?;
            if !service.renewal_reminders || !app.renewal_notice {
                continue;
            }
            if !self
                .store
                .claim_reminder(&cert.serial, &window_key, now)
                .await?
            {
                continue;
            }
            let days_left = (cert.not_after - now).whole_days();
            let message = Notification {
                to: app.owner.email.clone(),
                subject: format!("Срок действия сертификата {} истекает", cert.serial),
                body: format!(
                    "Здравствуйте, {}.\n\nСертификат {} ({}) действует до {} (осталось дней: {}).\n\
                     Подайте заявку на продление заранее.\n",
                    app.owner.full_name(),
                    cert.serial,
                    cert.subject,
                    cert.not_after.date(),
                    days_left
                ),
            };
            match self.notifier.send(&message).await {
                Ok(()) => sent += 1,
                Err(_) => {
                    self.store
                        .release_reminder(&cert.serial, &window_key)
                        .await?
                }
            }
        }
        Ok(sent)
    }
}
