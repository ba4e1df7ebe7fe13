//! Ports: the traits through which the engine reaches the outside world.
//! Adapters implement them in other crates (`utrust-pki`, `utrust-device`,
//! `utrust-smev`) or behind features of this crate (the SQL stores).

pub mod ca;

pub use ca::{CaError, CertificateAuthority, CsrRejection, IssueRequest, RequestInspector};
