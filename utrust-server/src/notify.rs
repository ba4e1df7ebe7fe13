//! Notifier adapters: SMTP through `lettre`, and a log notifier for operators
//! without mail (messages go to the log; bodies never carry secrets).

use async_trait::async_trait;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use utrust_core::ports::{Notification, Notifier, NotifyError};

/// Sends notifications over SMTP.
#[derive(Clone)]
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl core::fmt::Debug for SmtpNotifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmtpNotifier")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpNotifier {
    /// A notifier for an SMTP URL: `smtp://host:port` (plain, e.g. a local relay),
    /// `smtp://host:587?tls=required` (STARTTLS) or `smtps://user:pass@host` (TLS),
    /// as `lettre` parses them, sending from `from`.
    ///
    /// # Errors
    /// [`NotifyError`] for a malformed URL or sender address.
    pub fn new(url: &str, from: &str) -> Result<Self, NotifyError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| NotifyError(format!("SMTP URL: {e}")))?
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| NotifyError(format!("sender address: {e}")))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn send(&self, message: &Notification) -> Result<(), NotifyError> {
        let to = message
            .to
            .as_str()
            .parse::<Mailbox>()
            .map_err(|e| NotifyError(format!("recipient: {e}")))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone())
            .map_err(|e| NotifyError(format!("message: {e}")))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| NotifyError(format!("SMTP: {e}")))
    }
}

/// Writes notifications to the log instead of sending them.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn send(&self, message: &Notification) -> Result<(), NotifyError> {
        tracing::info!(to = %message.to, subject = %message.subject, "notification (log only)");
        Ok(())
    }
}
