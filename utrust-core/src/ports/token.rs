//! Hardware tokens (PKCS#11, PC/SC), implemented by `utrust-device`.

use async_trait::async_trait;

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
    /// The token has no memory left for the object.
    #[error("{operation}: the token is full")]
    TokenFull {
        /// The operation (e.g. `C_CreateObject`).
        operation: String,
    },
    /// Another failure of `operation`.
    #[error("{operation} failed: {message}")]
    Device {
        /// The operation (e.g. `C_GenerateKeyPair`).
        operation: String,
        /// The device's message.
        message: String,
    },
}

/// Access to tokens.
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// Tokens currently present.
    ///
    /// # Errors
    /// [`TokenError`].
    async fn tokens(&self) -> Result<Vec<TokenInfo>, TokenError>;
}
