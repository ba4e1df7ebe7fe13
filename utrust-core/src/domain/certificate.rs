//! Issued certificates as the registration office records them.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::catalog::ApplicantKind;
use super::identifiers::{IdentifierError, IdentifierProblem};
use super::ids::{ApplicationId, PointId, ProductId};

/// A certificate serial number: 1–20 octets, positive, written as lowercase hex
/// without separators (the form `openssl x509 -serial` prints, lowercased).
///
/// ```
/// use utrust_core::domain::certificate::SerialNumber;
/// let s = SerialNumber::parse("7F01AB").unwrap();
/// assert_eq!(s.as_str(), "7f01ab");
/// assert!(SerialNumber::parse("80").is_err()); // would be negative in DER
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SerialNumber(String);

impl SerialNumber {
    /// Validates a hex serial (even length, at most 20 octets, positive, no
    /// redundant leading zero octet).
    ///
    /// # Errors
    /// [`IdentifierError`] with field `serial`.
    pub fn parse(s: &str) -> Result<Self, IdentifierError> {
        let f = "serial";
        let s = s.to_ascii_lowercase();
        if s.is_empty() || !s.len().is_multiple_of(2) || s.len() > 40 {
            return Err(IdentifierError {
                field: f,
                problem: IdentifierProblem::Length {
                    expected: 40,
                    actual: s.len(),
                },
            });
        }
        if let Some(i) = s.bytes().position(|b| !b.is_ascii_hexdigit()) {
            return Err(IdentifierError {
                field: f,
                problem: IdentifierProblem::Alphabet { position: i },
            });
        }
        let b = s.as_bytes();
        let first = u8::from_str_radix(&s[..2], 16).unwrap_or(0);
        let redundant_zero = first == 0
            && b.len() > 2
            && u8::from_str_radix(&s[2..4], 16)
                .map(|n| n < 0x80)
                .unwrap_or(false);
        if first >= 0x80 || redundant_zero || s.bytes().all(|c| c == b'0') {
            return Err(IdentifierError {
                field: f,
                problem: IdentifierProblem::Format,
            });
        }
        Ok(Self(s))
    }

    /// Builds a serial from its big-endian DER content octets.
    ///
    /// # Errors
    /// As [`SerialNumber::parse`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentifierError> {
        Self::parse(&super::hex::encode(bytes))
    }

    /// The big-endian content octets.
    pub fn to_bytes(&self) -> Vec<u8> {
        (0..self.0.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&self.0[i..i + 2], 16).ok())
            .collect()
    }

    /// Lowercase hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SerialNumber {
    type Error = IdentifierError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<SerialNumber> for String {
    fn from(v: SerialNumber) -> String {
        v.0
    }
}

impl FromStr for SerialNumber {
    type Err = IdentifierError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub use super::revocation::CertificateStatus;

/// An issued certificate with its links to the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRecord {
    /// Serial number, unique per CA.
    pub serial: SerialNumber,
    /// The application it was issued for.
    pub application_id: ApplicationId,
    /// The point that issued it.
    pub point_id: PointId,
    /// Products it was issued with.
    pub products: Vec<ProductId>,
    /// Applicant kind of its owner.
    pub applicant_kind: ApplicantKind,
    /// Subject as text (for display and search).
    pub subject: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Status.
    pub status: CertificateStatus,
    /// Optimistic-concurrency version; bumped by every stored status change.
    #[serde(default = "first_version")]
    pub version: u64,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

/// What the CA returns for one issuance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// Serial number.
    pub serial: SerialNumber,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

fn first_version() -> u64 {
    1
}
