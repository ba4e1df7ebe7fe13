//! Identity checks through SMEV as durable work items: one per application,
//! round and check kind, with its idempotency key, the adapter's request id, its
//! state and timestamps. The verdict over a round decides the application's next
//! step.
//!
//! A round is one pass of all the checks a service requires; re-running the
//! checks after the agent corrected data starts a new round, so earlier results
//! stay as evidence.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::catalog::SmevCheckKind;
use super::ids::ApplicationId;

/// Where a check stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", content = "reason", rename_all = "snake_case")]
pub enum CheckState {
    /// Not answered yet.
    Pending,
    /// The data is confirmed.
    Valid,
    /// The data is wrong (the provider's reason).
    Invalid(String),
    /// The provider has no such record.
    NotFound,
    /// The provider or the adapter failed for good (reason).
    Error(String),
    /// No answer before the deadline.
    Timeout,
}

impl CheckState {
    /// The wire name: `pending`, `valid`, `invalid`, `not_found`, `error`, `timeout`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Valid => "valid",
            Self::Invalid(_) => "invalid",
            Self::NotFound => "not_found",
            Self::Error(_) => "error",
            Self::Timeout => "timeout",
        }
    }

    /// The reason, for invalid and error results.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Invalid(r) | Self::Error(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the check has its final answer.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Pending)
    }
}

/// One identity check of one application in one round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityCheck {
    /// The application.
    pub application_id: ApplicationId,
    /// The round (0, 1, …).
    pub round: u32,
    /// What is checked.
    pub kind: SmevCheckKind,
    /// Our idempotency key: the same application, round and kind always send the
    /// same key, so a resubmission after a crash is recognised by the adapter.
    pub idempotency_key: String,
    /// The adapter's request id, once submitted.
    pub request_id: Option<String>,
    /// The state.
    pub state: CheckState,
    /// Failed attempts to reach the adapter.
    pub attempts: u32,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Submitted to the adapter.
    #[serde(with = "time::serde::rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    /// Final answer received (or the deadline passed).
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// After this instant a pending check is a `Timeout`.
    #[serde(with = "time::serde::rfc3339")]
    pub deadline: OffsetDateTime,
    /// When a worker should next look at it.
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    /// A worker holds it until then (claims are leases, so a crashed worker's
    /// checks are picked up again).
    #[serde(with = "time::serde::rfc3339::option")]
    pub lease_until: Option<OffsetDateTime>,
    /// Optimistic-concurrency version; bumped by every stored change.
    pub version: u64,
}

impl IdentityCheck {
    /// A new pending check.
    pub fn new(
        application_id: ApplicationId,
        round: u32,
        kind: SmevCheckKind,
        now: OffsetDateTime,
        deadline: OffsetDateTime,
    ) -> Self {
        Self {
            application_id,
            round,
            kind,
            idempotency_key: idempotency_key(application_id, round, kind),
            request_id: None,
            state: CheckState::Pending,
            attempts: 0,
            created_at: now,
            submitted_at: None,
            completed_at: None,
            deadline,
            next_attempt_at: now,
            lease_until: None,
            version: 1,
        }
    }
}

/// The idempotency key of a check: `utrust:{application}:{round}:{kind}`.
pub fn idempotency_key(application_id: ApplicationId, round: u32, kind: SmevCheckKind) -> String {
    format!("utrust:{application_id}:{round}:{}", kind.as_str())
}

/// What a round of checks says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Some checks have no answer yet.
    Pending,
    /// Every required check answered valid.
    Passed,
    /// At least one check answered something else; the reason names each.
    Failed(String),
}

/// The verdict over the checks of one round, given the kinds the service
/// requires. A required kind without a check is pending.
pub fn verdict(required: &[SmevCheckKind], checks: &[IdentityCheck]) -> Verdict {
    let mut failures = Vec::new();
    for kind in required {
        match checks.iter().find(|c| c.kind == *kind).map(|c| &c.state) {
            None | Some(CheckState::Pending) => return Verdict::Pending,
            Some(CheckState::Valid) => {}
            Some(other) => {
                let name = kind.as_str();
                failures.push(match other.reason() {
                    Some(r) => format!("{name}: {} ({r})", other.name()),
                    None => format!("{name}: {}", other.name()),
                });
            }
        }
    }
    if failures.is_empty() {
        Verdict::Passed
    } else {
        Verdict::Failed(failures.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: SmevCheckKind, state: CheckState) -> IdentityCheck {
        let t = OffsetDateTime::UNIX_EPOCH;
        let mut c = IdentityCheck::new(ApplicationId::from_random_bytes([7; 16]), 0, kind, t, t);
        c.state = state;
        c
    }

    #[test]
    fn verdicts() {
        use SmevCheckKind::{Passport, Snils};
        let req = [Passport, Snils];
        assert_eq!(
            verdict(&req, &[check(Passport, CheckState::Valid)]),
            Verdict::Pending
        );
        assert_eq!(
            verdict(
                &req,
                &[
                    check(Passport, CheckState::Valid),
                    check(Snils, CheckState::Valid)
                ]
            ),
            Verdict::Passed
        );
        assert_eq!(
            verdict(
                &req,
                &[
                    check(Passport, CheckState::Invalid("expired".into())),
                    check(Snils, CheckState::Timeout)
                ]
            ),
            Verdict::Failed("passport: invalid (expired); snils: timeout".into())
        );
        assert_eq!(
            verdict(
                &req,
                &[
                    check(Passport, CheckState::NotFound),
                    check(Snils, CheckState::Pending)
                ]
            ),
            Verdict::Pending
        );
        assert_eq!(verdict(&[], &[]), Verdict::Passed);
    }

    #[test]
    fn keys_are_stable_per_round_and_kind() {
        let id = ApplicationId::from_random_bytes([1; 16]);
        assert_eq!(
            idempotency_key(id, 0, SmevCheckKind::Inn),
            idempotency_key(id, 0, SmevCheckKind::Inn)
        );
        assert_ne!(
            idempotency_key(id, 0, SmevCheckKind::Inn),
            idempotency_key(id, 1, SmevCheckKind::Inn)
        );
    }
}
