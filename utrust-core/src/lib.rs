//! # utrust-core
//!
//! The domain model, the lifecycle engine and the ports of utrust.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod domain;
pub mod ports;
