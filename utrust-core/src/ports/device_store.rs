//! Persistence of hardware-token self-service: device records, device types and
//! policies, secret-question answers (argon2 hashes only) and the crypto-means
//! journal. A part of [`Store`](super::Store), kept in its own trait so that its
//! implementations live in their own files.

use async_trait::async_trait;

/// See the module documentation.
#[async_trait]
pub trait DeviceStore: Send + Sync {}
