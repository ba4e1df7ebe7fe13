//! [`CaseStore`] in memory: its tables sit behind their own lock.

use std::collections::BTreeMap;
use std::sync::MutexGuard;

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::casefile::{CaseDocument, DocumentSignature};
use crate::domain::ids::{ApplicationId, DocumentId};
use crate::ports::{CaseStore, StoreError};

/// The tables of [`CaseStore`].
#[derive(Debug, Default)]
pub(super) struct CaseTables {
    /// Documents by id, with their upload sequence number.
    documents: BTreeMap<DocumentId, (u64, CaseDocument)>,
    next_seq: u64,
}

impl MemoryStore {
    fn case_tables(&self) -> MutexGuard<'_, CaseTables> {
        match self.case.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

#[async_trait]
impl CaseStore for MemoryStore {
    async fn insert_document(&self, doc: &CaseDocument) -> Result<(), StoreError> {
        let mut t = self.case_tables();
        if t.documents.contains_key(&doc.id) {
            return Err(StoreError::Duplicate {
                entity: "document",
                field: "id",
            });
        }
        t.next_seq += 1;
        let seq = t.next_seq;
        t.documents.insert(doc.id, (seq, doc.clone()));
        Ok(())
    }

    async fn documents(&self, application: ApplicationId) -> Result<Vec<CaseDocument>, StoreError> {
        let t = self.case_tables();
        let mut v: Vec<&(u64, CaseDocument)> = t
            .documents
            .values()
            .filter(|(_, d)| d.application_id == application)
            .collect();
        v.sort_by_key(|(seq, d)| (d.uploaded_at, *seq));
        Ok(v.into_iter().map(|(_, d)| d.clone()).collect())
    }

    async fn document(
        &self,
        application: ApplicationId,
        id: DocumentId,
    ) -> Result<Option<CaseDocument>, StoreError> {
        Ok(self
            .case_tables()
            .documents
            .get(&id)
            .filter(|(_, d)| d.application_id == application)
            .map(|(_, d)| d.clone()))
    }

    async fn set_document_signature(
        &self,
        application: ApplicationId,
        id: DocumentId,
        signature: &DocumentSignature,
    ) -> Result<(), StoreError> {
        let mut t = self.case_tables();
        let Some((_, doc)) = t
            .documents
            .get_mut(&id)
            .filter(|(_, d)| d.application_id == application)
        else {
            return Err(StoreError::NotFound {
                entity: "document",
                id: id.to_string(),
            });
        };
        if doc.signature.is_some() {
            return Err(StoreError::Duplicate {
                entity: "signature",
                field: "document",
            });
        }
        doc.signature = Some(signature.clone());
        Ok(())
    }
}
