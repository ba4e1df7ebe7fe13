//! Notifications of the application lifecycle (issue #8), through the
//! [`Notifier`](crate::ports::Notifier) port, always *after* the store committed
//! the change they announce:
//!
//! - **client data** on submission, as the service's "how to send client data"
//!   says: `email` sends the owner a message with the application's number, the
//!   service, the point and how to follow it; `sms` and `print` are not e-mail
//!   channels (nothing is sent: SMS has no adapter, the agent prints), `none`
//!   sends nothing. No password or PIN is ever part of it.
//! - **status changes**: every transition recorded in history (submission
//!   included, except the transient `issuing`) is sent to the certificate owner's
//!   e-mail and to every employee with notifications on ("Отправлять
//!   уведомления") whose referral or visibility covers the application's point.
//!   The message names the old and new status and the reason; never a secret.
//! - **device PINs**: [`Engine::mail_device_pin`] sends a random user PIN to the
//!   user or the manager when the device policy says so — the only message that
//!   may carry a secret.
//!
//! Delivery is best effort: a failed send does not undo the committed change (the
//! application and its history are the record); the count of messages sent is
//! returned for callers that care.

use zeroize::Zeroize;

use super::Engine;
use crate::domain::access::{PointPlace, links_cover};
use crate::domain::application::{Application, HistoryEntry};
use crate::domain::catalog::CredentialsDelivery;
use crate::domain::devices::PinDelivery;
use crate::domain::identifiers::Email;
use crate::domain::lifecycle::ApplicationStatus;
use crate::domain::secret::Secret;
use crate::error::{Error, Result};
use crate::ports::Notification;

/// Page size when scanning employees for notification recipients.
const EMPLOYEE_PAGE: u32 = 200;

impl Engine {
    /// Sends the client data (as the service says) and the submission's status
    /// notice. Call after the application was stored.
    pub(crate) async fn announce_submission(
        &self,
        app: &Application,
        entry: &HistoryEntry,
    ) -> usize {
        let mut sent = 0;
        if let Ok(service) = self.service(app.service_id).await
            && service.credentials_delivery == CredentialsDelivery::Email
        {
            let point = self
                .point(app.point_id)
                .await
                .map(|p| p.name)
                .unwrap_or_default();
            let message = Notification {
                to: app.owner.email.clone(),
                subject: format!("Заявка {} принята", app.id),
                body: format!(
                    "Здравствуйте, {}.\n\nВаша заявка на сертификат принята.\n\
                     Номер заявки: {}\nУслуга: {}\nТочка выдачи: {}\nСтатус: {}\n\n\
                     Следите за заявкой в личном кабинете по её номеру.\n",
                    app.owner.full_name(),
                    app.id,
                    service.name,
                    point,
                    app.status,
                ),
            };
            if self.notifier.send(&message).await.is_ok() {
                sent += 1;
            }
        }
        sent + self.announce_transition(app, entry).await
    }

    /// Sends the notice of a committed transition to the owner and to the
    /// employees with notifications on who see the application's point. Returns
    /// the number of messages delivered.
    pub(crate) async fn announce_transition(
        &self,
        app: &Application,
        entry: &HistoryEntry,
    ) -> usize {
        if !self.status_notices
            || entry.to == ApplicationStatus::Issuing
            || entry.from == entry.to && entry.from != ApplicationStatus::Draft
        {
            return 0;
        }
        let mut recipients: Vec<Email> = vec![app.owner.email.clone()];
        recipients.extend(self.notified_employees(app).await);
        recipients.sort();
        recipients.dedup();
        let reason = entry
            .reason
            .as_deref()
            .map(|r| format!("\nПричина: {r}"))
            .unwrap_or_default();
        let mut sent = 0;
        for to in recipients {
            let message = Notification {
                to,
                subject: format!("Заявка {}: {}", app.id, entry.to),
                body: format!(
                    "Статус заявки {} изменён: {} → {}.{}\nВладелец сертификата: {}\nВремя: {}\n",
                    app.id,
                    entry.from,
                    entry.to,
                    reason,
                    app.owner.full_name(),
                    entry.at,
                ),
            };
            if self.notifier.send(&message).await.is_ok() {
                sent += 1;
            }
        }
        sent
    }

    /// E-mails of the employees with notifications on whose referral or
    /// visibility covers the application's point.
    async fn notified_employees(&self, app: &Application) -> Vec<Email> {
        let Ok(point) = self.point(app.point_id).await else {
            return Vec::new();
        };
        let place = PointPlace::of(&point);
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let Ok(page) = self.store.list_employees(after, EMPLOYEE_PAGE).await else {
                break;
            };
            let full = page.len() == EMPLOYEE_PAGE as usize;
            after = page.last().map(|e| e.id);
            out.extend(
                page.into_iter()
                    .filter(|e| {
                        e.notify
                            && (links_cover(&[e.referral], place)
                                || links_cover(&e.visibility, place))
                    })
                    .map(|e| e.email),
            );
            if !full {
                break;
            }
        }
        out
    }

    /// Delivers a random user PIN as the device policy says: nothing for
    /// [`PinDelivery::ShowOnce`] (the caller shows it once), an e-mail to `user`
    /// for [`PinDelivery::ShowAndMailUser`], to `manager` for
    /// [`PinDelivery::ShowAndMailManager`]. The message body is zeroised after
    /// sending. Returns whether a message was sent.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `manager_email` when the policy mails the manager
    /// and there is none; [`Error::Notify`] when the message was not delivered
    /// (the user could not learn the PIN otherwise).
    pub async fn mail_device_pin(
        &self,
        delivery: PinDelivery,
        user: &Email,
        manager: Option<&Email>,
        device: &str,
        pin: &Secret,
    ) -> Result<bool> {
        let to = match delivery {
            PinDelivery::ShowOnce => return Ok(false),
            PinDelivery::ShowAndMailUser => user.clone(),
            PinDelivery::ShowAndMailManager => manager.cloned().ok_or_else(|| {
                Error::invalid(
                    "manager_email",
                    "the policy mails the PIN to a manager, and there is none",
                )
            })?,
        };
        let mut message = Notification {
            to,
            subject: format!("PIN-код устройства {device}"),
            body: format!(
                "PIN-код пользователя устройства {device} ({user}): {}\n\
                 Смените его при первом использовании и никому не сообщайте.\n",
                pin.expose()
            ),
        };
        let result = self.notifier.send(&message).await;
        message.body.zeroize();
        result?;
        Ok(true)
    }
}
