//! Hardware-token self-service (issue #6, seed 000): device policy, secret
//! questions, two-stage issuance onto a token, loss and end of life, the
//! crypto-means journal.
//!
//! ```text
//! issue_device ─► policy (user, else group) ─► PolicyViolation?
//!              ─► PINs (typed, else the type's defaults; random user PIN)
//!              ─► application built (owner from the directory profile + edits), not stored
//!              ─► TokenProvider::prepare (init/login, key on token, CSR) ── error: nothing stored
//!              ─► application stored, device Pending (+ journal "received")
//!              ─► advance:
//!                   AwaitingCsr (checks done) ─► attach_csr
//!                   ReadyToIssue ─► issue ─► write_certificate ─► device Issued (+ journal "issued")
//!                   AwaitingApproval / ChecksPending … ─► "awaiting decision" (device stays Pending)
//!                   Rejected / Cancelled ─► device back to Registered, IssuanceRefused
//! continue_device_issuance ─► advance (same steps, the user gives the PIN again)
//! report_device (lost | broken) ─► revoke (keyCompromise / cessationOfOperation) or suspend
//! withdraw_device / destroy_device ─► journal "withdrawn" / "destroyed" with the document
//! ```
//!
//! PINs and answers are [`Secret`]s: never stored, never logged; a generated
//! user PIN is returned once in [`DeviceIssueOutcome::user_pin`]. Secret answers
//! are stored as argon2id hashes of their normalised form (salt from the
//! [`Random`](crate::ports::Random) port).

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use super::Engine;
use crate::domain::application::{Account, Actor, Address, Application};
use crate::domain::certificate::SerialNumber;
use crate::domain::devices::{
    AccountingDocument, AreaPins, Device, DeviceEvent, DevicePolicy, DeviceStatus, DeviceType,
    IssueIntent, JournalEntry, JournalKind, PinDelivery, PolicyAssignment, PolicyTarget,
    PolicyViolation, SecretAnswer, assigned_policy, check_secret_questions, normalize_answer,
    random_pin, resolve_pins,
};
use crate::domain::hex;
use crate::domain::identifiers::Email;
use crate::domain::ids::{ApplicationId, DeviceId, UserId};
use crate::domain::lifecycle::ApplicationStatus;
use crate::domain::profile::{OwnerEdits, UserProfile, owner_from_profile};
use crate::domain::revocation::{CertificateStatus, RevocationReason};
use crate::domain::secret::Secret;
use crate::engine::NewApplication;
use crate::error::{Error, Result};
use crate::ports::{PrepareToken, TokenError, TokenInitialization, TokenProvider};

/// Longest token label PKCS#11 stores (`CK_TOKEN_INFO.label`, 32 bytes).
const LABEL_BYTES: usize = 32;

/// A self-service issuance as the user asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIssueRequest {
    /// Serial number or label of the connected token.
    pub token: String,
    /// Name of the [`DeviceType`].
    pub device_type: String,
    /// Name of the template (from the policy) to write.
    pub template: String,
    /// Name (label) for the device; default: the owner's name.
    pub name: Option<String>,
    /// PINs per area (empty: the device type's defaults).
    pub pins: Vec<AreaPins>,
    /// The authorising document (crypto-means accounting).
    pub document: Option<AccountingDocument>,
    /// Corrections of the owner data prefilled from the directory.
    pub owner: OwnerEdits,
}

/// Where an issuance stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceIssueStage {
    /// The certificate is on the token.
    Issued {
        /// Its serial.
        certificate: SerialNumber,
    },
    /// Waiting for the CA operator (or the SMEV checks): continue later.
    AwaitingDecision {
        /// The application.
        application: ApplicationId,
        /// Its status.
        status: ApplicationStatus,
    },
}

/// The result of [`Engine::issue_device`] and [`Engine::continue_device_issuance`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIssueOutcome {
    /// The device record as stored.
    pub device: Device,
    /// Issued, or awaiting a decision.
    pub stage: DeviceIssueStage,
    /// The generated user PIN, shown once (never stored).
    pub user_pin: Option<Secret>,
    /// Who else should learn the generated PIN.
    pub pin_delivery: Option<PinDelivery>,
    /// Where the generated PIN was mailed (the user or their manager, as the
    /// policy says), if it was.
    pub pin_sent_to: Option<Email>,
}

/// What happened to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceReport {
    /// Lost: its certificates are revoked with keyCompromise.
    Lost,
    /// Broken: its certificates are revoked with cessationOfOperation.
    Broken,
}

/// A device received into accounting by an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterDevice {
    /// Name of the [`DeviceType`].
    pub device_type: String,
    /// Serial number.
    pub serial: String,
    /// Name (label).
    pub name: String,
    /// Model.
    pub model: String,
    /// The user it is meant for, if any.
    pub user_id: Option<UserId>,
    /// The receipt document (journal "received").
    pub document: AccountingDocument,
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn no_tokens() -> Error {
    Error::Token(TokenError::Unsupported(
        "no token provider is configured".into(),
    ))
}

impl Engine {
    fn token_provider(&self) -> Result<Arc<dyn TokenProvider>> {
        self.tokens.clone().ok_or_else(no_tokens)
    }

    // -----------------------------------------------------------------------
    // Administration: device types, policies, assignments, profiles.

    /// Adds or replaces a device type (the built-in ones may be replaced).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field.
    pub async fn put_device_type(&self, device_type: DeviceType) -> Result<DeviceType> {
        device_type.validate()?;
        self.store.put_device_type(&device_type).await?;
        Ok(device_type)
    }

    /// A device type: the stored one, else the built-in one of that name.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn device_type(&self, name: &str) -> Result<DeviceType> {
        if let Some(t) = self.store.device_type(name).await? {
            return Ok(t);
        }
        DeviceType::builtin()
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::NotFound {
                entity: "device type",
                id: name.to_owned(),
            })
    }

    /// Every device type: the stored ones and the built-in ones not replaced,
    /// by name.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn device_types(&self) -> Result<Vec<DeviceType>> {
        let mut all = self.store.device_types().await?;
        for b in DeviceType::builtin() {
            if !all.iter().any(|t| t.name == b.name) {
                all.push(b);
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// Adds or replaces a device policy (by name). Its templates' services and
    /// its point must exist.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field.
    pub async fn put_device_policy(&self, policy: DevicePolicy) -> Result<DevicePolicy> {
        policy.validate()?;
        for (i, t) in policy.templates.iter().enumerate() {
            let Some(service) = self.store.service(t.service_id).await? else {
                return Err(Error::invalid(
                    format!("templates[{i}].service_id"),
                    "no such service",
                ));
            };
            if t.qualified && policy.smev_for_qualified && service.smev_checks.is_empty() {
                return Err(Error::invalid(
                    format!("templates[{i}].service_id"),
                    "the policy checks qualified templates in SMEV, and this service runs no SMEV check",
                ));
            }
        }
        match policy.point_id {
            Some(p) if self.store.point(p).await?.is_none() => {
                return Err(Error::invalid("point_id", "no such point"));
            }
            Some(_) => {}
            None if policy.self_issue_allowed && !policy.templates.is_empty() => {
                return Err(Error::invalid(
                    "point_id",
                    "self-issue needs the point at which applications are created",
                ));
            }
            None => {}
        }
        self.store.put_device_policy(&policy).await?;
        Ok(policy)
    }

    /// A device policy by name.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn device_policy(&self, name: &str) -> Result<DevicePolicy> {
        self.store
            .device_policy(name)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "device policy",
                id: name.to_owned(),
            })
    }

    /// Every device policy, by name.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn device_policies(&self) -> Result<Vec<DevicePolicy>> {
        Ok(self.store.device_policies().await?)
    }

    /// Assigns a policy to a user or group, or removes the assignment.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown policy or user.
    pub async fn assign_device_policy(
        &self,
        target: PolicyTarget,
        policy: Option<&str>,
    ) -> Result<()> {
        if let PolicyTarget::User(u) = &target {
            self.user(*u).await?;
        }
        if let PolicyTarget::Group(g) = &target
            && g.trim().is_empty()
        {
            return Err(Error::invalid("group", "must not be empty"));
        }
        Ok(self.store.assign_device_policy(&target, policy).await?)
    }

    /// Every policy assignment, users first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn device_policy_assignments(&self) -> Result<Vec<PolicyAssignment>> {
        Ok(self.store.device_policy_assignments().await?)
    }

    /// The policy that applies to a user: the user's own, else the first of
    /// their groups that has one, else none.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown user.
    pub async fn device_policy_for(&self, user: UserId) -> Result<Option<DevicePolicy>> {
        let account = self.user(user).await?;
        let assignments = self.store.device_policy_assignments().await?;
        match assigned_policy(&assignments, user, &account.groups) {
            Some(name) => Ok(self.store.device_policy(name).await?),
            None => Ok(None),
        }
    }

    /// Stores a user's directory profile.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown user.
    pub async fn put_user_profile(&self, profile: UserProfile) -> Result<UserProfile> {
        self.user(profile.user_id).await?;
        self.store.put_user_profile(&profile).await?;
        Ok(profile)
    }

    /// A user's directory profile (empty when none is stored).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn user_profile(&self, user: UserId) -> Result<UserProfile> {
        Ok(self
            .store
            .user_profile(user)
            .await?
            .unwrap_or_else(|| UserProfile::empty(user)))
    }

    /// Receives a device into accounting (journal "received" with its
    /// document); it can then be issued in self-service without an admin PIN
    /// being typed.
    ///
    /// # Errors
    /// [`Error::Invalid`] (`serial`, `device_type`, `document.number`),
    /// [`Error::Duplicate`] for a serial of a live device.
    pub async fn register_device(&self, reg: RegisterDevice, actor: Actor) -> Result<Device> {
        if reg.serial.trim().is_empty() {
            return Err(Error::invalid("serial", "must not be empty"));
        }
        let device_type = self
            .device_type(&reg.device_type)
            .await
            .map_err(|_| Error::invalid("device_type", "no such device type"))?;
        if let Some(u) = reg.user_id {
            self.user(u).await?;
        }
        let now = self.clock.now();
        let device = Device {
            id: DeviceId::from_random_bytes(self.random_bytes()),
            version: 1,
            user_id: reg.user_id,
            device_type: device_type.name,
            serial: reg.serial.trim().to_owned(),
            name: reg.name,
            model: reg.model,
            status: DeviceStatus::Registered,
            template: None,
            application_id: None,
            key_id: None,
            csr_der: None,
            document: None,
            certificates: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        let entry = JournalEntry {
            kind: JournalKind::Received,
            document: reg.document,
            actor,
            at: now,
            note: String::new(),
        };
        self.store.insert_device(&device, Some(&entry)).await?;
        Ok(device)
    }

    /// A device.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn device(&self, id: DeviceId) -> Result<Device> {
        self.store.device(id).await?.ok_or_else(|| Error::NotFound {
            entity: "device",
            id: id.to_string(),
        })
    }

    /// A device of `user` (another user's device is "not found").
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn device_of(&self, user: UserId, id: DeviceId) -> Result<Device> {
        let device = self.device(id).await?;
        if device.user_id == Some(user) {
            Ok(device)
        } else {
            Err(Error::NotFound {
                entity: "device",
                id: id.to_string(),
            })
        }
    }

    /// Devices ordered by id after the cursor.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list_devices(&self, after: Option<DeviceId>, limit: u32) -> Result<Vec<Device>> {
        Ok(self.store.list_devices(after, limit).await?)
    }

    /// A device's crypto-means journal, oldest first.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn device_journal(&self, id: DeviceId) -> Result<Vec<JournalEntry>> {
        self.device(id).await?;
        Ok(self.store.device_journal(id).await?)
    }

    /// The user's devices (type, serial, name, status …), oldest first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn devices_of(&self, user: UserId) -> Result<Vec<Device>> {
        Ok(self.store.devices_of_user(user).await?)
    }

    // -----------------------------------------------------------------------
    // Secret questions.

    /// Sets (or changes) the user's secret questions: exactly as many as the
    /// user's device policy asks for; answers are stored only as argon2id
    /// hashes of their normalised form, all replaced at once.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `questions` (count, no policy) or
    /// `questions[i].question` / `questions[i].answer`.
    pub async fn set_secret_questions(
        &self,
        user: UserId,
        pairs: Vec<(String, Secret)>,
    ) -> Result<()> {
        let policy = self
            .device_policy_for(user)
            .await?
            .ok_or_else(|| Error::invalid("questions", "no device policy applies to the user"))?;
        check_secret_questions(&pairs, policy.secret_questions)?;
        let mut answers = Vec::with_capacity(pairs.len());
        for (question, answer) in &pairs {
            let salt: [u8; 16] = self.random_bytes();
            let normalized = normalize_answer(answer);
            let hash = argon2::Argon2::default()
                .hash_password_with_salt(normalized.expose().as_bytes(), &salt)
                .map_err(|e| Error::Storage(format!("argon2: {e}")))?;
            answers.push(SecretAnswer {
                question: question.trim().to_owned(),
                answer_hash: hash.to_string(),
            });
        }
        self.store.set_secret_answers(user, &answers).await?;
        Ok(())
    }

    /// The user's secret questions (the text only), in order.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn secret_questions(&self, user: UserId) -> Result<Vec<String>> {
        Ok(self
            .store
            .secret_answers(user)
            .await?
            .into_iter()
            .map(|a| a.question)
            .collect())
    }

    /// Whether `answers` (in the order of the questions) all match the stored
    /// hashes. `false` when the count differs or nothing is set.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn verify_secret_answers(&self, user: UserId, answers: &[Secret]) -> Result<bool> {
        let stored = self.store.secret_answers(user).await?;
        if stored.is_empty() || stored.len() != answers.len() {
            return Ok(false);
        }
        let mut all = true;
        for (s, a) in stored.iter().zip(answers) {
            let normalized = normalize_answer(a);
            let ok = PasswordHash::new(&s.answer_hash).is_ok_and(|h| {
                argon2::Argon2::default()
                    .verify_password(normalized.expose().as_bytes(), &h)
                    .is_ok()
            });
            all &= ok;
        }
        Ok(all)
    }

    // -----------------------------------------------------------------------
    // Self-service issuance.

    /// A random user PIN by the policy's rule, from the Random port.
    fn generate_pin(&self, rule: crate::domain::devices::RandomPin) -> Secret {
        loop {
            let mut bytes = [0u8; 96];
            self.random.fill(&mut bytes);
            let pin = random_pin(rule, &bytes);
            bytes.fill(0);
            if let Some(p) = pin {
                return Secret::new(p);
            }
        }
    }

    /// Issues a device to `user` in self-service (see the module
    /// documentation). On a policy, PIN, profile or token error nothing is
    /// stored and an existing device record is unchanged.
    ///
    /// # Errors
    /// [`Error::DevicePolicy`] naming what is missing; [`Error::Invalid`]
    /// (`device_type`, `pins…`, `owner.…`, `token`); [`Error::Token`]
    /// (wrong/locked PIN, missing/full token…); [`Error::IssuanceRefused`];
    /// errors of the application flow ([`Error::Quota`], [`Error::Ca`] …),
    /// after which the device stays `Pending` and the issuance may be continued.
    pub async fn issue_device(
        &self,
        user: UserId,
        req: DeviceIssueRequest,
    ) -> Result<DeviceIssueOutcome> {
        let tokens = self.token_provider()?;
        let policy = self
            .device_policy_for(user)
            .await?
            .ok_or(PolicyViolation::SelfIssueNotAllowed)?;
        let devices = self.store.devices_of_user(user).await?;
        let held =
            u32::try_from(devices.iter().filter(|d| d.is_held()).count()).unwrap_or(u32::MAX);
        let answers = u8::try_from(self.store.secret_answers(user).await?.len()).unwrap_or(u8::MAX);
        let mut intent = IssueIntent {
            devices_held: held,
            answers_set: answers,
            template: &req.template,
            document: req.document.as_ref(),
            user_pin_length: None,
            min_pin_length: 0,
        };
        let Some(template) = policy.template(&req.template) else {
            policy.check(&intent)?;
            return Err(PolicyViolation::TemplateNotOffered(req.template.clone()).into());
        };
        let device_type = self
            .device_type(&req.device_type)
            .await
            .map_err(|_| Error::invalid("device_type", "no such device type"))?;
        let service = self.service(template.service_id).await?;
        let area = device_type
            .area_for(service.key_algorithm)
            .ok_or_else(|| Error::invalid("device_type", "the device type has no PIN area"))?;
        intent.min_pin_length = area.min_user_pin_length;
        policy.check(&intent)?;

        let initialize = policy.initialize_on_issue;
        let generated = match (initialize, policy.random_user_pin) {
            (true, Some(rule)) => Some(self.generate_pin(rule)),
            _ => None,
        };
        let pins = resolve_pins(
            &device_type,
            service.key_algorithm,
            &req.pins,
            initialize,
            generated,
        )?;

        let profile = self.user_profile(user).await?;
        let owner = owner_from_profile(&profile, &req.owner, policy.smev_data_editable)?;
        let point_id = policy.point_id.ok_or_else(|| {
            Error::invalid("point_id", "the device policy names no issuing point")
        })?;
        let label = cut(
            req.name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .unwrap_or(&owner.full_name()),
            LABEL_BYTES,
        );
        let owner_email = owner.email.clone();
        let new = NewApplication {
            service_id: service.id,
            point_id,
            products: service.products.clone(),
            account: Account::Individual,
            owner,
            address: Address::default(),
            renewal_notice: false,
        };
        // A device known to the system must be free for this user — checked
        // before the token is touched (initialising wipes it), whether the
        // token is named by serial or by label.
        let wanted = req.token.trim();
        let present = tokens.tokens().await?;
        let mut serials: Vec<String> = match present.iter().find(|t| t.serial == wanted) {
            Some(t) => vec![t.serial.clone()],
            None => present
                .iter()
                .filter(|t| t.label.trim() == wanted)
                .map(|t| t.serial.clone())
                .collect(),
        };
        if serials.is_empty() {
            serials.push(wanted.to_owned());
        }
        let mut known = None;
        for serial in &serials {
            if let Some(d) = self.store.live_device_by_serial(serial).await? {
                Self::check_free(&d, user)?;
                known.get_or_insert(d);
            }
        }

        let actor = Actor::User(user);
        let (app, entry) = self.build_application(new, None, actor.clone()).await?;
        let request_template = self.template_of(&app).await?;

        // The token step: on any error nothing has been stored.
        let initializing = pins.admin_pin.is_some();
        let prepared = tokens
            .prepare(PrepareToken {
                token: req.token.trim().to_owned(),
                initialize: pins.admin_pin.clone().map(|so_pin| TokenInitialization {
                    so_pin,
                    label: label.clone(),
                }),
                user_pin: pins.user_pin.clone(),
                key_label: Some(label.clone()),
                template: request_template,
            })
            .await
            .map_err(|e| {
                // Initialising authenticates with the admin (SO) PIN and only
                // sets the user PIN; otherwise the user PIN logs in.
                let field = match e {
                    TokenError::PinIncorrect { .. } | TokenError::PinLocked if initializing => {
                        "admin_pin"
                    }
                    _ => "user_pin",
                };
                pin_error(e, field)
            })?;

        let known = match known {
            Some(d) if d.serial == prepared.serial => Some(d),
            _ => self.store.live_device_by_serial(&prepared.serial).await?,
        };
        if let Some(d) = &known {
            Self::check_free(d, user)?;
        }
        self.insert_built_application(&app, &entry).await?;
        let now = self.clock.now();
        let written: Result<Device> = async {
            Ok(match known {
                Some(mut d) => {
                    d.user_id = Some(user);
                    d.name = label;
                    d.model = prepared.model.clone();
                    d.device_type = device_type.name.clone();
                    d.template = Some(template.name.clone());
                    d.application_id = Some(app.id);
                    d.key_id = Some(hex::encode(&prepared.key_id));
                    d.csr_der = Some(prepared.csr_der.clone());
                    d.document = req.document.clone();
                    d.apply(DeviceEvent::RequestSent, now)?;
                    d.version += 1;
                    self.store.update_device(&d, None).await?;
                    d
                }
                None => {
                    let mut d = Device {
                        id: DeviceId::from_random_bytes(self.random_bytes()),
                        version: 1,
                        user_id: Some(user),
                        device_type: device_type.name.clone(),
                        serial: prepared.serial.clone(),
                        name: label,
                        model: prepared.model.clone(),
                        status: DeviceStatus::Registered,
                        template: Some(template.name.clone()),
                        application_id: Some(app.id),
                        key_id: Some(hex::encode(&prepared.key_id)),
                        csr_der: Some(prepared.csr_der.clone()),
                        document: req.document.clone(),
                        certificates: Vec::new(),
                        created_at: now,
                        updated_at: now,
                    };
                    d.apply(DeviceEvent::RequestSent, now)?;
                    let received = req.document.clone().map(|document| JournalEntry {
                        kind: JournalKind::Received,
                        document,
                        actor: actor.clone(),
                        at: now,
                        note: "received at self-service issuance".into(),
                    });
                    self.store.insert_device(&d, received.as_ref()).await?;
                    d
                }
            })
        }
        .await;
        let device = match written {
            Ok(d) => d,
            Err(e) => {
                // Nothing may point at a device that was not written: withdraw
                // the application (best effort; the error that matters is `e`).
                let _ = self
                    .cancel(
                        app.id,
                        Actor::System,
                        format!("the device record could not be written: {e}"),
                    )
                    .await;
                return Err(e);
            }
        };
        let (device, stage) = self.advance_device(device, &pins.user_pin, actor).await?;
        let (user_pin, pin_delivery, pin_sent_to) = if pins.generated {
            let delivery = policy.random_user_pin.map(|r| r.delivery);
            let to = match delivery {
                Some(PinDelivery::ShowAndMailUser) => Some(owner_email.clone()),
                Some(PinDelivery::ShowAndMailManager) => profile.manager_email.clone(),
                _ => None,
            };
            // Best effort: the PIN is shown to the user anyway, and the device
            // is issued; a failed or impossible delivery is `pin_sent_to: None`.
            let sent = match delivery {
                Some(d) => self
                    .mail_device_pin(
                        d,
                        &owner_email,
                        profile.manager_email.as_ref(),
                        &device.name,
                        &pins.user_pin,
                    )
                    .await
                    .ok()
                    .filter(|sent| *sent)
                    .and(to),
                None => None,
            };
            (Some(pins.user_pin), delivery, sent)
        } else {
            (None, None, None)
        };
        Ok(DeviceIssueOutcome {
            device,
            stage,
            user_pin,
            pin_delivery,
            pin_sent_to,
        })
    }

    /// Continues a two-stage issuance after the CA operator's decision: writes
    /// the certificate with the user PIN when the application is approved.
    ///
    /// # Errors
    /// [`Error::AwaitingDecision`] while there is no decision yet;
    /// [`Error::IssuanceRefused`] when the request was rejected or cancelled
    /// (the device is back to `Registered`); [`Error::Token`] (the device
    /// stays `Pending`); [`Error::DeviceTransition`] unless the device is
    /// `Pending`; [`Error::NotFound`] for another user's device.
    pub async fn continue_device_issuance(
        &self,
        user: UserId,
        id: DeviceId,
        user_pin: Secret,
    ) -> Result<DeviceIssueOutcome> {
        self.token_provider()?;
        let device = self.device_of(user, id).await?;
        if device.status != DeviceStatus::Pending {
            return Err(crate::domain::devices::DeviceTransitionError {
                from: device.status,
                event: DeviceEvent::IssuanceCompleted,
            }
            .into());
        }
        let (device, stage) = self
            .advance_device(device, &user_pin, Actor::User(user))
            .await?;
        match stage {
            DeviceIssueStage::AwaitingDecision {
                application,
                status,
            } => Err(Error::AwaitingDecision {
                application,
                status: status.as_str(),
            }),
            stage @ DeviceIssueStage::Issued { .. } => Ok(DeviceIssueOutcome {
                device,
                stage,
                user_pin: None,
                pin_delivery: None,
                pin_sent_to: None,
            }),
        }
    }

    /// A device may be issued to `user` only if it is registered and not
    /// meant for someone else.
    fn check_free(device: &Device, user: UserId) -> Result<()> {
        if device.status != DeviceStatus::Registered {
            return Err(Error::invalid(
                "token",
                format!("the device is {} already", device.status.as_str()),
            ));
        }
        if device.user_id.is_some_and(|u| u != user) {
            return Err(Error::invalid(
                "token",
                "the device is assigned to another user",
            ));
        }
        Ok(())
    }

    /// Moves a `Pending` device on as far as its application allows.
    async fn advance_device(
        &self,
        mut device: Device,
        user_pin: &Secret,
        actor: Actor,
    ) -> Result<(Device, DeviceIssueStage)> {
        let app_id = device.application_id.ok_or_else(|| {
            Error::Storage(format!("pending device {} has no application", device.id))
        })?;
        let tokens = self.token_provider()?;
        loop {
            let app: Application = self.load_application(app_id).await?;
            match app.status {
                ApplicationStatus::AwaitingCsr => {
                    let csr = device.csr_der.clone().ok_or_else(|| {
                        Error::Storage(format!("pending device {} lost its request", device.id))
                    })?;
                    self.attach_csr(app.id, &csr, actor.clone()).await?;
                }
                ApplicationStatus::ReadyToIssue => {
                    let record = self.issue(app.id, actor.clone()).await?;
                    if !device.certificates.contains(&record.serial) {
                        device.certificates.push(record.serial);
                        device.version += 1;
                        device.updated_at = self.clock.now();
                        self.store.update_device(&device, None).await?;
                    }
                }
                ApplicationStatus::Issued | ApplicationStatus::Completed => {
                    let record = self.certificate_of(app.id).await?;
                    let key_id =
                        device
                            .key_id
                            .as_deref()
                            .and_then(hex::decode)
                            .ok_or_else(|| {
                                Error::Storage(format!(
                                    "pending device {} has no key id",
                                    device.id
                                ))
                            })?;
                    tokens
                        .write_certificate(
                            &device.serial,
                            user_pin,
                            &key_id,
                            &record.der,
                            &device.name,
                        )
                        .await
                        .map_err(|e| pin_error(e, "user_pin"))?;
                    let now = self.clock.now();
                    if !device.certificates.contains(&record.serial) {
                        device.certificates.push(record.serial.clone());
                    }
                    device.csr_der = None;
                    device.apply(DeviceEvent::IssuanceCompleted, now)?;
                    device.version += 1;
                    let journal = self
                        .journal_entry(&device, JournalKind::Issued, device.document.clone(), actor)
                        .await?;
                    self.store.update_device(&device, journal.as_ref()).await?;
                    return Ok((
                        device,
                        DeviceIssueStage::Issued {
                            certificate: record.serial,
                        },
                    ));
                }
                ApplicationStatus::Rejected
                | ApplicationStatus::Cancelled
                | ApplicationStatus::Expired => {
                    device.apply(DeviceEvent::IssuanceCancelled, self.clock.now())?;
                    device.csr_der = None;
                    device.key_id = None;
                    device.version += 1;
                    self.store.update_device(&device, None).await?;
                    return Err(Error::IssuanceRefused {
                        application: app.id,
                        status: app.status.as_str(),
                    });
                }
                status => {
                    return Ok((
                        device,
                        DeviceIssueStage::AwaitingDecision {
                            application: app.id,
                            status,
                        },
                    ));
                }
            }
        }
    }

    /// The journal entry for `kind`, or `None` when the device is not under
    /// crypto-means accounting (no document, or an empty journal for anything
    /// but "received").
    async fn journal_entry(
        &self,
        device: &Device,
        kind: JournalKind,
        document: Option<AccountingDocument>,
        actor: Actor,
    ) -> Result<Option<JournalEntry>> {
        let Some(document) = document else {
            return Ok(None);
        };
        if kind != JournalKind::Received && self.store.device_journal(device.id).await?.is_empty() {
            return Ok(None);
        }
        let note = match (kind, device.user_id) {
            (JournalKind::Issued, Some(u)) => format!("issued to user {u}"),
            _ => String::new(),
        };
        Ok(Some(JournalEntry {
            kind,
            document,
            actor,
            at: self.clock.now(),
            note,
        }))
    }

    // -----------------------------------------------------------------------
    // Loss and end of life.

    /// Reports a device lost or broken: its valid certificates are revoked
    /// (keyCompromise for a lost device, cessationOfOperation for a broken
    /// one) or, with `suspend`, put on hold (certificateHold); then the device
    /// moves to `Lost` / `Broken`. A user may report only their own device
    /// (`actor` [`Actor::User`]).
    ///
    /// # Errors
    /// [`Error::DeviceTransition`] unless the device is `Issued` (nothing
    /// revoked then); [`Error::NotFound`]; certificate errors ([`Error::Ca`]).
    pub async fn report_device(
        &self,
        id: DeviceId,
        report: DeviceReport,
        suspend: bool,
        actor: Actor,
    ) -> Result<Device> {
        let mut device = match &actor {
            Actor::User(u) => self.device_of(*u, id).await?,
            _ => self.device(id).await?,
        };
        let event = match report {
            DeviceReport::Lost => DeviceEvent::ReportLost,
            DeviceReport::Broken => DeviceEvent::ReportBroken,
        };
        // Refuse a wrong status before touching any certificate.
        crate::domain::devices::device_transition(device.status, event)?;
        for serial in &device.certificates {
            let cert = self.certificate(serial).await?;
            match (cert.status, suspend) {
                (CertificateStatus::Valid, true) => {
                    self.suspend(serial, actor.clone()).await?;
                }
                (CertificateStatus::Valid | CertificateStatus::Suspended { .. }, false) => {
                    let reason = match report {
                        DeviceReport::Lost => RevocationReason::KeyCompromise,
                        DeviceReport::Broken => RevocationReason::CessationOfOperation,
                    };
                    self.revoke(serial, reason, actor.clone()).await?;
                }
                _ => {}
            }
        }
        device.apply(event, self.clock.now())?;
        device.version += 1;
        self.store.update_device(&device, None).await?;
        Ok(device)
    }

    /// Records that an issued device was installed (put into use) — the
    /// journal's "installed" entry with its document and a note (who, where,
    /// hardware numbers). The status stays `Issued`.
    ///
    /// # Errors
    /// [`Error::DeviceTransition`] unless the device is `Issued`;
    /// [`Error::Journal`] (order, missing number); [`Error::NotFound`].
    pub async fn record_installation(
        &self,
        id: DeviceId,
        document: AccountingDocument,
        note: String,
        actor: Actor,
    ) -> Result<Device> {
        let mut device = self.device(id).await?;
        if device.status != DeviceStatus::Issued {
            return Err(crate::domain::devices::DeviceTransitionError {
                from: device.status,
                event: DeviceEvent::IssuanceCompleted,
            }
            .into());
        }
        let now = self.clock.now();
        device.version += 1;
        device.updated_at = now;
        let entry = JournalEntry {
            kind: JournalKind::Installed,
            document,
            actor,
            at: now,
            note,
        };
        self.store.update_device(&device, Some(&entry)).await?;
        Ok(device)
    }

    /// Withdraws a device from use, recording the act in the journal.
    ///
    /// # Errors
    /// [`Error::DeviceTransition`]; [`Error::Journal`] (order, missing
    /// number); [`Error::NotFound`].
    pub async fn withdraw_device(
        &self,
        id: DeviceId,
        document: AccountingDocument,
        actor: Actor,
    ) -> Result<Device> {
        self.end_of_life(
            id,
            DeviceEvent::Withdraw,
            JournalKind::Withdrawn,
            document,
            actor,
        )
        .await
    }

    /// Records a device's destruction in the journal (terminal).
    ///
    /// # Errors
    /// As [`Engine::withdraw_device`].
    pub async fn destroy_device(
        &self,
        id: DeviceId,
        document: AccountingDocument,
        actor: Actor,
    ) -> Result<Device> {
        self.end_of_life(
            id,
            DeviceEvent::Destroy,
            JournalKind::Destroyed,
            document,
            actor,
        )
        .await
    }

    async fn end_of_life(
        &self,
        id: DeviceId,
        event: DeviceEvent,
        kind: JournalKind,
        document: AccountingDocument,
        actor: Actor,
    ) -> Result<Device> {
        if document.number.trim().is_empty() {
            return Err(crate::domain::devices::JournalError::DocumentNumberMissing.into());
        }
        let mut device = self.device(id).await?;
        device.apply(event, self.clock.now())?;
        device.version += 1;
        let journal = self
            .journal_entry(&device, kind, Some(document), actor)
            .await?;
        self.store.update_device(&device, journal.as_ref()).await?;
        Ok(device)
    }
}

/// A token error, with the request field named when a PIN was refused.
fn pin_error(error: TokenError, field: &'static str) -> Error {
    match error {
        TokenError::PinIncorrect { .. }
        | TokenError::PinLocked
        | TokenError::PinRejected { .. } => Error::TokenPin { field, error },
        other => Error::Token(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_cut_on_character_boundaries() {
        assert_eq!(cut("Иванов Иван Иванович токен", 32).len(), 32);
        assert_eq!(cut("aИванов Иван Иванович", 32), "aИванов Иван Иван");
        assert_eq!(cut("short", 32), "short");
    }
}
