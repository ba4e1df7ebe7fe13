//! Persistence of an application's case file: uploaded documents (metadata; the
//! content lives behind the `DocumentStore` port), signatures, payment and ЕСИА
//! registration. A part of [`Store`](super::Store), kept in its own trait so that
//! its implementations live in their own files.

use async_trait::async_trait;

/// See the module documentation.
#[async_trait]
pub trait CaseStore: Send + Sync {}
