//! The engine's error: one `#[non_exhaustive]` enum, every variant naming the
//! field, entity or state at fault, and a stable [`Error::code`] that servers turn
//! into wire error codes.

use crate::domain::agents::Availability;
use crate::domain::devices::{
    DeviceConfigError, DeviceTransitionError, JournalError, PinError, PolicyViolation,
};
use crate::domain::identifiers::IdentifierError;
use crate::domain::ids::ApplicationId;
use crate::domain::lifecycle::TransitionError;
use crate::domain::profile::ProfileError;
use crate::domain::quota::QuotaError;
use crate::domain::request::RequestMismatch;
use crate::domain::revocation::CertificateTransitionError;
use crate::ports::{CaError, CsrRejection, StoreError, TokenError};

/// What went wrong in a use case.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input field is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault (dotted path, e.g. `owner.snils`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A referenced entity does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// Entity kind.
        entity: &'static str,
        /// The id given.
        id: String,
    },
    /// The point cannot take applications (blocked itself or by cascade).
    #[error("point is not available: {0:?}")]
    PointUnavailable(Availability),
    /// The state machine refuses the event.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The certificate's state machine refuses the event.
    #[error(transparent)]
    CertificateTransition(#[from] CertificateTransitionError),
    /// A quota refused the change.
    #[error(transparent)]
    Quota(#[from] QuotaError),
    /// The certificate request is unreadable or its signature is wrong.
    #[error(transparent)]
    Csr(#[from] CsrRejection),
    /// The certificate request does not fit the application.
    #[error(transparent)]
    RequestMismatch(#[from] RequestMismatch),
    /// The CA did not issue.
    #[error(transparent)]
    Ca(#[from] CaError),
    /// A unique field is taken.
    #[error("{entity} with this {field} already exists")]
    Duplicate {
        /// Entity kind.
        entity: &'static str,
        /// The unique field.
        field: &'static str,
    },
    /// The principal lacks a permission flag.
    #[error("not allowed: needs the `{permission}` permission")]
    Forbidden {
        /// The permission missing.
        permission: &'static str,
    },
    /// The user may not log in (inactive, or an employee of a blocked agent).
    #[error("login refused: {0}")]
    LoginRefused(String),
    /// The service does not allow bulk creation of applications from CSV (its
    /// `bulk_csv` flag is off).
    #[error("the service {service} does not allow bulk creation of applications")]
    BulkNotAllowed {
        /// The service's id.
        service: String,
    },
    /// The device usage policy refuses a self-service issuance (names what is
    /// missing).
    #[error(transparent)]
    DevicePolicy(#[from] PolicyViolation),
    /// A token operation failed (wrong or locked PIN, missing or full token…);
    /// the device record is unchanged.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A PIN was refused by the token (incorrect, locked or not acceptable);
    /// `field` names which PIN of the request (`admin_pin` or `user_pin`).
    #[error("{field}: {error}")]
    TokenPin {
        /// The request field of the PIN at fault.
        field: &'static str,
        /// The token's answer.
        #[source]
        error: TokenError,
    },
    /// The device's status does not allow the event.
    #[error(transparent)]
    DeviceTransition(#[from] DeviceTransitionError),
    /// A crypto-means journal entry is out of order or lacks its document.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Two-stage device issuance: the request waits for the CA operator's
    /// decision (or for checks); continue later.
    #[error("device issuance awaits a decision: application {application} is {status}")]
    AwaitingDecision {
        /// The application.
        application: ApplicationId,
        /// Its status (wire name).
        status: &'static str,
    },
    /// Two-stage device issuance: the request was rejected or cancelled; the
    /// device is back to registered.
    #[error("device issuance refused: application {application} is {status}")]
    IssuanceRefused {
        /// The application.
        application: ApplicationId,
        /// Its status (wire name).
        status: &'static str,
    },
    /// The action needs what the application does not have yet (case file,
    /// issue #8): each missing requirement is named (`document:passport`,
    /// `signature:snils`, `payment`, `confirmation`, `esia_registration`, …).
    #[error(
        "cannot {action}: missing {}",
        crate::domain::casefile::requirement_list(missing)
    )]
    RequirementsMissing {
        /// What was attempted (`complete`, `issue`, `attach the certificate request`, …).
        action: &'static str,
        /// What is missing, in order.
        missing: Vec<crate::domain::casefile::Requirement>,
    },
    /// The certificate is withheld from the applicant until the application is
    /// completed (service flag "certificate available only after completion").
    #[error(
        "the certificate is available to the applicant only after the application is completed (it is {status})"
    )]
    CertificateWithheld {
        /// The application's status (wire name).
        status: &'static str,
    },
    /// The case file is closed: nothing may be added in this status.
    #[error("the case file of an application in status {status} is closed")]
    CaseClosed {
        /// The application's status (wire name).
        status: &'static str,
    },
    /// An uploaded document is larger than the limit.
    #[error("the document is larger than {limit} bytes")]
    DocumentTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// An uploaded document's media type is not accepted.
    #[error("media type {media_type} is not accepted (accepted: {accepted})")]
    UnsupportedMediaType {
        /// The media type given.
        media_type: String,
        /// The accepted ones, comma-separated.
        accepted: String,
    },
    /// A detached signature does not verify (each reason its own code).
    #[error(transparent)]
    Signature(#[from] crate::ports::signature::SignatureError),
    /// A valid signature, but not by the responsible employee's certificate.
    #[error("signature refused: {reason}")]
    SignerNotResponsible {
        /// Why.
        reason: String,
    },
    /// The payment provider refused or failed.
    #[error(transparent)]
    Payment(#[from] crate::ports::PaymentError),
    /// A message that must reach someone (a mailed device PIN) was not delivered.
    #[error(transparent)]
    Notify(#[from] crate::ports::NotifyError),
    /// The application changed concurrently; reload and retry.
    #[error("the application was changed concurrently; retry")]
    Conflict,
    /// Storage failed.
    #[error("storage failure: {0}")]
    Storage(String),
}

impl Error {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_field",
            Self::NotFound { .. } => "not_found",
            Self::PointUnavailable(_) => "point_unavailable",
            Self::Transition(_) | Self::CertificateTransition(_) => "invalid_transition",
            Self::Quota(QuotaError::Exhausted { .. }) => "quota_exhausted",
            Self::Quota(QuotaError::BelowUsage { .. }) => "quota_below_usage",
            Self::Quota(_) => "invalid_field",
            Self::Csr(r) => r.code(),
            Self::RequestMismatch(RequestMismatch::Subject { .. }) => "csr_subject_mismatch",
            Self::RequestMismatch(RequestMismatch::KeyAlgorithm { .. }) => {
                "csr_key_algorithm_mismatch"
            }
            Self::RequestMismatch(_) => "csr_extensions_mismatch",
            Self::Ca(CaError::Refused(_)) => "ca_refused",
            Self::Ca(_) => "ca_unavailable",
            Self::Duplicate { .. } => "duplicate",
            Self::Conflict => "concurrent_modification",
            Self::RequirementsMissing { .. } => "requirements_missing",
            Self::CertificateWithheld { .. } => "certificate_withheld",
            Self::CaseClosed { .. } => "case_closed",
            Self::DocumentTooLarge { .. } => "document_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::Signature(e) => e.code(),
            Self::SignerNotResponsible { .. } => "signer_not_responsible",
            Self::Payment(crate::ports::PaymentError::Unavailable(_)) => "payment_unavailable",
            Self::Payment(_) => "payment_refused",
            Self::DevicePolicy(_) => "policy_violation",
            Self::Token(t) => t.code(),
            Self::TokenPin { error, .. } => error.code(),
            Self::DeviceTransition(_) => "invalid_transition",
            Self::Journal(_) => "journal_out_of_order",
            Self::AwaitingDecision { .. } => "awaiting_decision",
            Self::IssuanceRefused { .. } => "issuance_refused",
            Self::BulkNotAllowed { .. } => "bulk_not_allowed",
            Self::Forbidden { .. } => "forbidden",
            Self::LoginRefused(_) => "login_refused",
            Self::Notify(_) => "notification_failed",
            Self::Storage(_) => "internal",
        }
    }

    /// The names of the missing requirements (with `requirements_missing`).
    pub fn missing(&self) -> Vec<String> {
        match self {
            Self::RequirementsMissing { missing, .. } => missing.iter().map(|r| r.name()).collect(),
            _ => Vec::new(),
        }
    }

    /// The input field at fault, if the error is about one.
    pub fn field(&self) -> Option<String> {
        match self {
            Self::Invalid { field, .. } => Some(field.clone()),
            Self::Duplicate { field, .. } => Some((*field).to_owned()),
            Self::Quota(QuotaError::InvalidAllotment { .. }) => Some("limit".into()),
            Self::DevicePolicy(v) => match v {
                PolicyViolation::TooManyDevices { .. } => None,
                PolicyViolation::SecretQuestionsMissing { .. } => Some("secret_questions".into()),
                PolicyViolation::TemplateNotOffered(_) => Some("template".into()),
                PolicyViolation::DocumentRequired => Some("document".into()),
                PolicyViolation::PinTooShort { .. } => Some("pins.user_pin".into()),
                _ => None,
            },
            Self::Journal(JournalError::DocumentNumberMissing) => Some("document.number".into()),
            Self::TokenPin { field, .. } => Some((*field).to_owned()),
            _ => None,
        }
    }

    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<IdentifierError> for Error {
    fn from(e: IdentifierError) -> Self {
        Self::Invalid {
            field: e.field.to_owned(),
            message: e.problem.to_string(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate { entity, field } => Self::Duplicate { entity, field },
            StoreError::NotFound { entity, id } => Self::NotFound { entity, id },
            StoreError::VersionConflict { .. }
            | StoreError::CertificateVersionConflict { .. }
            | StoreError::CheckVersionConflict { .. }
            | StoreError::DeviceVersionConflict { .. }
            | StoreError::AccountVersionConflict { .. }
            | StoreError::ReservationGone(_) => Self::Conflict,
            StoreError::Journal(j) => Self::Journal(j),
            StoreError::Quota(q) => Self::Quota(q),
            other => Self::Storage(other.to_string()),
        }
    }
}

impl From<PinError> for Error {
    fn from(e: PinError) -> Self {
        Self::Invalid {
            field: e.field(),
            message: e.to_string(),
        }
    }
}

impl From<ProfileError> for Error {
    fn from(e: ProfileError) -> Self {
        Self::Invalid {
            field: e.field().to_owned(),
            message: e.to_string(),
        }
    }
}

impl From<DeviceConfigError> for Error {
    fn from(e: DeviceConfigError) -> Self {
        Self::Invalid {
            field: e.field,
            message: e.message,
        }
    }
}

/// Result of engine use cases.
pub type Result<T, E = Error> = core::result::Result<T, E>;
