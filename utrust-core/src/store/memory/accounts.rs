//! [`AccountStore`] in memory: its tables sit behind their own lock, so
//! find-or-create is atomic.

use std::collections::BTreeMap;
use std::sync::MutexGuard;

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::head_accounts::{AccountKey, HeadAccount};
use crate::domain::ids::HeadAccountId;
use crate::ports::{AccountFilter, AccountStore, StoreError};

/// The tables of [`AccountStore`].
#[derive(Debug, Default)]
pub(super) struct AccountTables {
    accounts: BTreeMap<HeadAccountId, HeadAccount>,
    /// `(inn, kpp)` → id; the KPP is empty when absent.
    by_key: BTreeMap<(String, String), HeadAccountId>,
}

fn key_of(key: &AccountKey) -> (String, String) {
    (key.inn.as_str().to_owned(), key.kpp_str().to_owned())
}

impl MemoryStore {
    fn account_tables(&self) -> MutexGuard<'_, AccountTables> {
        // Every method validates before it mutates: a poisoned lock holds no
        // half-applied change.
        match self.accounts.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn find_or_create_account(
        &self,
        candidate: &HeadAccount,
    ) -> Result<(HeadAccount, bool), StoreError> {
        let mut t = self.account_tables();
        let key = key_of(&candidate.key);
        if let Some(existing) = t.by_key.get(&key).and_then(|id| t.accounts.get(id)) {
            return Ok((existing.clone(), false));
        }
        if t.accounts.contains_key(&candidate.id) {
            return Err(StoreError::Duplicate {
                entity: "account",
                field: "id",
            });
        }
        t.by_key.insert(key, candidate.id);
        t.accounts.insert(candidate.id, candidate.clone());
        Ok((candidate.clone(), true))
    }

    async fn account(&self, id: HeadAccountId) -> Result<Option<HeadAccount>, StoreError> {
        Ok(self.account_tables().accounts.get(&id).cloned())
    }

    async fn account_by_key(&self, key: &AccountKey) -> Result<Option<HeadAccount>, StoreError> {
        let t = self.account_tables();
        Ok(t.by_key
            .get(&key_of(key))
            .and_then(|id| t.accounts.get(id))
            .cloned())
    }

    async fn update_account(&self, account: &HeadAccount) -> Result<(), StoreError> {
        let mut t = self.account_tables();
        let Some(stored) = t.accounts.get_mut(&account.id) else {
            return Err(StoreError::NotFound {
                entity: "account",
                id: account.id.to_string(),
            });
        };
        if account.version.checked_sub(1) != Some(stored.version) || stored.key != account.key {
            return Err(StoreError::AccountVersionConflict { id: account.id });
        }
        *stored = account.clone();
        Ok(())
    }

    async fn list_accounts(
        &self,
        filter: &AccountFilter,
        after: Option<HeadAccountId>,
        limit: u32,
    ) -> Result<Vec<HeadAccount>, StoreError> {
        let t = self.account_tables();
        let start = match after {
            Some(a) => std::ops::Bound::Excluded(a),
            None => std::ops::Bound::Unbounded,
        };
        Ok(t.accounts
            .range((start, std::ops::Bound::Unbounded))
            .map(|(_, a)| a)
            .filter(|a| filter.inn.as_ref().is_none_or(|inn| a.key.inn == *inn))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }
}
