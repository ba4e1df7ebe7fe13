//! Notifications (e-mail, SMS) to applicants and employees.

use async_trait::async_trait;

use crate::domain::identifiers::Email;

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Recipient.
    pub to: Email,
    /// Subject line.
    pub subject: String,
    /// Plain-text body. Never contains secrets unless the policy says so.
    pub body: String,
}

/// Delivery failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("notification not delivered: {0}")]
pub struct NotifyError(pub String);

/// Sends notifications.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends one message.
    ///
    /// # Errors
    /// [`NotifyError`].
    async fn send(&self, message: &Notification) -> Result<(), NotifyError>;
}

/// A notifier that drops every message (for embedders without mail).
#[derive(Debug, Clone, Copy, Default)]
pub struct NullNotifier;

#[async_trait]
impl Notifier for NullNotifier {
    async fn send(&self, _message: &Notification) -> Result<(), NotifyError> {
        Ok(())
    }
}
