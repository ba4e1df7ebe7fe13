//! Persistence of an application's case file: the metadata of uploaded documents
//! and their signatures (the content lives behind the
//! [`DocumentStore`](super::DocumentStore) port). Payment and the ЕСИА
//! registration attempt are fields of the application; the registration itself
//! is an identity check of kind `esia_registration`. A part of
//! [`Store`](super::Store), kept in its own trait so that its implementations live
//! in their own files.

use async_trait::async_trait;

use crate::domain::casefile::{CaseDocument, DocumentSignature};
use crate::domain::ids::{ApplicationId, DocumentId};
use crate::ports::StoreError;

/// See the module documentation.
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Adds a document's metadata ([`StoreError::Duplicate`] on its id).
    async fn insert_document(&self, doc: &CaseDocument) -> Result<(), StoreError>;

    /// The documents of an application, in upload order (then by id).
    async fn documents(&self, application: ApplicationId) -> Result<Vec<CaseDocument>, StoreError>;

    /// One document of an application.
    async fn document(
        &self,
        application: ApplicationId,
        id: DocumentId,
    ) -> Result<Option<CaseDocument>, StoreError>;

    /// Attaches a verified signature to an unsigned document:
    /// [`StoreError::NotFound`] if there is no such document,
    /// [`StoreError::Duplicate`] (`signature`, `document`) if it is signed already.
    async fn set_document_signature(
        &self,
        application: ApplicationId,
        id: DocumentId,
        signature: &DocumentSignature,
    ) -> Result<(), StoreError>;
}
