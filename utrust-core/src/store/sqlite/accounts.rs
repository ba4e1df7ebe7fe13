//! [`AccountStore`] on SQLite: documents keyed by `UNIQUE (inn, kpp)`.

use async_trait::async_trait;

use super::codec::{db, from_json, get, to_json, version_i64};
use super::{SqliteStore, finish};
use crate::domain::head_accounts::{AccountKey, HeadAccount};
use crate::domain::ids::HeadAccountId;
use crate::ports::{AccountFilter, AccountStore, StoreError};

#[async_trait]
impl AccountStore for SqliteStore {
    async fn find_or_create_account(
        &self,
        candidate: &HeadAccount,
    ) -> Result<(HeadAccount, bool), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            let done = sqlx::query(
                "INSERT INTO head_accounts (id, inn, kpp, version, data) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (inn, kpp) DO NOTHING",
            )
            .bind(candidate.id.to_string())
            .bind(candidate.key.inn.as_str().to_owned())
            .bind(candidate.key.kpp_str().to_owned())
            .bind(version_i64(candidate.version)?)
            .bind(to_json("account", candidate)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| super::codec::insert_error(e, "account", "id"))?;
            let row = sqlx::query("SELECT data FROM head_accounts WHERE inn = ? AND kpp = ?")
                .bind(candidate.key.inn.as_str().to_owned())
                .bind(candidate.key.kpp_str().to_owned())
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            let account: HeadAccount = from_json("account", &get::<String>(&row, "data")?)?;
            Ok((account, done.rows_affected() == 1))
        }
        .await;
        finish(tx, result).await
    }

    async fn account(&self, id: HeadAccountId) -> Result<Option<HeadAccount>, StoreError> {
        self.fetch_data(
            "SELECT data FROM head_accounts WHERE id = ?",
            id.to_string(),
        )
        .await?
        .map(|d| from_json("account", &d))
        .transpose()
    }

    async fn account_by_key(&self, key: &AccountKey) -> Result<Option<HeadAccount>, StoreError> {
        let row = sqlx::query("SELECT data FROM head_accounts WHERE inn = ? AND kpp = ?")
            .bind(key.inn.as_str().to_owned())
            .bind(key.kpp_str().to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| from_json("account", &get::<String>(&r, "data")?))
            .transpose()
    }

    async fn update_account(&self, account: &HeadAccount) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let result = async {
            let previous = account.version.checked_sub(1);
            let done = match previous {
                Some(p) => sqlx::query(
                    "UPDATE head_accounts SET version = ?, data = ? \
                     WHERE id = ? AND version = ? AND inn = ? AND kpp = ?",
                )
                .bind(version_i64(account.version)?)
                .bind(to_json("account", account)?)
                .bind(account.id.to_string())
                .bind(version_i64(p)?)
                .bind(account.key.inn.as_str().to_owned())
                .bind(account.key.kpp_str().to_owned())
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected(),
                None => 0,
            };
            if done == 1 {
                return Ok(());
            }
            let exists = sqlx::query("SELECT 1 FROM head_accounts WHERE id = ?")
                .bind(account.id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
                .is_some();
            Err(if exists {
                StoreError::AccountVersionConflict { id: account.id }
            } else {
                StoreError::NotFound {
                    entity: "account",
                    id: account.id.to_string(),
                }
            })
        }
        .await;
        finish(tx, result).await
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
        // Without a cursor, `id > ''` holds for every id; without a filter,
        // `? IS NULL` holds.
        let rows = sqlx::query(
            "SELECT data FROM head_accounts WHERE id > ? AND (? IS NULL OR inn = ?) \
             ORDER BY id LIMIT ?",
        )
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(filter.inn.as_ref().map(|i| i.as_str().to_owned()))
        .bind(filter.inn.as_ref().map(|i| i.as_str().to_owned()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| from_json("account", &get::<String>(r, "data")?))
            .collect()
    }
}
