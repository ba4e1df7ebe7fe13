//! Content of case-file documents (and their detached signatures), stored by
//! SHA-256: content-addressed, written once, never overwritten. The metadata
//! lives in [`CaseStore`](super::CaseStore).
//!
//! Implementations: [`MemoryDocumentStore`] (tests) and the filesystem store of
//! `utrust-server` (under the data directory, written atomically).

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::casefile::Sha256Hex;

/// Failures of the document store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentStoreError {
    /// The content does not hash to the key it was given (corrupt input or
    /// storage).
    #[error("content does not match its SHA-256 {0}")]
    DigestMismatch(Sha256Hex),
    /// Reading or writing failed.
    #[error("document storage failed: {0}")]
    Io(String),
}

/// Content-addressed storage of document bytes.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Stores `content` under `sha256` (its SHA-256, computed by the caller). If
    /// the key exists the stored content is left as it is (same hash, same
    /// content): nothing is ever overwritten.
    ///
    /// # Errors
    /// [`DocumentStoreError`].
    async fn put(&self, sha256: &Sha256Hex, content: &[u8]) -> Result<(), DocumentStoreError>;

    /// The content stored under `sha256`, if any.
    ///
    /// # Errors
    /// [`DocumentStoreError`].
    async fn get(&self, sha256: &Sha256Hex) -> Result<Option<Vec<u8>>, DocumentStoreError>;
}

/// A [`DocumentStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryDocumentStore {
    blobs: Mutex<BTreeMap<Sha256Hex, Vec<u8>>>,
}

impl MemoryDocumentStore {
    fn lock(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, BTreeMap<Sha256Hex, Vec<u8>>>, DocumentStoreError> {
        self.blobs
            .lock()
            .map_err(|_| DocumentStoreError::Io("lock poisoned".into()))
    }
}

#[async_trait]
impl DocumentStore for MemoryDocumentStore {
    async fn put(&self, sha256: &Sha256Hex, content: &[u8]) -> Result<(), DocumentStoreError> {
        if Sha256Hex::of(content) != *sha256 {
            return Err(DocumentStoreError::DigestMismatch(sha256.clone()));
        }
        self.lock()?
            .entry(sha256.clone())
            .or_insert_with(|| content.to_vec());
        Ok(())
    }

    async fn get(&self, sha256: &Sha256Hex) -> Result<Option<Vec<u8>>, DocumentStoreError> {
        Ok(self.lock()?.get(sha256).cloned())
    }
}
