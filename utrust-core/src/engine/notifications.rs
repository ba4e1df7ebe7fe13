//! Notifications of the application lifecycle (issue #8), through the
//! [`Notifier`](crate::ports::Notifier) port, always *after* the store committed
//! the change they announce:
//!
//! - **client data** (authorization data of the applicant) on submission, as the
//!   service's "how to send client data" says. With `email`, an application made
//!   by staff gets an applicant account (login = the owner's e-mail; an existing
//!   account with that login is reused): it is created *locked* with the
//!   application, and after the commit a random password is set and mailed to the
//!   owner with the application's number — the one status-independent message that
//!   carries a password, because the rule says so. A reused account keeps its
//!   password (the message names the login only), as does an applicant who
//!   submitted for themselves. `sms` and `print` are not e-mail channels (no SMS
//!   adapter; the agent prints) and `none` sends nothing: no account is made.
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

use argon2::password_hash::PasswordHasher;
use zeroize::Zeroize;

use super::Engine;
use crate::domain::access::{PointPlace, links_cover};
use crate::domain::agents::UserAccount;
use crate::domain::application::{Actor, Application, CertificateOwner, HistoryEntry};
use crate::domain::catalog::{CredentialsDelivery, Service};
use crate::domain::devices::PinDelivery;
use crate::domain::identifiers::Email;
use crate::domain::ids::UserId;
use crate::domain::lifecycle::ApplicationStatus;
use crate::domain::secret::Secret;
use crate::error::{Error, Result};
use crate::ports::{Notification, StoreError};

/// Page size when scanning employees for notification recipients.
const EMPLOYEE_PAGE: u32 = 200;

/// The password hash of an applicant account made with an application, until
/// the password is mailed: not a PHC string, so no password verifies against it.
const LOCKED: &str = "!locked-until-mailed";

/// Length of generated applicant passwords.
const PASSWORD_LEN: usize = 12;

/// Unambiguous characters of generated passwords (no 0/O, 1/l/I).
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

impl Engine {
    /// The applicant account an application made by staff is linked to when the
    /// service mails client data: the account whose login is the owner's e-mail,
    /// or a new locked one. `None` for other services and for applicants who
    /// submit themselves (their own account is linked).
    ///
    /// # Errors
    /// Storage errors.
    pub(crate) async fn client_account_for(
        &self,
        service: &Service,
        owner: &CertificateOwner,
        actor: &Actor,
    ) -> Result<Option<UserId>> {
        if service.credentials_delivery != CredentialsDelivery::Email
            || matches!(actor, Actor::User(_))
        {
            return Ok(None);
        }
        let login = owner.email.as_str();
        if let Some(existing) = self.store.user_by_username(login).await? {
            return Ok(Some(existing.id));
        }
        let user = UserAccount {
            id: UserId::from_random_bytes(self.random_bytes()),
            username: login.to_owned(),
            password_hash: LOCKED.to_owned(),
            active: true,
            staff: false,
            superuser: false,
            groups: Vec::new(),
            permissions: Vec::new(),
        };
        match self.store.insert_user(&user).await {
            Ok(()) => Ok(Some(user.id)),
            // Made concurrently by another submission: use that one.
            Err(StoreError::Duplicate { .. }) => {
                Ok(self.store.user_by_username(login).await?.map(|u| u.id))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A random password from the OS-backed `Random` port (unbiased).
    fn new_password(&self) -> Secret {
        let mut out = String::with_capacity(PASSWORD_LEN);
        let limit = 256 - 256 % PASSWORD_ALPHABET.len();
        while out.len() < PASSWORD_LEN {
            let mut bytes: [u8; 32] = self.random_bytes();
            for b in bytes.iter().map(|b| usize::from(*b)) {
                if b < limit && out.len() < PASSWORD_LEN {
                    out.push(char::from(PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.len()]));
                }
            }
            bytes.zeroize();
        }
        Secret::new(out)
    }

    /// For a locked applicant account made with the application: a new password,
    /// stored as an argon2id hash. `None` when the account already had one.
    async fn unlock_client_account(&self, user: UserId) -> Result<Option<(String, Secret)>> {
        let Some(mut account) = self.store.user(user).await? else {
            return Ok(None);
        };
        if account.password_hash != LOCKED {
            return Ok(None);
        }
        let password = self.new_password();
        let salt: [u8; 16] = self.random_bytes();
        account.password_hash = argon2::Argon2::default()
            .hash_password_with_salt(password.expose().as_bytes(), &salt)
            .map_err(|e| Error::Storage(format!("argon2: {e}")))?
            .to_string();
        self.store.update_user(&account).await?;
        Ok(Some((account.username, password)))
    }

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
            let login = match app.user {
                Some(u) => self.unlock_client_account(u).await.unwrap_or(None),
                None => None,
            };
            let mut access = match &login {
                Some((username, password)) => format!(
                    "Учётная запись для входа в личный кабинет:\nЛогин: {username}\nПароль: {}\n\
                     Смените пароль после первого входа.\n",
                    password.expose()
                ),
                None => "Войдите в личный кабинет под своей учётной записью.\n".to_owned(),
            };
            let mut message = Notification {
                to: app.owner.email.clone(),
                subject: format!("Заявка {} принята", app.id),
                body: format!(
                    "Здравствуйте, {}.\n\nВаша заявка на сертификат принята.\n\
                     Номер заявки: {}\nУслуга: {}\nТочка выдачи: {}\nСтатус: {}\n\n{access}",
                    app.owner.full_name(),
                    app.id,
                    service.name,
                    point,
                    app.status,
                ),
            };
            let delivered = self.notifier.send(&message).await.is_ok();
            message.body.zeroize();
            access.zeroize();
            if delivered {
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
