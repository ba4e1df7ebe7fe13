//! Integration tests of utrust-device against SoftHSM2, OpenSC's pkcs11-tool,
//! OpenSSL and (feature `pcsc`) pcscd + vpcd + vicc.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once per process, so every SoftHSM test runs
//! its body in a child process of this binary (re-executed with
//! `UTRUST_IT_CHILD` naming the test) with its own config and token directory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

mod errors;
mod issuance;
mod keypairgen;
#[cfg(feature = "pcsc")]
mod pcsc;
mod prepare;
mod selfservice;
