//! Identity checks through SMEV: asynchronous by nature (submit, then poll).

use async_trait::async_trait;
use time::Date;

use crate::domain::catalog::SmevCheckKind;
use crate::domain::identifiers::{Inn, PassportRf, Snils};

/// The applicant data a check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSubject {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub given_name: String,
    /// Patronymic.
    pub patronymic: Option<String>,
    /// Birth date.
    pub birth_date: Option<Date>,
    /// SNILS.
    pub snils: Option<Snils>,
    /// INN.
    pub inn: Option<Inn>,
    /// Passport and its issue date.
    pub passport: Option<(PassportRf, Date)>,
    /// The issued certificate (DER), for `esia_registration` only.
    pub certificate_der: Option<Vec<u8>>,
}

/// A final check result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckResult {
    /// The data is confirmed.
    Valid,
    /// The data is wrong, with the provider's reason.
    Invalid(String),
    /// The provider has no such record.
    NotFound,
    /// The provider failed.
    Error(String),
    /// No answer before the deadline.
    Timeout,
}

/// A submitted check's handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckTicket {
    /// The adapter's request id.
    pub request_id: String,
}

/// Failures talking to the verifier (not check results).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierError {
    /// Transient: may be retried.
    #[error("identity verifier unavailable: {0}")]
    Unavailable(String),
    /// The request was refused as invalid; retrying will not help.
    #[error("identity verifier rejected the request: {0}")]
    Rejected(String),
}

/// SMEV identity checks.
#[async_trait]
pub trait IdentityVerifier: Send + Sync {
    /// Submits a check; the same `idempotency_key` always yields the same ticket.
    ///
    /// # Errors
    /// [`VerifierError`].
    async fn submit(
        &self,
        idempotency_key: &str,
        kind: SmevCheckKind,
        subject: &CheckSubject,
    ) -> Result<CheckTicket, VerifierError>;

    /// Polls a check: `None` while pending.
    ///
    /// # Errors
    /// [`VerifierError`].
    async fn poll(&self, ticket: &CheckTicket) -> Result<Option<CheckResult>, VerifierError>;
}
