//! # utrust-device
//!
//! Hardware tokens for utrust: PKCS#11 through `cryptoki` (module loaded at run
//! time, SoftHSM2 in tests) and PC/SC readers through `pcsc` (behind the `pcsc`
//! feature), implementing the core's `TokenProvider` port, and the self-service
//! token issuance of seed 000.
//!
//! This crate is part of the workspace layout from the start so the dependency
//! direction (`core` ← `device` ← `server`) is fixed; its adapters arrive with the
//! hardware-token issue and export nothing yet.
