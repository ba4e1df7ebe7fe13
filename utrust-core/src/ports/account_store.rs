//! Persistence of head accounts (found by INN, and KPP for legal entities) and
//! power-of-attorney data. A part of [`Store`](super::Store), kept in its own
//! trait so that its implementations live in their own files.

use async_trait::async_trait;

/// See the module documentation.
#[async_trait]
pub trait AccountStore: Send + Sync {}
