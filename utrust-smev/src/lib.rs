//! # utrust-smev
//!
//! Identity checks through SMEV (passport validity, SNILS ↔ name, INN by passport):
//! an asynchronous HTTP adapter client and a deterministic simulator, implementing
//! the core's `IdentityVerifier` port.
//!
//! This crate is part of the workspace layout from the start so the dependency
//! direction (`core` ← `smev` ← `server`) is fixed; its adapters arrive with the
//! SMEV issue and export nothing yet.
