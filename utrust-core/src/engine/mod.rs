//! The engine: use cases that orchestrate the pure domain and the ports.
//!
//! ```text
//!  submit ──► Application (status from the service's StepPlan)
//!  request_template ──► RequestTemplate (subject, extensions)
//!  attach_csr ──► RequestInspector (parse + verify) ──► template.check ──► AwaitingApproval | ReadyToIssue
//!  approve / reject / cancel
//!  issue ──► Store::begin_issuance (reserve quotas, Issuing)
//!        ──► CertificateAuthority::issue
//!        ──► Store::complete_issuance (commit quotas, certificate, Issued)
//!            or Store::abort_issuance (release quotas, ReadyToIssue | Rejected)
//!  suspend / resume / revoke ──► Store::update_certificate ──► publish_crl
//!  renew ──► a new application (same owner, products, point) ──► … ──► issue
//!        ──► the renewed certificate revoked as superseded (if the service says so)
//! ```
//!
//! The engine holds its ports as `Arc<dyn Port>`; it reads the clock and
//! randomness only through them.

mod access;
mod agents;
mod applications;
pub mod bulk;
mod case;
mod certificates;
mod checks;
mod devices;
mod head_accounts;
mod issuance;
mod notifications;
mod paging;
mod recovery;

use std::sync::Arc;

pub use applications::NewApplication;
pub use case::NewDocument;
pub use checks::{CheckRunStats, CheckTiming};
pub use devices::{
    DeviceIssueOutcome, DeviceIssueRequest, DeviceIssueStage, DeviceReport, RegisterDevice,
};

use crate::domain::application::Application;
use crate::domain::ids::ApplicationId;
use crate::error::{Error, Result};
use crate::ports::{
    CertificateAuthority, Clock, IdentityVerifier, Notifier, NullNotifier, Random,
    RequestInspector, Store, SystemClock,
};

/// The lifecycle engine.
#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
    ca: Arc<dyn CertificateAuthority>,
    inspector: Arc<dyn RequestInspector>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    notifier: Arc<dyn Notifier>,
    verifier: Option<Arc<dyn IdentityVerifier>>,
    /// Hardware tokens for self-service issuance (see `engine::devices`).
    tokens: Option<Arc<dyn crate::ports::TokenProvider>>,
    /// Case-file document content (see `engine::case`).
    documents: Arc<dyn crate::ports::DocumentStore>,
    /// Payment provider (see `engine::case`).
    payments: Arc<dyn crate::ports::PaymentProvider>,
    /// Verifier of detached signatures over case-file documents.
    signature_verifier: Option<Arc<dyn crate::ports::signature::SignatureVerifier>>,
    /// Send status-change notices (see `engine::notifications`).
    status_notices: bool,
    check_timing: CheckTiming,
    reservation_ttl: time::Duration,
    crl_validity: time::Duration,
}

impl core::fmt::Debug for Engine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine on the given ports, with the system clock.
    pub fn new(
        store: Arc<dyn Store>,
        ca: Arc<dyn CertificateAuthority>,
        inspector: Arc<dyn RequestInspector>,
        random: Arc<dyn Random>,
    ) -> Self {
        Self {
            store,
            ca,
            inspector,
            clock: Arc::new(SystemClock),
            random,
            notifier: Arc::new(NullNotifier),
            verifier: None,
            tokens: None,
            documents: Arc::new(crate::ports::MemoryDocumentStore::default()),
            payments: Arc::new(crate::ports::ManualPayments),
            signature_verifier: None,
            status_notices: false,
            check_timing: CheckTiming::default(),
            reservation_ttl: time::Duration::minutes(10),
            crl_validity: time::Duration::days(1),
        }
    }

    /// Replaces the clock (tests move time by hand).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Gives the engine hardware tokens (self-service device issuance).
    #[must_use]
    pub fn with_tokens(mut self, tokens: Arc<dyn crate::ports::TokenProvider>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Replaces the notifier (renewal reminders, notices).
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Sends a notice of every status change to the certificate owner and the
    /// employees with notifications on (off by default; the reference server
    /// turns it on). Client data on submission follows the service either way.
    #[must_use]
    pub fn with_status_notifications(mut self, on: bool) -> Self {
        self.status_notices = on;
        self
    }

    /// How long a published CRL is valid (its nextUpdate − thisUpdate).
    #[must_use]
    pub fn with_crl_validity(mut self, validity: time::Duration) -> Self {
        self.crl_validity = validity;
        self
    }

    /// How long a quota reservation lives before a recovery sweep may release it.
    #[must_use]
    pub fn with_reservation_ttl(mut self, ttl: time::Duration) -> Self {
        self.reservation_ttl = ttl;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The CA.
    pub fn ca(&self) -> &Arc<dyn CertificateAuthority> {
        &self.ca
    }

    /// The CA certificate, DER.
    pub fn ca_certificate_der(&self) -> Vec<u8> {
        self.ca.ca_certificate_der()
    }

    fn random_bytes<const N: usize>(&self) -> [u8; N] {
        let mut b = [0u8; N];
        self.random.fill(&mut b);
        b
    }

    async fn load_application(&self, id: ApplicationId) -> Result<Application> {
        self.store
            .application(id)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "application",
                id: id.to_string(),
            })
    }
}
