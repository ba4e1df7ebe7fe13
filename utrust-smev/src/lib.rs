//! # utrust-smev
//!
//! Identity checks through SMEV (passport validity, SNILS ↔ full name and birth
//! date, INN by passport) behind the core's
//! [`IdentityVerifier`](utrust_core::ports::identity::IdentityVerifier) port:
//!
//! - [`wire`]: the fixed REST wire format between utrust and an SMEV adapter
//!   (`POST {smev_url}/checks`, `GET {smev_url}/checks/{request_id}`);
//! - [`client`]: [`HttpVerifier`], the adapter client (reqwest on rustls with the
//!   `ring` provider) with per-request timeouts, retries with exponential backoff
//!   and full jitter, and [`poll_until`] for a deadline;
//! - [`simulator`]: a deterministic simulator, in-process ([`SimulatedVerifier`])
//!   and over HTTP ([`simulator::router`], [`simulator::serve`], [`SimServer`]),
//!   whose answers follow from documented magic values, with configurable delays
//!   and failure injection, counting submissions per idempotency key.
//!
//! `docs/SMEV.md` in the repository describes the wire format, the magic values,
//! the retry policy and the configuration.
//!
//! ```
//! use std::time::Duration;
//! use utrust_core::domain::catalog::SmevCheckKind;
//! use utrust_core::ports::identity::{CheckResult, CheckSubject, IdentityVerifier};
//! use utrust_smev::{SimConfig, SimulatedVerifier, poll_until};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
//! rt.block_on(async {
//!     // Answers "pending" twice, then the final result.
//!     let sim = SimulatedVerifier::new(SimConfig { pending_polls: 2, ..SimConfig::default() });
//!     let subject = CheckSubject {
//!         surname: "Невалидов".into(),
//!         given_name: "Иван".into(),
//!         patronymic: None,
//!         birth_date: None,
//!         snils: None,
//!         inn: None,
//!         passport: Some((
//!             utrust_core::domain::identifiers::PassportRf::parse("4510", "123456", "770-001")?,
//!             time::macros::date!(2010 - 01 - 02),
//!         )),
//!         certificate_der: None,
//!     };
//!     let ticket = sim.submit("application-1/passport", SmevCheckKind::Passport, &subject).await?;
//!     assert_eq!(sim.poll(&ticket).await?, None);
//!     let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
//!     let result = poll_until(&sim, &ticket, deadline, Duration::from_millis(1)).await?;
//!     assert_eq!(result, CheckResult::Invalid("full name does not match the records".into()));
//!     // The same key maps to the same request: one check, two submits seen.
//!     let again = sim.submit("application-1/passport", SmevCheckKind::Passport, &subject).await?;
//!     assert_eq!(again, ticket);
//!     assert_eq!((sim.stats().checks_created, sim.submits_for("application-1/passport")), (1, 2));
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })
//! # }
//! ```

pub mod client;
pub mod simulator;
pub mod wire;

pub use client::{
    ClientError, HttpVerifier, HttpVerifierConfig, RetryPolicy, install_crypto_provider, poll_until,
};
pub use simulator::{SimConfig, SimError, SimServer, SimStats, SimulatedVerifier};
