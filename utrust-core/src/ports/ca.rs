//! The certificate authority and the request inspector: what the engine needs from
//! PKI, without ASN.1.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::certificate::{IssuedCertificate, SerialNumber};
use crate::domain::request::{InspectedRequest, RequestedExtensions, SubjectAttribute};
use crate::domain::revocation::RevocationReason;

/// Everything the CA needs to issue one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    /// The verified PKCS#10 request, DER (its public key is certified).
    pub csr_der: Vec<u8>,
    /// The subject to certify, in encoding order, with the application's encodings.
    pub subject: Vec<SubjectAttribute>,
    /// Extensions to put into the certificate.
    pub extensions: RequestedExtensions,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// Why the CA did not issue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// The CA refused this request for good (e.g. policy); retrying will not help.
    #[error("CA refused the request: {0}")]
    Refused(String),
    /// The CA could not be reached or failed; the request may be retried.
    #[error("CA unavailable: {0}")]
    Unavailable(String),
}

/// One entry of a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlEntry {
    /// Serial of the revoked or suspended certificate.
    pub serial: SerialNumber,
    /// When it was revoked or put on hold.
    pub revoked_at: OffsetDateTime,
    /// The reason (`certificateHold` for a suspension).
    pub reason: RevocationReason,
}

/// What a CRL must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlRequest {
    /// CRL number (increasing).
    pub number: u64,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: OffsetDateTime,
    /// Revoked and suspended certificates.
    pub entries: Vec<CrlEntry>,
}

/// A certification authority that issues certificates from verified requests.
///
/// The registration office's store is the registry of certificate status; the
/// CA signs certificates and CRLs. A CA with its own registry (a remote CA) is
/// also told of every status change through [`CertificateAuthority::status_changed`].
#[async_trait]
pub trait CertificateAuthority: Send + Sync {
    /// Issues a certificate. The CA chooses a unique serial.
    ///
    /// # Errors
    /// [`CaError::Refused`] or [`CaError::Unavailable`].
    async fn issue(&self, request: IssueRequest) -> Result<IssuedCertificate, CaError>;

    /// The CA's own certificate, DER.
    fn ca_certificate_der(&self) -> Vec<u8>;

    /// Signs a CRL.
    ///
    /// # Errors
    /// [`CaError::Unavailable`]; the default answers that this CA does not
    /// publish CRLs through the registration office (a remote CA publishes its own).
    async fn sign_crl(&self, request: CrlRequest) -> Result<Vec<u8>, CaError> {
        let _ = request;
        Err(CaError::Unavailable(
            "this CA does not sign CRLs for the registration office".into(),
        ))
    }

    /// Tells the CA that a certificate was revoked (`Some(reason)`, hold included)
    /// or its hold lifted (`None`). The default does nothing: a CA whose CRLs the
    /// office signs from its own registry needs no notice.
    ///
    /// # Errors
    /// [`CaError`] when the CA refuses or cannot be reached; the status change is
    /// then not stored.
    async fn status_changed(
        &self,
        serial: &SerialNumber,
        reason: Option<RevocationReason>,
    ) -> Result<(), CaError> {
        let _ = (serial, reason);
        Ok(())
    }
}

/// Why a received certificate request was rejected before comparing it with the
/// application. Each variant is its own error code at the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrRejection {
    /// Not PEM or DER, truncated, trailing data, or not a PKCS#10 structure.
    #[error("malformed certificate request: {0}")]
    Malformed(String),
    /// The request's signature does not verify with its own public key.
    #[error("certificate request signature does not verify")]
    BadSignature,
    /// The key or signature algorithm is not supported.
    #[error("unsupported key or signature algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// The key is too weak (e.g. RSA below 2048 bits).
    #[error("weak key: {0}")]
    WeakKey(String),
}

impl CsrRejection {
    /// The stable error code (`csr_malformed`, `csr_bad_signature`,
    /// `csr_unsupported_algorithm`, `csr_weak_key`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "csr_malformed",
            Self::BadSignature => "csr_bad_signature",
            Self::UnsupportedAlgorithm(_) => "csr_unsupported_algorithm",
            Self::WeakKey(_) => "csr_weak_key",
        }
    }
}

/// Parses and verifies received PKCS#10 requests.
pub trait RequestInspector: Send + Sync {
    /// Parses PEM or DER, verifies the signature over the received bytes, and
    /// returns the request's content.
    ///
    /// # Errors
    /// A [`CsrRejection`] naming the first failure.
    fn inspect(&self, bytes: &[u8]) -> Result<InspectedRequest, CsrRejection>;
}
