//! The certificate lifecycle after issuance: suspension (certificateHold),
//! resumption, revocation with RFC 5280 reasons, expiry — as one transition table
//! ([`certificate_transition`]), like the application's.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::application::Actor;
use super::certificate::SerialNumber;

/// RFC 5280 CRL reason codes, named as RFC 5280 spells them on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RevocationReason {
    /// unspecified (0).
    #[serde(rename = "unspecified")]
    Unspecified,
    /// keyCompromise (1).
    #[serde(rename = "keyCompromise")]
    KeyCompromise,
    /// cACompromise (2).
    #[serde(rename = "cACompromise")]
    CaCompromise,
    /// affiliationChanged (3).
    #[serde(rename = "affiliationChanged")]
    AffiliationChanged,
    /// superseded (4).
    #[serde(rename = "superseded")]
    Superseded,
    /// cessationOfOperation (5).
    #[serde(rename = "cessationOfOperation")]
    CessationOfOperation,
    /// certificateHold (6): suspension, never a final revocation reason.
    #[serde(rename = "certificateHold")]
    CertificateHold,
    /// removeFromCRL (8): only in delta CRLs; never accepted as a reason.
    #[serde(rename = "removeFromCRL")]
    RemoveFromCrl,
    /// privilegeWithdrawn (9).
    #[serde(rename = "privilegeWithdrawn")]
    PrivilegeWithdrawn,
    /// aACompromise (10).
    #[serde(rename = "aACompromise")]
    AaCompromise,
}

impl RevocationReason {
    /// Every reason.
    pub const ALL: [RevocationReason; 10] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::RemoveFromCrl,
        Self::PrivilegeWithdrawn,
        Self::AaCompromise,
    ];

    /// The RFC 5280 name, e.g. `keyCompromise`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::RemoveFromCrl => "removeFromCRL",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::AaCompromise => "aACompromise",
        }
    }

    /// Parses an RFC 5280 name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The CRLReason code.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::RemoveFromCrl => 8,
            Self::PrivilegeWithdrawn => 9,
            Self::AaCompromise => 10,
        }
    }

    /// Whether the reason may end a certificate (hold and removeFromCRL may not).
    pub fn is_final(self) -> bool {
        !matches!(self, Self::CertificateHold | Self::RemoveFromCrl)
    }
}

impl core::fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Status of an issued certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CertificateStatus {
    /// In force.
    Valid,
    /// On hold (certificateHold) since the given time.
    Suspended {
        /// When the hold began.
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
    /// Revoked for good.
    Revoked {
        /// The RFC 5280 reason.
        reason: RevocationReason,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Past notAfter.
    Expired,
}

impl CertificateStatus {
    /// The wire name: `valid`, `suspended`, `revoked`, `expired`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Suspended { .. } => "suspended",
            Self::Revoked { .. } => "revoked",
            Self::Expired => "expired",
        }
    }

    /// No event leaves a terminal status.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Revoked { .. } | Self::Expired)
    }
}

/// Something that happens to an issued certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CertificateEvent {
    /// Put on hold.
    Suspend,
    /// Hold lifted.
    Resume,
    /// Revoked with a final reason.
    Revoke {
        /// The reason (never certificateHold or removeFromCRL).
        reason: RevocationReason,
    },
    /// notAfter passed.
    Expire,
    /// A renewal is requested: allowed only for a valid certificate, which stays
    /// valid (the renewal is a new application).
    Renew,
}

impl CertificateEvent {
    /// The wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Revoke { .. } => "revoke",
            Self::Expire => "expire",
            Self::Renew => "renew",
        }
    }
}

/// A refused certificate transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event `{}` is not allowed for a {} certificate", .event.name(), .from.name())]
pub struct CertificateTransitionError {
    /// Status the certificate is in.
    pub from: CertificateStatus,
    /// The event refused.
    pub event: CertificateEvent,
}

/// The certificate transition table.
///
/// # Errors
/// [`CertificateTransitionError`] for every pair not listed, including a
/// revocation with a non-final reason.
///
/// ```
/// use time::OffsetDateTime;
/// use utrust_core::domain::revocation::*;
/// let now = OffsetDateTime::UNIX_EPOCH;
/// let held = certificate_transition(CertificateStatus::Valid, CertificateEvent::Suspend, now).unwrap();
/// assert_eq!(certificate_transition(held, CertificateEvent::Resume, now), Ok(CertificateStatus::Valid));
/// let revoked = CertificateStatus::Revoked { reason: RevocationReason::KeyCompromise, at: now };
/// assert!(certificate_transition(revoked, CertificateEvent::Resume, now).is_err());
/// ```
pub fn certificate_transition(
    from: CertificateStatus,
    event: CertificateEvent,
    at: OffsetDateTime,
) -> Result<CertificateStatus, CertificateTransitionError> {
    use CertificateEvent as E;
    use CertificateStatus as S;
    let to = match (from, event) {
        (S::Valid, E::Suspend) => S::Suspended { since: at },
        (S::Suspended { .. }, E::Resume) => S::Valid,
        (S::Valid | S::Suspended { .. }, E::Revoke { reason }) if reason.is_final() => {
            S::Revoked { reason, at }
        }
        (S::Valid | S::Suspended { .. }, E::Expire) => S::Expired,
        (S::Valid, E::Renew) => S::Valid,
        _ => return Err(CertificateTransitionError { from, event }),
    };
    Ok(to)
}

/// One change of a certificate's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateHistoryEntry {
    /// The certificate.
    pub serial: SerialNumber,
    /// Who caused it.
    pub actor: Actor,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Status before.
    pub from: CertificateStatus,
    /// Status after.
    pub to: CertificateStatus,
    /// The event.
    pub event: CertificateEvent,
    /// Free comment (e.g. the renewal that superseded it).
    pub comment: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(at: OffsetDateTime) -> Vec<CertificateStatus> {
        let mut v = vec![
            CertificateStatus::Valid,
            CertificateStatus::Suspended { since: at },
            CertificateStatus::Expired,
        ];
        v.extend(RevocationReason::ALL.map(|reason| CertificateStatus::Revoked { reason, at }));
        v
    }

    fn events() -> Vec<CertificateEvent> {
        let mut v = vec![
            CertificateEvent::Suspend,
            CertificateEvent::Resume,
            CertificateEvent::Expire,
            CertificateEvent::Renew,
        ];
        v.extend(RevocationReason::ALL.map(|reason| CertificateEvent::Revoke { reason }));
        v
    }

    #[test]
    fn exhaustive_table() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let mut allowed = 0;
        for s in statuses(at) {
            for e in events() {
                match certificate_transition(s, e, at) {
                    Ok(to) => {
                        allowed += 1;
                        assert!(!s.is_terminal(), "{s:?} --{e:?}--> {to:?}");
                    }
                    Err(err) => assert_eq!(err, CertificateTransitionError { from: s, event: e }),
                }
            }
        }
        // Valid: suspend, expire, renew, 8 final revocations; Suspended: resume,
        // expire, 8.
        assert_eq!(allowed, 21);
    }

    #[test]
    fn illegal_ones_named_by_the_issue() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let revoked = CertificateStatus::Revoked {
            reason: RevocationReason::KeyCompromise,
            at,
        };
        assert!(certificate_transition(revoked, CertificateEvent::Resume, at).is_err());
        let again = CertificateEvent::Revoke {
            reason: RevocationReason::Superseded,
        };
        assert!(certificate_transition(revoked, again, at).is_err());
        let hold = CertificateEvent::Revoke {
            reason: RevocationReason::CertificateHold,
        };
        assert!(certificate_transition(CertificateStatus::Valid, hold, at).is_err());
    }

    #[test]
    fn names_round_trip() {
        for r in RevocationReason::ALL {
            assert_eq!(RevocationReason::from_name(r.as_str()), Some(r));
        }
    }
}
