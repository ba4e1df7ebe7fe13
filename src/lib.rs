//! # utrust
//!
//! An embeddable certificate-lifecycle engine for the registration offices of
//! certification authorities: applications from natural persons, sole
//! proprietors and legal entities, verification at issuing points with exact
//! quotas, PKCS#10 requests with the Russian subject attributes, issuance through
//! a CA.
//!
//! This facade only re-exports the crates:
//! * [`core`] — domain, engine, ports, stores (`utrust-core`);
//! * [`pki`] — PKCS#10, signatures, the local CA (`utrust-pki`).
//!
//! See `examples/embed_sqlite.rs` for a complete embedding, and
//! `docs/ARCHITECTURE.md` for the design.

pub use utrust_core as core;
pub use utrust_pki as pki;
