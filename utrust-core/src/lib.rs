//! # utrust-core
//!
//! The domain model, the lifecycle engine and the ports of utrust, a
//! certificate-lifecycle engine for the registration offices of certification
//! authorities.
//!
//! * [`domain`] — pure values and rules: validated identifiers (INN, SNILS, OGRN…),
//!   the catalog (products with OID sets, services with every flag), the agent
//!   network with quotas, applications and their one transition table, request
//!   templates. No I/O, no clock, no randomness.
//! * [`ports`] — the traits the engine needs: [`ports::Store`],
//!   [`ports::CertificateAuthority`], [`ports::RequestInspector`],
//!   [`ports::IdentityVerifier`], [`ports::TokenProvider`], [`ports::Notifier`],
//!   [`ports::Clock`], [`ports::Random`].
//! * [`engine`] — the use cases: submit, request template, attach CSR, approve,
//!   reject, cancel, issue.
//! * [`store`] — [`store::MemoryStore`], and `SqliteStore` with the `sqlite`
//!   feature (default).
//!
//! Built with `--no-default-features`, the crate depends on no runtime, SQL, HTTP,
//! PKCS#11 or PC/SC crate (CI checks it).
//!
//! ```
//! use utrust_core::domain::identifiers::Snils;
//! let snils = Snils::parse("112-233-445 95")?;
//! assert_eq!(snils.as_str(), "11223344595");
//! # Ok::<(), utrust_core::domain::identifiers::IdentifierError>(())
//! ```

pub mod domain;
pub mod engine;
pub mod error;
pub mod ports;
pub mod store;

pub use engine::{CheckRunStats, CheckTiming, Engine, NewApplication};
pub use error::{Error, Result};
