//! The crate's one error type.
//!
//! Every fallible function of `utrust-pki` returns [`PkiError`]. Foreign errors
//! (`der`, `ring`, `x509-cert`) are turned into text at this seam so that callers
//! never depend on the ASN.1 or crypto crates we happen to use. The conversion into
//! the core's [`CsrRejection`] lives here too, so the inspector and the CA agree on
//! which failure is which.

use utrust_core::ports::CsrRejection;

use crate::seal::UnsealError;

/// What went wrong in a PKI operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Received bytes are not valid PEM/DER of the expected structure (truncated,
    /// trailing data, wrong tags, text that breaks its ASN.1 string type).
    #[error("malformed input: {0}")]
    Malformed(String),
    /// A value we were asked to encode cannot be encoded (e.g. letters in a
    /// NumericString, an invalid OID, a date outside the X.509 range).
    #[error("cannot encode {what}: {problem}")]
    InvalidValue {
        /// The field at fault (an attribute OID, `validity`, ...).
        what: String,
        /// Why it cannot be encoded.
        problem: String,
    },
    /// Our own ASN.1 encoding failed (a bug or a size limit).
    #[error("encoding failed: {0}")]
    Encoding(String),
    /// A signature does not verify with the given public key.
    #[error("signature does not verify")]
    BadSignature,
    /// The key or signature algorithm is recognised but not supported for this
    /// operation (GOST, RSA signing), or not recognised at all.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// The key is too weak (RSA below 2048 bits).
    #[error("weak key: {0}")]
    WeakKey(String),
    /// A private key was rejected (bad PKCS#8, wrong curve, inconsistent public part).
    #[error("key rejected: {0}")]
    KeyRejected(String),
    /// A private key does not belong to the certificate it was loaded with.
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// The signer failed to produce a signature (a token may report why).
    #[error("signing failed: {0}")]
    Signing(String),
    /// A sealed private key does not open (see [`open_key`](crate::open_key)):
    /// truncated, an unknown format version, or it does not authenticate — a
    /// wrong key-encryption key, a different AAD, or altered bytes.
    #[error("cannot open sealed key: {0}")]
    Unseal(#[source] UnsealError),
}

impl PkiError {
    pub(crate) fn malformed(e: impl core::fmt::Display) -> Self {
        Self::Malformed(e.to_string())
    }

    pub(crate) fn encoding(e: impl core::fmt::Display) -> Self {
        Self::Encoding(e.to_string())
    }
}

impl From<PkiError> for CsrRejection {
    fn from(e: PkiError) -> Self {
        match e {
            PkiError::BadSignature => CsrRejection::BadSignature,
            PkiError::UnsupportedAlgorithm(s) => CsrRejection::UnsupportedAlgorithm(s),
            PkiError::WeakKey(s) => CsrRejection::WeakKey(s),
            other => CsrRejection::Malformed(other.to_string()),
        }
    }
}
