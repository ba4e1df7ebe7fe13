//! The pure domain: values, rules and the state machine. No I/O, no clock reads, no
//! randomness: everything time- or chance-dependent comes in as an argument.

pub mod access;
pub mod agents;
pub mod application;
pub mod attorney;
pub mod casefile;
pub mod catalog;
pub mod certificate;
pub mod checks;
pub mod devices;
pub mod head_accounts;
pub mod hex;
pub mod identifiers;
pub mod ids;
pub mod lifecycle;
pub mod profile;
pub mod quota;
pub mod request;
pub mod revocation;
pub mod secret;
pub mod template;
