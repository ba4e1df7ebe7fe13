//! [`CaseStore`] on SQLite: document metadata in `case_documents` (migration 6).

use async_trait::async_trait;

use super::codec::{db, from_json, get, insert_error, to_json};
use super::{SqliteStore, finish};
use crate::domain::casefile::{CaseDocument, DocumentSignature};
use crate::domain::ids::{ApplicationId, DocumentId};
use crate::ports::{CaseStore, StoreError};

fn size_i64(doc: &CaseDocument) -> Result<i64, StoreError> {
    i64::try_from(doc.size).map_err(|_| StoreError::Backend("document size out of range".into()))
}

#[async_trait]
impl CaseStore for SqliteStore {
    async fn insert_document(&self, doc: &CaseDocument) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            sqlx::query(
                "INSERT INTO case_documents (id, application_id, seq, kind, sha256, size, signed, data) \
                 VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM case_documents), ?, ?, ?, ?, ?)",
            )
            .bind(doc.id.to_string())
            .bind(doc.application_id.to_string())
            .bind(doc.kind.as_str())
            .bind(doc.sha256.as_str().to_owned())
            .bind(size_i64(doc)?)
            .bind(doc.signature.is_some())
            .bind(to_json("document", doc)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_error(e, "document", "id"))?;
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    async fn documents(&self, application: ApplicationId) -> Result<Vec<CaseDocument>, StoreError> {
        let rows = sqlx::query(
            "SELECT data FROM case_documents WHERE application_id = ? ORDER BY seq, id",
        )
        .bind(application.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        let mut docs = rows
            .iter()
            .map(|r| {
                let d: String = get(r, "data")?;
                from_json::<CaseDocument>("document", &d)
            })
            .collect::<Result<Vec<_>, _>>()?;
        // As the memory store: upload time, then upload order.
        docs.sort_by_key(|d| d.uploaded_at);
        Ok(docs)
    }

    async fn document(
        &self,
        application: ApplicationId,
        id: DocumentId,
    ) -> Result<Option<CaseDocument>, StoreError> {
        let row =
            sqlx::query("SELECT data FROM case_documents WHERE id = ? AND application_id = ?")
                .bind(id.to_string())
                .bind(application.to_string())
                .fetch_optional(self.pool())
                .await
                .map_err(db)?;
        row.map(|r| {
            let d: String = get(&r, "data")?;
            from_json("document", &d)
        })
        .transpose()
    }

    async fn set_document_signature(
        &self,
        application: ApplicationId,
        id: DocumentId,
        signature: &DocumentSignature,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            let row =
                sqlx::query("SELECT data FROM case_documents WHERE id = ? AND application_id = ?")
                    .bind(id.to_string())
                    .bind(application.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            let Some(row) = row else {
                return Err(StoreError::NotFound {
                    entity: "document",
                    id: id.to_string(),
                });
            };
            let d: String = get(&row, "data")?;
            let mut doc: CaseDocument = from_json("document", &d)?;
            if doc.signature.is_some() {
                return Err(StoreError::Duplicate {
                    entity: "signature",
                    field: "document",
                });
            }
            doc.signature = Some(signature.clone());
            let done = sqlx::query(
                "UPDATE case_documents SET signed = 1, data = ? WHERE id = ? AND signed = 0",
            )
            .bind(to_json("document", &doc)?)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Duplicate {
                    entity: "signature",
                    field: "document",
                });
            }
            Ok(())
        }
        .await;
        finish(tx, result).await
    }
}
