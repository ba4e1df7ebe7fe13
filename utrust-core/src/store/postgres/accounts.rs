//! [`AccountStore`] on PostgreSQL: documents keyed by `UNIQUE (inn, kpp)`;
//! find-or-create is `INSERT … ON CONFLICT DO NOTHING` and a read in one
//! transaction, so concurrent processes agree on one account.

use async_trait::async_trait;

use super::error::{insert_error, not_found};
use super::value::{data, to_json, version_i64};
use super::{PgStore, transaction};
use crate::domain::head_accounts::{AccountKey, HeadAccount};
use crate::domain::ids::HeadAccountId;
use crate::ports::{AccountFilter, AccountStore, StoreError};

#[async_trait]
impl AccountStore for PgStore {
    async fn find_or_create_account(
        &self,
        candidate: &HeadAccount,
    ) -> Result<(HeadAccount, bool), StoreError> {
        transaction!(self.pool, |conn| async {
            let done = sqlx::query(
                "INSERT INTO head_accounts (id, inn, kpp, version, data) \
                 VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (inn, kpp) DO NOTHING",
            )
            .bind(candidate.id.to_string())
            .bind(candidate.key.inn.as_str().to_owned())
            .bind(candidate.key.kpp_str().to_owned())
            .bind(version_i64(candidate.version)?)
            .bind(to_json("account", candidate)?)
            .execute(&mut *conn)
            .await
            .map_err(|e| insert_error(e, "account", "id"))?;
            // The conflicting row is committed (ON CONFLICT waits for it), so a
            // READ COMMITTED statement started now sees it.
            let row = sqlx::query(
                "SELECT data::text AS data FROM head_accounts WHERE inn = $1 AND kpp = $2",
            )
            .bind(candidate.key.inn.as_str().to_owned())
            .bind(candidate.key.kpp_str().to_owned())
            .fetch_one(&mut *conn)
            .await?;
            let account: HeadAccount = data("account", &row)?;
            Ok((account, done.rows_affected() == 1))
        })
    }

    async fn account(&self, id: HeadAccountId) -> Result<Option<HeadAccount>, StoreError> {
        let row = sqlx::query("SELECT data::text AS data FROM head_accounts WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::from(super::error::Failure::from(e)))?;
        Ok(row.map(|r| data("account", &r)).transpose()?)
    }

    async fn account_by_key(&self, key: &AccountKey) -> Result<Option<HeadAccount>, StoreError> {
        let row =
            sqlx::query("SELECT data::text AS data FROM head_accounts WHERE inn = $1 AND kpp = $2")
                .bind(key.inn.as_str().to_owned())
                .bind(key.kpp_str().to_owned())
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| StoreError::from(super::error::Failure::from(e)))?;
        Ok(row.map(|r| data("account", &r)).transpose()?)
    }

    async fn update_account(&self, account: &HeadAccount) -> Result<(), StoreError> {
        transaction!(self.pool, |conn| async {
            let done = match account.version.checked_sub(1) {
                Some(p) => sqlx::query(
                    "UPDATE head_accounts SET version = $1, data = $2::jsonb \
                     WHERE id = $3 AND version = $4 AND inn = $5 AND kpp = $6",
                )
                .bind(version_i64(account.version)?)
                .bind(to_json("account", account)?)
                .bind(account.id.to_string())
                .bind(version_i64(p)?)
                .bind(account.key.inn.as_str().to_owned())
                .bind(account.key.kpp_str().to_owned())
                .execute(&mut *conn)
                .await?
                .rows_affected(),
                None => 0,
            };
            if done == 1 {
                return Ok(());
            }
            let exists = sqlx::query("SELECT 1 FROM head_accounts WHERE id = $1")
                .bind(account.id.to_string())
                .fetch_optional(&mut *conn)
                .await?
                .is_some();
            if exists {
                Err(StoreError::AccountVersionConflict { id: account.id }.into())
            } else {
                Err(not_found("account", account.id))
            }
        })
    }

    async fn list_accounts(
        &self,
        filter: &AccountFilter,
        after: Option<HeadAccountId>,
        limit: u32,
    ) -> Result<Vec<HeadAccount>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT data::text AS data FROM head_accounts \
             WHERE id > $1 AND ($2::text IS NULL OR inn = $2) ORDER BY id LIMIT $3",
        )
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(filter.inn.as_ref().map(|i| i.as_str().to_owned()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::from(super::error::Failure::from(e)))?;
        Ok(rows
            .iter()
            .map(|r| data("account", r))
            .collect::<Result<Vec<_>, _>>()?)
    }
}
