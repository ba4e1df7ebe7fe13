//! Payment of applications (seed 004: "Выбрана оплата", card payment per
//! applicant kind). The engine opens a payment when the method is chosen and
//! records it as received when the provider (or, for the manual provider, an
//! employee) says so.

use async_trait::async_trait;

use crate::domain::casefile::PaymentMethod;
use crate::domain::ids::ApplicationId;

/// Failures of a payment provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PaymentError {
    /// The provider does not take this method.
    #[error("payment method {0} is not supported by the provider")]
    Unsupported(&'static str),
    /// The provider does not let employees mark payments as received.
    #[error("payments cannot be marked as received by hand with this provider")]
    ManualNotAllowed,
    /// The provider failed.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

/// A payment provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Opens a payment of `amount_kopecks` for the application by `method`;
    /// returns the provider's reference (invoice number, payment id).
    ///
    /// # Errors
    /// [`PaymentError`].
    async fn open(
        &self,
        application: ApplicationId,
        method: PaymentMethod,
        amount_kopecks: u64,
    ) -> Result<String, PaymentError>;

    /// An employee marks the payment `reference` as received.
    ///
    /// # Errors
    /// [`PaymentError::ManualNotAllowed`] where only the provider may say so.
    async fn mark_paid(&self, reference: &str) -> Result<(), PaymentError>;
}

/// The manual provider: invoices are numbered after the application, card
/// payments are taken at the point's terminal, and an employee marks them paid.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManualPayments;

#[async_trait]
impl PaymentProvider for ManualPayments {
    async fn open(
        &self,
        application: ApplicationId,
        method: PaymentMethod,
        _amount_kopecks: u64,
    ) -> Result<String, PaymentError> {
        Ok(format!("manual-{}-{application}", method.as_str()))
    }

    async fn mark_paid(&self, _reference: &str) -> Result<(), PaymentError> {
        Ok(())
    }
}
