//! Detached signatures (CMS / PKCS#7) over uploaded documents: "is this file
//! signed by a certificate our CA issued, and by whom".
//!
//! The verifier knows ASN.1 and the trust anchors (`utrust-pki::CmsVerifier`
//! implements it against the CA certificates); the engine decides what a valid
//! signature is *for* (e.g. "by the responsible employee's certificate") and checks
//! the signer certificate's status (revoked, suspended) in its store.

use time::OffsetDateTime;

use crate::domain::certificate::SerialNumber;

/// The signer of a verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo {
    /// Serial number of the signer's certificate.
    pub serial: SerialNumber,
    /// The certificate's subject, RFC 4514 text (as `openssl x509 -nameopt
    /// RFC2253` prints it).
    pub subject: String,
    /// The certificate's issuer, RFC 4514 text.
    pub issuer: String,
    /// Start of the certificate's validity.
    pub not_before: OffsetDateTime,
    /// End of the certificate's validity.
    pub not_after: OffsetDateTime,
    /// The signing time the signer claimed (signed attribute), if any.
    pub signing_time: Option<OffsetDateTime>,
    /// The signer's certificate, DER.
    pub certificate_der: Vec<u8>,
}

/// Why a detached signature is refused. Each case has its own variant so that
/// callers (and HTTP clients) can tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Not a CMS SignedData (bad PEM/DER, truncated, wrong content type, more or
    /// fewer than one signer, content encapsulated instead of detached, …).
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// A digest or signature algorithm we do not verify (e.g. GOST).
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// The signed `messageDigest` is not the digest of the given content: the
    /// signature was made over other content.
    #[error("the signature was made over different content")]
    ContentMismatch,
    /// The signature value does not verify with the signer's key (without signed
    /// attributes this is also what signing other content looks like).
    #[error("the signature does not verify")]
    BadSignature,
    /// The SignedData carries no certificate matching the signer identifier.
    #[error("the signer's certificate is not included in the signature")]
    SignerCertificateMissing,
    /// The signer's certificate was not issued by a trusted CA (wrong issuer or
    /// a certificate signature that does not verify).
    #[error("the signer's certificate is not trusted: {0}")]
    UntrustedSigner(String),
    /// The signer's (or the CA's) certificate is not valid at the time of
    /// verification.
    #[error("certificate {serial} is not valid at {at} (valid {not_before} to {not_after})")]
    CertificateNotValid {
        /// Serial of the certificate at fault.
        serial: String,
        /// The time of verification.
        at: OffsetDateTime,
        /// Its notBefore.
        not_before: OffsetDateTime,
        /// Its notAfter.
        not_after: OffsetDateTime,
    },
    /// The signer's certificate is revoked or suspended (checked by the engine
    /// against its registry, not by the verifier).
    #[error("the signer's certificate {serial} is {status}")]
    CertificateRevoked {
        /// Its serial.
        serial: SerialNumber,
        /// `revoked` or `suspended`.
        status: String,
    },
}

impl SignatureError {
    /// A stable machine-readable code (for API errors): `malformed_signature`,
    /// `unsupported_algorithm`, `content_mismatch`, `bad_signature`,
    /// `signer_certificate_missing`, `untrusted_signer`, `certificate_not_valid`,
    /// `certificate_revoked`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_signature",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::ContentMismatch => "content_mismatch",
            Self::BadSignature => "bad_signature",
            Self::SignerCertificateMissing => "signer_certificate_missing",
            Self::UntrustedSigner(_) => "untrusted_signer",
            Self::CertificateNotValid { .. } => "certificate_not_valid",
            Self::CertificateRevoked { .. } => "certificate_revoked",
        }
    }
}

/// Verifies detached CMS signatures against trusted CA certificates.
pub trait SignatureVerifier: Send + Sync {
    /// Verifies `signature` (a CMS SignedData, DER or PEM `CMS`/`PKCS7`) over
    /// `content` at time `at` and returns the signer.
    ///
    /// The signer's certificate must be in the SignedData, issued (directly) by a
    /// trusted CA and valid at `at`. Revocation is not checked here.
    ///
    /// # Errors
    /// [`SignatureError`], a variant per reason.
    fn verify_detached(
        &self,
        content: &[u8],
        signature: &[u8],
        at: OffsetDateTime,
    ) -> Result<SignerInfo, SignatureError>;
}
