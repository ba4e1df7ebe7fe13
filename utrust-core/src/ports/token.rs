//! Hardware tokens (PKCS#11, PC/SC), implemented by `utrust-device`.
//!
//! Self-service issuance needs two token steps (seed 000):
//!
//! 1. [`TokenProvider::prepare`]: find the token, initialise it (or log in),
//!    generate a key pair on it and return the PKCS#10 request signed by the
//!    on-token key;
//! 2. [`TokenProvider::write_certificate`]: after the CA issued (at once, or
//!    after an operator's approval in two-stage issuance), write the certificate
//!    next to the key pair.
//!
//! PINs cross this port as [`Secret`]s: never logged, zeroised on drop.

use async_trait::async_trait;

use crate::domain::request::RequestTemplate;
pub use crate::domain::secret::Secret;

/// A PIN (user or admin/SO), zeroised on drop, printed as `***`.
pub type SecretPin = Secret;

/// A token seen in a slot or reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Serial number as the token reports it.
    pub serial: String,
    /// Label.
    pub label: String,
    /// Model.
    pub model: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Whether the token is initialised.
    pub initialized: bool,
}

/// Initialise (format) the token before generating the key: `C_InitToken` with
/// the admin (SO) PIN and the label, then `C_InitPIN` with the new user PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInitialization {
    /// The admin (SO) PIN the token has now; it stays its SO PIN.
    pub so_pin: SecretPin,
    /// The label to give the token.
    pub label: String,
}

/// What [`TokenProvider::prepare`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepareToken {
    /// Serial number or label of the token.
    pub token: String,
    /// Initialise the token first (wipes it), then set `user_pin` as its user
    /// PIN. `None`: log in with `user_pin`.
    pub initialize: Option<TokenInitialization>,
    /// The user PIN (new when initialising, current otherwise).
    pub user_pin: SecretPin,
    /// `CKA_LABEL` of the generated key pair (and later of the certificate).
    pub key_label: Option<String>,
    /// What the request must contain; its key algorithm picks the key (P-256 at
    /// least). The private key is generated sensitive and not extractable.
    pub template: RequestTemplate,
}

/// What [`TokenProvider::prepare`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedToken {
    /// Serial number of the token (after initialisation).
    pub serial: String,
    /// Label of the token.
    pub label: String,
    /// Model of the token.
    pub model: String,
    /// `CKA_ID` of the generated key pair (fresh, unique on the token).
    pub key_id: Vec<u8>,
    /// The PKCS#10 request signed by the on-token key, DER.
    pub csr_der: Vec<u8>,
}

/// Token failures, naming the operation that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No token with that serial.
    #[error("token {0} not present")]
    NotPresent(String),
    /// The PIN was wrong; `retries_left` when the token tells.
    #[error("incorrect PIN")]
    PinIncorrect {
        /// Remaining attempts, if known.
        retries_left: Option<u32>,
    },
    /// The PIN is locked.
    #[error("PIN locked")]
    PinLocked,
    /// A new PIN does not fit the token's rules (length, characters).
    #[error("{operation}: the token refuses the new PIN: {message}")]
    PinRejected {
        /// The operation (e.g. `C_InitPIN`).
        operation: String,
        /// Why.
        message: String,
    },
    /// The token has no memory left for the object.
    #[error("{operation}: the token is full")]
    TokenFull {
        /// The operation (e.g. `C_CreateObject`).
        operation: String,
    },
    /// The key pair (by `CKA_ID`) is not on the token.
    #[error("key {0} not found on the token")]
    KeyNotFound(String),
    /// The token cannot do what was asked (e.g. the template's key algorithm).
    #[error("unsupported by the token: {0}")]
    Unsupported(String),
    /// Another failure of `operation`.
    #[error("{operation} failed: {message}")]
    Device {
        /// The operation (e.g. `C_GenerateKeyPair`).
        operation: String,
        /// The device's message.
        message: String,
    },
}

impl TokenError {
    /// The stable error code (`token_not_present`, `pin_incorrect`,
    /// `pin_locked`, `pin_rejected`, `token_full`, `token_key_not_found`,
    /// `token_unsupported`, `token_error`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotPresent(_) => "token_not_present",
            Self::PinIncorrect { .. } => "pin_incorrect",
            Self::PinLocked => "pin_locked",
            Self::PinRejected { .. } => "pin_rejected",
            Self::TokenFull { .. } => "token_full",
            Self::KeyNotFound(_) => "token_key_not_found",
            Self::Unsupported(_) => "token_unsupported",
            Self::Device { .. } => "token_error",
        }
    }
}

/// Access to tokens.
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// Tokens currently present.
    ///
    /// # Errors
    /// [`TokenError`].
    async fn tokens(&self) -> Result<Vec<TokenInfo>, TokenError>;

    /// Prepares a token for issuance: finds it by serial or label, initialises
    /// it or logs in, generates a key pair on it and returns the request signed
    /// on the token.
    ///
    /// # Errors
    /// [`TokenError::NotPresent`], [`TokenError::PinIncorrect`] /
    /// [`TokenError::PinLocked`] (the SO PIN when initialising, else the user
    /// PIN), [`TokenError::PinRejected`], [`TokenError::TokenFull`],
    /// [`TokenError::Unsupported`], [`TokenError::Device`].
    /// The default answers [`TokenError::Unsupported`]: a provider that only
    /// lists tokens (e.g. PC/SC readers) cannot issue onto them.
    async fn prepare(&self, job: PrepareToken) -> Result<PreparedToken, TokenError> {
        drop(job);
        Err(TokenError::Unsupported(
            "this token provider cannot prepare tokens for issuance".into(),
        ))
    }

    /// Writes an issued certificate (DER) onto the token `token` (serial or
    /// label) next to the key pair with `CKA_ID` `key_id`, logging in with the
    /// user PIN; `label` becomes its `CKA_LABEL`.
    ///
    /// # Errors
    /// [`TokenError::NotPresent`], PIN errors, [`TokenError::KeyNotFound`],
    /// [`TokenError::TokenFull`], [`TokenError::Device`]. The default answers
    /// [`TokenError::Unsupported`].
    async fn write_certificate(
        &self,
        token: &str,
        user_pin: &SecretPin,
        key_id: &[u8],
        certificate_der: &[u8],
        label: &str,
    ) -> Result<(), TokenError> {
        let _ = (token, user_pin, key_id, certificate_der, label);
        Err(TokenError::Unsupported(
            "this token provider cannot write certificates".into(),
        ))
    }
}
