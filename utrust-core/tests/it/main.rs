//! Integration tests of utrust-core: the store conformance suite (run against
//! every store) and engine tests on both stores with honest test doubles for the
//! CA and the request inspector.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod accounts;
mod case_engine;
mod case_file;
mod conformance;
mod devices;
#[cfg(feature = "sqlite")]
mod differential;
mod doubles;
mod engine;
mod head_accounts;
mod lifecycle;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod support;
