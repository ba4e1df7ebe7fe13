//! Hardware tokens issued to users in self-service (seed 000, `tokens.md`): the
//! device usage policy, device statuses with their transition table, random
//! user-PIN generation, and the crypto-means journal (an append-only log per
//! device: received → issued → installed → withdrawn → destroyed, each event
//! with its authorising document).
//!
//! Pure rules only: the PKCS#11 work lives in `utrust-device`; PINs and answers
//! are never stored here (only the policy about them).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::application::Actor;
use super::catalog::KeyAlgorithm;
use super::certificate::SerialNumber;
use super::ids::{ApplicationId, DeviceId, PointId, ServiceId, UserId};
use super::secret::Secret;

/// Characters a random user PIN is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinAlphabet {
    /// `0-9` (what most tokens' keypads and users expect).
    Digits,
    /// `0-9A-Za-z`.
    Alphanumeric,
}

impl PinAlphabet {
    fn symbols(self) -> &'static [u8] {
        match self {
            Self::Digits => b"0123456789",
            Self::Alphanumeric => b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        }
    }
}

/// Who learns a generated user PIN besides the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinDelivery {
    /// Shown once to the user at the end of issuance.
    ShowOnce,
    /// Shown once and e-mailed to the user.
    ShowAndMailUser,
    /// Shown once and e-mailed to the user's manager.
    ShowAndMailManager,
}

/// The random user-PIN rule of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RandomPin {
    /// Length, 4..=31 and never below the device type's minimum.
    pub length: u8,
    /// Alphabet.
    pub alphabet: PinAlphabet,
    /// Who learns it.
    pub delivery: PinDelivery,
}

/// A certificate template a policy offers for writing onto devices: a name
/// the user picks, and the service (issuance scenario) whose application is
/// created for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceTemplate {
    /// Name shown to the user (unique within the policy).
    pub name: String,
    /// The service of the application created for it.
    pub service_id: ServiceId,
    /// A qualified certificate (SMEV checks of the owner's data apply when the
    /// policy says so).
    pub qualified: bool,
}

/// A device usage policy (per user or group; Rutoken KeyBox terms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePolicy {
    /// Name (unique; policies are assigned to users and groups by name).
    pub name: String,
    /// Users may issue devices to themselves in self-service.
    pub self_issue_allowed: bool,
    /// Most devices a user may hold (default 1).
    pub max_devices_per_user: u32,
    /// Number of secret questions.
    pub secret_questions: u8,
    /// Answers must be set before issuing.
    pub secret_questions_required: bool,
    /// Initialise (wipe) the device on issue.
    pub initialize_on_issue: bool,
    /// Generate the user PIN (otherwise the user gives it or the type's default
    /// applies).
    pub random_user_pin: Option<RandomPin>,
    /// Certificate templates the user may choose.
    pub templates: Vec<DeviceTemplate>,
    /// The issuing point at which self-service applications are created.
    pub point_id: Option<PointId>,
    /// Check the user's data in SMEV for qualified templates.
    pub smev_for_qualified: bool,
    /// The user may edit the data prefilled from the directory in the SMEV form
    /// (otherwise only missing fields).
    pub smev_data_editable: bool,
    /// Crypto-means accounting: issuing needs an authorising document.
    pub crypto_accounting: bool,
}

impl Default for DevicePolicy {
    fn default() -> Self {
        Self {
            name: String::new(),
            self_issue_allowed: false,
            max_devices_per_user: 1,
            secret_questions: 0,
            secret_questions_required: false,
            initialize_on_issue: true,
            random_user_pin: None,
            templates: Vec::new(),
            point_id: None,
            smev_for_qualified: false,
            smev_data_editable: false,
            crypto_accounting: false,
        }
    }
}

/// The document that authorises a crypto-means operation (number and date).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountingDocument {
    /// Document number.
    pub number: String,
    /// Document date.
    pub date: Date,
}

/// What a self-service issuance brings, to be checked against the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueIntent<'a> {
    /// Devices the user already holds (not lost, broken or destroyed).
    pub devices_held: u32,
    /// Secret questions the user has answered.
    pub answers_set: u8,
    /// The template chosen.
    pub template: &'a str,
    /// The authorising document, if given.
    pub document: Option<&'a AccountingDocument>,
    /// Length of a user PIN the user typed (when not generated), if any.
    pub user_pin_length: Option<usize>,
    /// The device type's minimum user-PIN length.
    pub min_pin_length: u8,
}

/// Why the policy refuses an issuance; each names what is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// Self-issue is not allowed for this user.
    #[error("self-service issuance is not allowed by the device policy")]
    SelfIssueNotAllowed,
    /// The user holds the maximum number of devices.
    #[error("the device policy allows {max} device(s) per user")]
    TooManyDevices {
        /// The maximum.
        max: u32,
    },
    /// Secret questions must be answered first.
    #[error("answer the {required} secret question(s) first")]
    SecretQuestionsMissing {
        /// How many are required.
        required: u8,
    },
    /// The template is not offered by the policy.
    #[error("template {0} is not offered by the device policy")]
    TemplateNotOffered(String),
    /// Crypto-means accounting needs the document number and date.
    #[error("crypto-means accounting: the document number and date are required")]
    DocumentRequired,
    /// The user PIN is shorter than the device allows.
    #[error("the user PIN needs at least {min} characters")]
    PinTooShort {
        /// The minimum.
        min: u8,
    },
    /// The policy's random-PIN length is outside 4..=31 or below the device minimum.
    #[error("the policy's random PIN length {length} is not allowed (4..=31, at least {min})")]
    BadRandomPinRule {
        /// The configured length.
        length: u8,
        /// The device type's minimum.
        min: u8,
    },
}

impl DevicePolicy {
    /// Checks an issuance against the policy.
    ///
    /// # Errors
    /// The first [`PolicyViolation`].
    pub fn check(&self, intent: &IssueIntent<'_>) -> Result<(), PolicyViolation> {
        if !self.self_issue_allowed {
            return Err(PolicyViolation::SelfIssueNotAllowed);
        }
        if intent.devices_held >= self.max_devices_per_user {
            return Err(PolicyViolation::TooManyDevices {
                max: self.max_devices_per_user,
            });
        }
        if self.secret_questions_required && intent.answers_set < self.secret_questions {
            return Err(PolicyViolation::SecretQuestionsMissing {
                required: self.secret_questions,
            });
        }
        if !self.templates.iter().any(|t| t.name == intent.template) {
            return Err(PolicyViolation::TemplateNotOffered(
                intent.template.to_owned(),
            ));
        }
        if self.crypto_accounting && intent.document.is_none_or(|d| d.number.trim().is_empty()) {
            return Err(PolicyViolation::DocumentRequired);
        }
        match self.random_user_pin {
            Some(rule) => {
                if !(4..=31).contains(&rule.length) || rule.length < intent.min_pin_length {
                    return Err(PolicyViolation::BadRandomPinRule {
                        length: rule.length,
                        min: intent.min_pin_length,
                    });
                }
            }
            None => {
                if let Some(len) = intent.user_pin_length
                    && len < usize::from(intent.min_pin_length)
                {
                    return Err(PolicyViolation::PinTooShort {
                        min: intent.min_pin_length,
                    });
                }
            }
        }
        Ok(())
    }
}

/// A random PIN of `rule.length` symbols, drawn without bias from `random`
/// bytes (rejection sampling; the caller supplies the OS generator). Returns
/// `None` when `random` runs out before the PIN is complete (ask for more).
pub fn random_pin(rule: RandomPin, random: &[u8]) -> Option<String> {
    let symbols = rule.alphabet.symbols();
    let n = symbols.len();
    // The largest multiple of n below 256: bytes at or above it are rejected.
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(usize::from(rule.length));
    for &b in random {
        if out.len() == usize::from(rule.length) {
            break;
        }
        if usize::from(b) < limit {
            out.push(char::from(symbols[usize::from(b) % n]));
        }
    }
    (out.len() == usize::from(rule.length)).then_some(out)
}

/// Status of a device record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Known to the system, not issued.
    Registered,
    /// Issuance waits for the CA operator's decision (two-stage issuance).
    Pending,
    /// Issued to its user.
    Issued,
    /// Reported lost (its certificates are revoked; it is then written off
    /// with a withdrawal).
    Lost,
    /// Reported broken.
    Broken,
    /// Withdrawn from use.
    Withdrawn,
    /// Destroyed (terminal).
    Destroyed,
}

/// Something that happens to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceEvent {
    /// The request was sent; the CA must approve.
    RequestSent,
    /// Issuance finished (certificate written).
    IssuanceCompleted,
    /// The user or an operator reports it lost.
    ReportLost,
    /// Reported broken.
    ReportBroken,
    /// Withdrawn from the user.
    Withdraw,
    /// Destroyed.
    Destroy,
    /// Issuance abandoned or refused: back to registered.
    IssuanceCancelled,
}

/// A refused device transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event {event:?} is not allowed for a device in status {from:?}")]
pub struct DeviceTransitionError {
    /// Status the device is in.
    pub from: DeviceStatus,
    /// The event refused.
    pub event: DeviceEvent,
}

/// The device transition table.
///
/// # Errors
/// [`DeviceTransitionError`] for every pair not listed.
pub fn device_transition(
    from: DeviceStatus,
    event: DeviceEvent,
) -> Result<DeviceStatus, DeviceTransitionError> {
    use DeviceEvent as E;
    use DeviceStatus as S;
    Ok(match (from, event) {
        (S::Registered, E::RequestSent) => S::Pending,
        (S::Registered | S::Pending, E::IssuanceCompleted) => S::Issued,
        (S::Pending, E::IssuanceCancelled) => S::Registered,
        (S::Issued, E::ReportLost) => S::Lost,
        (S::Issued, E::ReportBroken) => S::Broken,
        (S::Registered | S::Issued | S::Lost | S::Broken, E::Withdraw) => S::Withdrawn,
        (S::Withdrawn | S::Broken | S::Registered, E::Destroy) => S::Destroyed,
        _ => return Err(DeviceTransitionError { from, event }),
    })
}

/// Kinds of crypto-means journal events, in their only possible order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalKind {
    /// Received (from the maker or a supplier).
    Received,
    /// Issued to a user.
    Issued,
    /// Installed (put into use).
    Installed,
    /// Withdrawn from use.
    Withdrawn,
    /// Destroyed.
    Destroyed,
}

/// One entry of a device's crypto-means journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// What happened.
    pub kind: JournalKind,
    /// The authorising document.
    pub document: AccountingDocument,
    /// Who recorded it.
    pub actor: Actor,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Free note (e.g. the user it was issued to, the act number).
    pub note: String,
}

/// Why a journal entry cannot be appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The event is out of order (e.g. installed before issued).
    #[error("{next:?} cannot follow {last:?} in the crypto-means journal")]
    OutOfOrder {
        /// The last entry's kind (`None`: empty journal).
        last: Option<JournalKind>,
        /// The kind refused.
        next: JournalKind,
    },
    /// The document number is empty.
    #[error("the document number is required")]
    DocumentNumberMissing,
}

/// Checks that `next` may be appended after the journal's `last` entry:
/// received first; issued after received; installed after issued; withdrawn
/// after issued or installed; destroyed after received (never issued) or
/// withdrawn; nothing after destroyed.
///
/// # Errors
/// [`JournalError`].
pub fn journal_append(last: Option<JournalKind>, next: &JournalEntry) -> Result<(), JournalError> {
    use JournalKind as K;
    if next.document.number.trim().is_empty() {
        return Err(JournalError::DocumentNumberMissing);
    }
    let ok = matches!(
        (last, next.kind),
        (None, K::Received)
            | (Some(K::Received), K::Issued | K::Destroyed)
            | (Some(K::Issued), K::Installed | K::Withdrawn)
            | (Some(K::Installed), K::Withdrawn)
            | (Some(K::Withdrawn), K::Destroyed)
    );
    if ok {
        Ok(())
    } else {
        Err(JournalError::OutOfOrder {
            last,
            next: next.kind,
        })
    }
}

impl DevicePolicy {
    /// The offered template named `name`.
    pub fn template(&self, name: &str) -> Option<&DeviceTemplate> {
        self.templates.iter().find(|t| t.name == name)
    }

    /// Checks the policy's own configuration.
    ///
    /// # Errors
    /// [`DeviceConfigError`] naming the field: an empty name, a template name
    /// that is empty or repeated, a random-PIN length outside 4..=31, more than
    /// 16 secret questions, no devices allowed while self-issue is on.
    pub fn validate(&self) -> Result<(), DeviceConfigError> {
        if self.name.trim().is_empty() {
            return Err(DeviceConfigError::new("name", "must not be empty"));
        }
        for (i, t) in self.templates.iter().enumerate() {
            if t.name.trim().is_empty() {
                return Err(DeviceConfigError::new(
                    format!("templates[{i}].name"),
                    "must not be empty",
                ));
            }
            if self.templates[..i].iter().any(|o| o.name == t.name) {
                return Err(DeviceConfigError::new(
                    format!("templates[{i}].name"),
                    format!("template {} is listed twice", t.name),
                ));
            }
        }
        if let Some(rule) = self.random_user_pin
            && !(4..=31).contains(&rule.length)
        {
            return Err(DeviceConfigError::new(
                "random_user_pin.length",
                "must be 4..=31",
            ));
        }
        if self.secret_questions > MAX_SECRET_QUESTIONS {
            return Err(DeviceConfigError::new(
                "secret_questions",
                format!("at most {MAX_SECRET_QUESTIONS}"),
            ));
        }
        if self.self_issue_allowed && self.max_devices_per_user == 0 {
            return Err(DeviceConfigError::new(
                "max_devices_per_user",
                "self-issue needs at least 1",
            ));
        }
        Ok(())
    }
}

/// Most secret questions a policy may ask for.
pub const MAX_SECRET_QUESTIONS: u8 = 16;

/// A configuration value (device type, policy, profile) that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DeviceConfigError {
    /// The field at fault (dotted path).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl DeviceConfigError {
    /// An error naming `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Whom a policy is assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum PolicyTarget {
    /// One user (takes precedence over groups).
    User(UserId),
    /// Every member of a group.
    Group(String),
}

/// A policy assigned to a user or a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAssignment {
    /// To whom.
    pub target: PolicyTarget,
    /// The policy's name.
    pub policy: String,
}

/// The policy that applies to `user` (member of `groups`, in order): the one
/// assigned to the user, else the one of the first group that has one, else
/// none (self-service issuance is then not allowed).
pub fn assigned_policy<'a>(
    assignments: &'a [PolicyAssignment],
    user: UserId,
    groups: &[String],
) -> Option<&'a str> {
    assignments
        .iter()
        .find(|a| a.target == PolicyTarget::User(user))
        .or_else(|| {
            groups.iter().find_map(|g| {
                assignments
                    .iter()
                    .find(|a| matches!(&a.target, PolicyTarget::Group(n) if n == g))
            })
        })
        .map(|a| a.policy.as_str())
}

/// One PIN area of a device type (e.g. the PKI and the GOST applets of a
/// JaCarta-2), with the factory PINs used when the issuer leaves a PIN empty.
///
/// Factory PINs are public configuration (printed in the maker's manual), not
/// secrets of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinArea {
    /// Name (`pki`, `gost`), unique within the type.
    pub name: String,
    /// The area holds GOST R 34.10-2012 keys (picked for GOST templates).
    pub gost: bool,
    /// Factory admin (SO) PIN.
    pub default_admin_pin: Option<String>,
    /// Factory user PIN (`None`: not set at the factory).
    pub default_user_pin: Option<String>,
    /// Shortest user PIN the device accepts.
    pub min_user_pin_length: u8,
}

/// A kind of hardware token (Rutoken ECP, JaCarta-2 PKI/GOST, SoftHSM…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceType {
    /// Name (unique), e.g. `rutoken-ecp`.
    pub name: String,
    /// The model the token reports (`C_GetTokenInfo`), for display.
    pub model: String,
    /// PIN areas, the first being the default one.
    pub areas: Vec<PinArea>,
}

fn area(name: &str, gost: bool, admin: Option<&str>, user: Option<&str>, min: u8) -> PinArea {
    PinArea {
        name: name.into(),
        gost,
        default_admin_pin: admin.map(str::to_owned),
        default_user_pin: user.map(str::to_owned),
        min_user_pin_length: min,
    }
}

impl DeviceType {
    /// The built-in types with their factory PINs (`tokens.md`): Rutoken ECP
    /// (user 12345678, admin 87654321, minimum 6), JaCarta-2 PKI/GOST (PKI user
    /// 11111111, admin 00000000; GOST admin 1234567890, user not set) and
    /// SoftHSM2 (no factory PINs).
    pub fn builtin() -> Vec<DeviceType> {
        vec![
            DeviceType {
                name: "rutoken-ecp".into(),
                model: "Rutoken ECP".into(),
                areas: vec![area("pki", true, Some("87654321"), Some("12345678"), 6)],
            },
            DeviceType {
                name: "jacarta-2-pki-gost".into(),
                model: "JaCarta-2 PKI/GOST".into(),
                areas: vec![
                    area("pki", false, Some("00000000"), Some("11111111"), 6),
                    area("gost", true, Some("1234567890"), None, 6),
                ],
            },
            DeviceType {
                name: "softhsm2".into(),
                model: "SoftHSM v2".into(),
                areas: vec![area("pki", false, None, None, 4)],
            },
        ]
    }

    /// Checks the type's configuration.
    ///
    /// # Errors
    /// [`DeviceConfigError`]: an empty name, no area, an empty or repeated area
    /// name, a minimum PIN length outside 4..=31, a factory PIN shorter than
    /// the minimum.
    pub fn validate(&self) -> Result<(), DeviceConfigError> {
        if self.name.trim().is_empty() {
            return Err(DeviceConfigError::new("name", "must not be empty"));
        }
        if self.areas.is_empty() {
            return Err(DeviceConfigError::new("areas", "at least one PIN area"));
        }
        for (i, a) in self.areas.iter().enumerate() {
            if a.name.trim().is_empty() {
                return Err(DeviceConfigError::new(
                    format!("areas[{i}].name"),
                    "must not be empty",
                ));
            }
            if self.areas[..i].iter().any(|o| o.name == a.name) {
                return Err(DeviceConfigError::new(
                    format!("areas[{i}].name"),
                    format!("area {} is listed twice", a.name),
                ));
            }
            if !(4..=31).contains(&a.min_user_pin_length) {
                return Err(DeviceConfigError::new(
                    format!("areas[{i}].min_user_pin_length"),
                    "must be 4..=31",
                ));
            }
            if let Some(p) = &a.default_user_pin
                && p.chars().count() < usize::from(a.min_user_pin_length)
            {
                return Err(DeviceConfigError::new(
                    format!("areas[{i}].default_user_pin"),
                    "shorter than the area's minimum user-PIN length",
                ));
            }
        }
        Ok(())
    }

    /// The area that holds keys of `algorithm`: the first GOST area for GOST
    /// keys, else the first non-GOST area, else the first area.
    pub fn area_for(&self, algorithm: KeyAlgorithm) -> Option<&PinArea> {
        let gost = matches!(
            algorithm,
            KeyAlgorithm::Gost2012_256 | KeyAlgorithm::Gost2012_512
        );
        self.areas
            .iter()
            .find(|a| a.gost == gost)
            .or_else(|| self.areas.first())
    }
}

/// PINs the issuer typed for one area (empty or absent: the type's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AreaPins {
    /// The area's name (empty: the area the template's key goes to).
    pub area: String,
    /// Admin (SO) PIN.
    pub admin_pin: Option<Secret>,
    /// User PIN.
    pub user_pin: Option<Secret>,
}

/// The PINs an issuance uses on the area that receives the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPins {
    /// The area.
    pub area: String,
    /// The admin (SO) PIN (needed to initialise).
    pub admin_pin: Option<Secret>,
    /// The user PIN (new when initialising, else the current one).
    pub user_pin: Secret,
    /// The user PIN was generated (show it once).
    pub generated: bool,
}

/// Why the PINs of an issuance cannot be settled; each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// The device type has no such area.
    #[error("{field}: the device type has no PIN area {area}")]
    UnknownArea {
        /// The field (`pins[i].area`).
        field: String,
        /// The area named.
        area: String,
    },
    /// The device type has no PIN area at all.
    #[error("the device type has no PIN area")]
    NoArea,
    /// No admin PIN was given and the type has no default.
    #[error("{field}: required (the device type has no default admin PIN)")]
    AdminPinRequired {
        /// The field.
        field: String,
    },
    /// No user PIN was given and the type has no default.
    #[error("{field}: required (the device type has no default user PIN)")]
    UserPinRequired {
        /// The field.
        field: String,
    },
    /// The new user PIN is shorter than the area allows.
    #[error("{field}: at least {min} characters")]
    TooShort {
        /// The field.
        field: String,
        /// The minimum.
        min: u8,
    },
}

impl PinError {
    /// The field at fault.
    pub fn field(&self) -> String {
        match self {
            Self::UnknownArea { field, .. }
            | Self::AdminPinRequired { field }
            | Self::UserPinRequired { field }
            | Self::TooShort { field, .. } => field.clone(),
            Self::NoArea => "device_type".into(),
        }
    }
}

/// Settles the PINs of an issuance onto the area of `device_type` that takes
/// keys of `algorithm` (seed 000): an empty or absent PIN falls back to the
/// type's default; when `initialize`, the admin PIN is required and the user
/// PIN is the new one — `generated` (the policy's random PIN) if given, else
/// the typed or default one, never shorter than the area's minimum; without
/// initialisation the user PIN is the current one (typed or default) and no
/// admin PIN is needed.
///
/// # Errors
/// [`PinError`] naming the field.
pub fn resolve_pins(
    device_type: &DeviceType,
    algorithm: KeyAlgorithm,
    given: &[AreaPins],
    initialize: bool,
    generated: Option<Secret>,
) -> Result<ResolvedPins, PinError> {
    for (i, g) in given.iter().enumerate() {
        if !g.area.is_empty() && !device_type.areas.iter().any(|a| a.name == g.area) {
            return Err(PinError::UnknownArea {
                field: format!("pins[{i}].area"),
                area: g.area.clone(),
            });
        }
    }
    let area = device_type.area_for(algorithm).ok_or(PinError::NoArea)?;
    let index = given
        .iter()
        .position(|g| g.area == area.name)
        .or_else(|| given.iter().position(|g| g.area.is_empty()));
    let typed = index.map(|i| &given[i]);
    let field = |what: &str| match index {
        Some(i) => format!("pins[{i}].{what}"),
        None => format!("pins.{what}"),
    };
    let non_empty = |s: Option<&Secret>| s.filter(|p| !p.is_empty()).cloned();
    let admin_pin = non_empty(typed.and_then(|t| t.admin_pin.as_ref()))
        .or_else(|| area.default_admin_pin.as_deref().map(Secret::from));
    if initialize && admin_pin.is_none() {
        return Err(PinError::AdminPinRequired {
            field: field("admin_pin"),
        });
    }
    let typed_user = non_empty(typed.and_then(|t| t.user_pin.as_ref()));
    let (user_pin, is_generated) = match (initialize, generated) {
        (true, Some(g)) => (g, true),
        _ => (
            typed_user
                .or_else(|| area.default_user_pin.as_deref().map(Secret::from))
                .ok_or_else(|| PinError::UserPinRequired {
                    field: field("user_pin"),
                })?,
            false,
        ),
    };
    if initialize && user_pin.chars() < usize::from(area.min_user_pin_length) {
        return Err(PinError::TooShort {
            field: field("user_pin"),
            min: area.min_user_pin_length,
        });
    }
    Ok(ResolvedPins {
        area: area.name.clone(),
        admin_pin: if initialize { admin_pin } else { None },
        user_pin,
        generated: is_generated,
    })
}

/// A hardware token known to the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Server-generated id.
    pub id: DeviceId,
    /// Optimistic-concurrency version; bumped by every stored change.
    pub version: u64,
    /// The user it is issued (or being issued) to.
    pub user_id: Option<UserId>,
    /// Name of its [`DeviceType`].
    pub device_type: String,
    /// Serial number as the token reports it (unique among live devices).
    pub serial: String,
    /// Name (the token's label).
    pub name: String,
    /// Model the token reports.
    pub model: String,
    /// Status.
    pub status: DeviceStatus,
    /// The template being or last issued.
    pub template: Option<String>,
    /// The application of the issuance in progress (or last finished).
    pub application_id: Option<ApplicationId>,
    /// `CKA_ID` of the key pair generated for it, hex.
    pub key_id: Option<String>,
    /// The request signed on the token, DER, kept until it is attached to the
    /// application (two-stage issuance after SMEV checks).
    pub csr_der: Option<Vec<u8>>,
    /// The document authorising the issuance (crypto-means accounting).
    pub document: Option<AccountingDocument>,
    /// Certificates written onto it.
    pub certificates: Vec<SerialNumber>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Device {
    /// Applies `event` through [`device_transition`] (status and `updated_at`).
    ///
    /// # Errors
    /// [`DeviceTransitionError`]; the device is then unchanged.
    pub fn apply(
        &mut self,
        event: DeviceEvent,
        at: OffsetDateTime,
    ) -> Result<DeviceStatus, DeviceTransitionError> {
        let to = device_transition(self.status, event)?;
        self.status = to;
        self.updated_at = at;
        Ok(to)
    }

    /// Still in circulation (not withdrawn or destroyed): its serial is taken.
    pub fn is_live(&self) -> bool {
        self.status.is_live()
    }

    /// Counts against the policy's maximum devices per user (pending or
    /// issued).
    pub fn is_held(&self) -> bool {
        matches!(self.status, DeviceStatus::Pending | DeviceStatus::Issued)
    }
}

impl DeviceStatus {
    /// Every status.
    pub const ALL: [DeviceStatus; 7] = [
        Self::Registered,
        Self::Pending,
        Self::Issued,
        Self::Lost,
        Self::Broken,
        Self::Withdrawn,
        Self::Destroyed,
    ];

    /// The wire name (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Pending => "pending",
            Self::Issued => "issued",
            Self::Lost => "lost",
            Self::Broken => "broken",
            Self::Withdrawn => "withdrawn",
            Self::Destroyed => "destroyed",
        }
    }

    /// Parses a wire name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Not withdrawn or destroyed.
    pub fn is_live(self) -> bool {
        !matches!(self, Self::Withdrawn | Self::Destroyed)
    }
}

impl JournalKind {
    /// The wire name (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Issued => "issued",
            Self::Installed => "installed",
            Self::Withdrawn => "withdrawn",
            Self::Destroyed => "destroyed",
        }
    }
}

/// A secret question with the argon2id hash (PHC string) of its normalised
/// answer; the answer itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretAnswer {
    /// The question.
    pub question: String,
    /// argon2id PHC string of [`normalize_answer`] of the answer.
    pub answer_hash: String,
}

/// The form of an answer that is hashed and compared: trimmed, inner
/// whitespace collapsed to one space, lowercase, `ё` as `е`.
pub fn normalize_answer(answer: &Secret) -> Secret {
    let mut out = String::with_capacity(answer.len());
    for word in answer.expose().split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars().flat_map(char::to_lowercase) {
            out.push(if c == 'ё' { 'е' } else { c });
        }
    }
    Secret::new(out)
}

/// Checks a set of secret questions and answers against the policy's count:
/// exactly `required` pairs, questions non-empty and distinct, answers
/// non-empty after normalisation.
///
/// # Errors
/// [`DeviceConfigError`] naming `questions` or `questions[i].question` /
/// `questions[i].answer`.
pub fn check_secret_questions(
    pairs: &[(String, Secret)],
    required: u8,
) -> Result<(), DeviceConfigError> {
    if pairs.len() != usize::from(required) {
        return Err(DeviceConfigError::new(
            "questions",
            format!(
                "the device policy asks for {required} secret question(s), {} given",
                pairs.len()
            ),
        ));
    }
    for (i, (q, a)) in pairs.iter().enumerate() {
        if q.trim().is_empty() {
            return Err(DeviceConfigError::new(
                format!("questions[{i}].question"),
                "must not be empty",
            ));
        }
        if q.chars().count() > 500 {
            return Err(DeviceConfigError::new(
                format!("questions[{i}].question"),
                "at most 500 characters",
            ));
        }
        if pairs[..i].iter().any(|(o, _)| o.trim() == q.trim()) {
            return Err(DeviceConfigError::new(
                format!("questions[{i}].question"),
                "asked twice",
            ));
        }
        if normalize_answer(a).is_empty() {
            return Err(DeviceConfigError::new(
                format!("questions[{i}].answer"),
                "must not be empty",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::date;

    fn policy() -> DevicePolicy {
        DevicePolicy {
            self_issue_allowed: true,
            secret_questions: 2,
            secret_questions_required: true,
            templates: vec![DeviceTemplate {
                name: "qualified".into(),
                service_id: ServiceId::from_uuid(uuid::Uuid::nil()),
                qualified: true,
            }],
            crypto_accounting: true,
            ..DevicePolicy::default()
        }
    }

    fn doc() -> AccountingDocument {
        AccountingDocument {
            number: "17/2026".into(),
            date: date!(2026 - 11 - 20),
        }
    }

    fn intent(d: Option<&AccountingDocument>) -> IssueIntent<'_> {
        IssueIntent {
            devices_held: 0,
            answers_set: 2,
            template: "qualified",
            document: d,
            user_pin_length: Some(8),
            min_pin_length: 6,
        }
    }

    #[test]
    fn policy_names_what_is_missing() {
        let d = doc();
        assert_eq!(policy().check(&intent(Some(&d))), Ok(()));
        assert_eq!(
            policy().check(&intent(None)),
            Err(PolicyViolation::DocumentRequired)
        );
        let mut i = intent(Some(&d));
        i.devices_held = 1;
        assert_eq!(
            policy().check(&i),
            Err(PolicyViolation::TooManyDevices { max: 1 })
        );
        let mut i = intent(Some(&d));
        i.answers_set = 1;
        assert_eq!(
            policy().check(&i),
            Err(PolicyViolation::SecretQuestionsMissing { required: 2 })
        );
        let mut i = intent(Some(&d));
        i.template = "other";
        assert!(matches!(
            policy().check(&i),
            Err(PolicyViolation::TemplateNotOffered(_))
        ));
        let mut i = intent(Some(&d));
        i.user_pin_length = Some(4);
        assert_eq!(
            policy().check(&i),
            Err(PolicyViolation::PinTooShort { min: 6 })
        );
        let mut p = policy();
        p.self_issue_allowed = false;
        assert_eq!(
            p.check(&intent(Some(&d))),
            Err(PolicyViolation::SelfIssueNotAllowed)
        );
        let mut p = policy();
        p.random_user_pin = Some(RandomPin {
            length: 5,
            alphabet: PinAlphabet::Digits,
            delivery: PinDelivery::ShowOnce,
        });
        assert_eq!(
            p.check(&intent(Some(&d))),
            Err(PolicyViolation::BadRandomPinRule { length: 5, min: 6 })
        );
    }

    #[test]
    fn random_pins_are_unbiased_and_of_the_right_length() {
        let rule = RandomPin {
            length: 8,
            alphabet: PinAlphabet::Digits,
            delivery: PinDelivery::ShowOnce,
        };
        // 250..=255 are rejected for digits (256 % 10 = 6).
        let bytes: Vec<u8> = (0u8..=255).collect();
        let pin = random_pin(rule, &bytes);
        assert_eq!(pin.as_deref(), Some("01234567"));
        assert_eq!(random_pin(rule, &[255; 100]), None);
        assert_eq!(
            random_pin(rule, &[250, 1, 2, 3, 4, 5, 6, 7, 8]).as_deref(),
            Some("12345678")
        );
        // Every digit is equally likely over the accepted bytes.
        let mut counts = [0u32; 10];
        for b in 0u8..250 {
            counts[usize::from(b) % 10] += 1;
        }
        assert!(counts.iter().all(|c| *c == 25));
    }

    #[test]
    fn device_table() {
        use DeviceEvent as E;
        use DeviceStatus as S;
        assert_eq!(
            device_transition(S::Registered, E::RequestSent),
            Ok(S::Pending)
        );
        assert_eq!(
            device_transition(S::Pending, E::IssuanceCompleted),
            Ok(S::Issued)
        );
        assert_eq!(device_transition(S::Issued, E::ReportLost), Ok(S::Lost));
        assert!(device_transition(S::Destroyed, E::Withdraw).is_err());
        assert!(device_transition(S::Lost, E::IssuanceCompleted).is_err());
        let statuses = [
            S::Registered,
            S::Pending,
            S::Issued,
            S::Lost,
            S::Broken,
            S::Withdrawn,
            S::Destroyed,
        ];
        let events = [
            E::RequestSent,
            E::IssuanceCompleted,
            E::ReportLost,
            E::ReportBroken,
            E::Withdraw,
            E::Destroy,
            E::IssuanceCancelled,
        ];
        let allowed = statuses
            .iter()
            .flat_map(|s| events.iter().map(move |e| (*s, *e)))
            .filter(|(s, e)| device_transition(*s, *e).is_ok())
            .count();
        assert_eq!(allowed, 13);
        for e in events {
            assert!(
                device_transition(S::Destroyed, e).is_err(),
                "destroyed is terminal"
            );
        }
    }

    #[test]
    fn journal_order() {
        let entry = |kind| JournalEntry {
            kind,
            document: doc(),
            actor: Actor::System,
            at: OffsetDateTime::UNIX_EPOCH,
            note: String::new(),
        };
        use JournalKind as K;
        let mut last = None;
        for k in [
            K::Received,
            K::Issued,
            K::Installed,
            K::Withdrawn,
            K::Destroyed,
        ] {
            assert_eq!(journal_append(last, &entry(k)), Ok(()), "{k:?}");
            last = Some(k);
        }
        assert!(journal_append(None, &entry(K::Issued)).is_err());
        assert!(journal_append(Some(K::Received), &entry(K::Installed)).is_err());
        assert!(journal_append(Some(K::Destroyed), &entry(K::Received)).is_err());
        assert_eq!(
            journal_append(Some(K::Received), &entry(K::Destroyed)),
            Ok(())
        );
        let mut e = entry(K::Received);
        e.document.number = " ".into();
        assert_eq!(
            journal_append(None, &e),
            Err(JournalError::DocumentNumberMissing)
        );
    }

    fn rutoken() -> DeviceType {
        DeviceType::builtin().remove(0)
    }

    #[test]
    fn builtin_types_are_valid_and_jacarta_has_two_areas() {
        for t in DeviceType::builtin() {
            assert_eq!(t.validate(), Ok(()), "{}", t.name);
        }
        let jacarta = &DeviceType::builtin()[1];
        assert_eq!(
            jacarta
                .area_for(KeyAlgorithm::Gost2012_256)
                .map(|a| a.name.as_str()),
            Some("gost")
        );
        assert_eq!(
            jacarta
                .area_for(KeyAlgorithm::EcdsaP256)
                .map(|a| a.name.as_str()),
            Some("pki")
        );
        let mut bad = rutoken();
        bad.areas.push(bad.areas[0].clone());
        assert_eq!(bad.validate().unwrap_err().field, "areas[1].name");
    }

    #[test]
    fn empty_pins_fall_back_to_the_type_defaults() {
        let t = rutoken();
        let r = resolve_pins(&t, KeyAlgorithm::EcdsaP256, &[], true, None).unwrap();
        assert_eq!(r.admin_pin.as_ref().map(Secret::expose), Some("87654321"));
        assert_eq!(r.user_pin.expose(), "12345678");
        assert!(!r.generated);
        let typed = [AreaPins {
            area: String::new(),
            admin_pin: Some(Secret::new("")),
            user_pin: Some(Secret::new("24682468")),
        }];
        let r = resolve_pins(&t, KeyAlgorithm::EcdsaP256, &typed, true, None).unwrap();
        assert_eq!(r.admin_pin.as_ref().map(Secret::expose), Some("87654321"));
        assert_eq!(r.user_pin.expose(), "24682468");
        // A generated PIN wins when initialising.
        let r = resolve_pins(
            &t,
            KeyAlgorithm::EcdsaP256,
            &typed,
            true,
            Some(Secret::new("13572468")),
        )
        .unwrap();
        assert!(r.generated);
        assert_eq!(r.user_pin.expose(), "13572468");
        // Without initialisation: the current user PIN, no admin PIN.
        let r = resolve_pins(&t, KeyAlgorithm::EcdsaP256, &typed, false, None).unwrap();
        assert_eq!(r.admin_pin, None);
        assert_eq!(r.user_pin.expose(), "24682468");
    }

    #[test]
    fn pin_errors_name_the_field() {
        let softhsm = &DeviceType::builtin()[2];
        assert_eq!(
            resolve_pins(softhsm, KeyAlgorithm::EcdsaP256, &[], true, None),
            Err(PinError::AdminPinRequired {
                field: "pins.admin_pin".into()
            })
        );
        let so_only = [AreaPins {
            area: "pki".into(),
            admin_pin: Some(Secret::new("0000")),
            user_pin: None,
        }];
        assert_eq!(
            resolve_pins(softhsm, KeyAlgorithm::EcdsaP256, &so_only, true, None),
            Err(PinError::UserPinRequired {
                field: "pins[0].user_pin".into()
            })
        );
        let short = [AreaPins {
            area: "pki".into(),
            admin_pin: None,
            user_pin: Some(Secret::new("123")),
        }];
        let e = resolve_pins(&rutoken(), KeyAlgorithm::EcdsaP256, &short, true, None).unwrap_err();
        assert_eq!(e.field(), "pins[0].user_pin");
        let unknown = [AreaPins {
            area: "gost".into(),
            ..AreaPins::default()
        }];
        assert!(matches!(
            resolve_pins(&rutoken(), KeyAlgorithm::EcdsaP256, &unknown, true, None),
            Err(PinError::UnknownArea { .. })
        ));
        // JaCarta's GOST area has no factory user PIN.
        let jacarta = &DeviceType::builtin()[1];
        assert_eq!(
            resolve_pins(jacarta, KeyAlgorithm::Gost2012_256, &[], false, None)
                .unwrap_err()
                .field(),
            "pins.user_pin"
        );
    }

    #[test]
    fn user_assignment_wins_over_groups() {
        let u = UserId::from_uuid(uuid::Uuid::from_u128(7));
        let other = UserId::from_uuid(uuid::Uuid::from_u128(8));
        let a = vec![
            PolicyAssignment {
                target: PolicyTarget::Group("staff".into()),
                policy: "staff-policy".into(),
            },
            PolicyAssignment {
                target: PolicyTarget::Group("it".into()),
                policy: "it-policy".into(),
            },
            PolicyAssignment {
                target: PolicyTarget::User(u),
                policy: "personal".into(),
            },
        ];
        let groups = vec!["it".to_owned(), "staff".to_owned()];
        assert_eq!(assigned_policy(&a, u, &groups), Some("personal"));
        assert_eq!(assigned_policy(&a, other, &groups), Some("it-policy"));
        assert_eq!(assigned_policy(&a, other, &[]), None);
    }

    #[test]
    fn answers_are_normalised_and_counted() {
        assert_eq!(
            normalize_answer(&Secret::new("  Ёлкин   ЛЕС ")).expose(),
            "елкин лес"
        );
        let pairs = vec![
            ("Mother's maiden name?".to_owned(), Secret::new("Smith")),
            ("First pet?".to_owned(), Secret::new("Rex")),
        ];
        assert_eq!(check_secret_questions(&pairs, 2), Ok(()));
        assert_eq!(
            check_secret_questions(&pairs, 3).unwrap_err().field,
            "questions"
        );
        let mut twice = pairs.clone();
        twice[1].0 = "Mother's maiden name?".into();
        assert_eq!(
            check_secret_questions(&twice, 2).unwrap_err().field,
            "questions[1].question"
        );
        let mut blank = pairs;
        blank[0].1 = Secret::new("   ");
        assert_eq!(
            check_secret_questions(&blank, 2).unwrap_err().field,
            "questions[0].answer"
        );
    }

    #[test]
    fn policy_configuration_is_checked() {
        let mut p = policy();
        p.name = "default".into();
        assert_eq!(p.validate(), Ok(()));
        p.templates.push(p.templates[0].clone());
        assert_eq!(p.validate().unwrap_err().field, "templates[1].name");
    }
}
