//! [`DeviceError`]: what went wrong with a token, and its mapping onto the core's
//! [`TokenError`].
//!
//! Every PKCS#11 failure names the `C_…` function that returned it. PIN failures
//! are surfaced as their own variants so that a caller can tell the user how many
//! tries are left, and a full token (`CKR_DEVICE_MEMORY`) is [`DeviceError::TokenFull`].

use utrust_core::ports::TokenError;

/// A failure of a token operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// No token with that serial number or label is present.
    #[error("token {0} not present")]
    NotPresent(String),
    /// The PIN was wrong. `retries_left` is `Some(1)` when the token reports its
    /// final try (`CKF_*_PIN_FINAL_TRY`); PKCS#11 does not report exact counts.
    #[error("incorrect PIN")]
    PinIncorrect {
        /// Remaining attempts, if known.
        retries_left: Option<u32>,
        /// The token reports that few attempts remain (`CKF_*_PIN_COUNT_LOW`).
        count_low: bool,
    },
    /// The PIN is locked (`CKR_PIN_LOCKED` or `CKF_*_PIN_LOCKED`).
    #[error("PIN locked")]
    PinLocked,
    /// The new PIN does not fit the token's rules (`CKR_PIN_LEN_RANGE`,
    /// `CKR_PIN_INVALID`).
    #[error("{operation}: PIN rejected by the token: {message}")]
    PinRejected {
        /// The PKCS#11 function (e.g. `C_InitPIN`).
        operation: String,
        /// Why.
        message: String,
    },
    /// The user PIN has not been set since the token was initialised
    /// (`CKR_USER_PIN_NOT_INITIALIZED`).
    #[error("the user PIN of the token is not initialised")]
    UserPinNotInitialized,
    /// The token has no memory left for the object (`CKR_DEVICE_MEMORY`).
    #[error("{operation}: the token is full (no memory left for the object)")]
    TokenFull {
        /// The PKCS#11 function (e.g. `C_CreateObject`).
        operation: String,
    },
    /// A key or certificate that was asked for is not on the token.
    #[error("{0} not found on the token")]
    ObjectNotFound(String),
    /// The token or the key cannot do what was asked (e.g. an unsupported curve).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The PKCS#11 module could not be loaded or initialised.
    #[error("cannot load PKCS#11 module {path}: {message}")]
    Module {
        /// The module path.
        path: String,
        /// The loader's message.
        message: String,
    },
    /// Another failure of `operation` (a `C_…` function, or a PC/SC call).
    #[error("{operation} failed: {message}")]
    Device {
        /// The operation (e.g. `C_GenerateKeyPair`).
        operation: String,
        /// The device's message.
        message: String,
    },
}

impl DeviceError {
    pub(crate) fn device(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Device {
            operation: operation.into(),
            message: message.into(),
        }
    }
}

impl From<DeviceError> for TokenError {
    /// PIN, presence, full-token, missing-key and unsupported errors keep their
    /// meaning; everything else becomes [`TokenError::Device`] naming the
    /// operation.
    fn from(e: DeviceError) -> Self {
        match e {
            DeviceError::NotPresent(s) => TokenError::NotPresent(s),
            DeviceError::PinIncorrect { retries_left, .. } => {
                TokenError::PinIncorrect { retries_left }
            }
            DeviceError::PinLocked => TokenError::PinLocked,
            DeviceError::Device { operation, message } => TokenError::Device { operation, message },
            DeviceError::PinRejected { operation, message } => {
                TokenError::PinRejected { operation, message }
            }
            DeviceError::ObjectNotFound(what) => TokenError::KeyNotFound(what),
            DeviceError::Unsupported(what) => TokenError::Unsupported(what),
            DeviceError::TokenFull { operation } => TokenError::TokenFull { operation },
            DeviceError::UserPinNotInitialized => TokenError::Device {
                operation: "C_Login".into(),
                message: "user PIN not initialised (CKR_USER_PIN_NOT_INITIALIZED)".into(),
            },
            DeviceError::Module { path, message } => TokenError::Device {
                operation: "C_Initialize".into(),
                message: format!("{path}: {message}"),
            },
        }
    }
}
