//! [`CaseStore`] on PostgreSQL: document metadata in `case_documents`
//! (migration 5). Signing is a conditional update (`signed = FALSE`), so two
//! processes cannot both sign one document.

use async_trait::async_trait;

use super::error::insert_error;
use super::value::{data, to_json};
use super::{PgStore, transaction};
use crate::domain::casefile::{CaseDocument, DocumentSignature};
use crate::domain::ids::{ApplicationId, DocumentId};
use crate::ports::{CaseStore, StoreError};

fn size_i64(doc: &CaseDocument) -> Result<i64, StoreError> {
    i64::try_from(doc.size).map_err(|_| StoreError::Backend("document size out of range".into()))
}

#[async_trait]
impl CaseStore for PgStore {
    async fn insert_document(&self, doc: &CaseDocument) -> Result<(), StoreError> {
        let size = size_i64(doc)?;
        let json = to_json("document", doc).map_err(StoreError::from)?;
        transaction!(self.pool, |conn| async {
            sqlx::query(
                "INSERT INTO case_documents (id, application_id, kind, sha256, size, signed, data) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
            )
            .bind(doc.id.to_string())
            .bind(doc.application_id.to_string())
            .bind(doc.kind.as_str())
            .bind(doc.sha256.as_str().to_owned())
            .bind(size)
            .bind(doc.signature.is_some())
            .bind(json.clone())
            .execute(&mut *conn)
            .await
            .map_err(|e| insert_error(e, "document", "id"))?;
            Ok(())
        })
    }

    async fn documents(&self, application: ApplicationId) -> Result<Vec<CaseDocument>, StoreError> {
        let rows = sqlx::query(
            "SELECT data::text AS data FROM case_documents WHERE application_id = $1 ORDER BY seq, id",
        )
        .bind(application.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::from(super::error::Failure::from(e)))?;
        let mut docs = rows
            .iter()
            .map(|r| data::<CaseDocument>("document", r).map_err(StoreError::from))
            .collect::<Result<Vec<_>, _>>()?;
        docs.sort_by_key(|d| d.uploaded_at);
        Ok(docs)
    }

    async fn document(
        &self,
        application: ApplicationId,
        id: DocumentId,
    ) -> Result<Option<CaseDocument>, StoreError> {
        let row = sqlx::query(
            "SELECT data::text AS data FROM case_documents WHERE id = $1 AND application_id = $2",
        )
        .bind(id.to_string())
        .bind(application.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| StoreError::from(super::error::Failure::from(e)))?;
        row.map(|r| data("document", &r).map_err(StoreError::from))
            .transpose()
    }

    async fn set_document_signature(
        &self,
        application: ApplicationId,
        id: DocumentId,
        signature: &DocumentSignature,
    ) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| async {
            let row = sqlx::query(
                "SELECT data::text AS data FROM case_documents WHERE id = $1 AND application_id = $2 FOR UPDATE",
            )
            .bind(id.to_string())
            .bind(application.to_string())
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else {
                return Err(StoreError::NotFound {
                    entity: "document",
                    id: id.to_string(),
                }
                .into());
            };
            let mut doc: CaseDocument = data("document", &row)?;
            if doc.signature.is_some() {
                return Err(StoreError::Duplicate {
                    entity: "signature",
                    field: "document",
                }
                .into());
            }
            doc.signature = Some(signature.clone());
            let done = sqlx::query(
                "UPDATE case_documents SET signed = TRUE, data = $1::jsonb WHERE id = $2 AND signed = FALSE",
            )
            .bind(to_json("document", &doc)?)
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Duplicate {
                    entity: "signature",
                    field: "document",
                }
                .into());
            }
            Ok(())
        })
    }
}
