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

/// A device usage policy (per user or group; Rutoken KeyBox terms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePolicy {
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
    /// Certificate templates the user may choose (service or template names).
    pub templates: Vec<String>,
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
            self_issue_allowed: false,
            max_devices_per_user: 1,
            secret_questions: 0,
            secret_questions_required: false,
            initialize_on_issue: true,
            random_user_pin: None,
            templates: Vec::new(),
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
        if !self.templates.iter().any(|t| t == intent.template) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn policy() -> DevicePolicy {
        DevicePolicy {
            self_issue_allowed: true,
            secret_questions: 2,
            secret_questions_required: true,
            templates: vec!["qualified".into()],
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
}
