//! Persistence of head accounts (found by INN, and KPP for legal entities). A
//! part of [`Store`](super::Store), kept in its own trait so that its
//! implementations live in their own files.
//!
//! `(inn, kpp)` is unique: [`AccountStore::find_or_create_account`] is atomic, so
//! two applications of the same company submitted at once (in two threads or two
//! server processes sharing one PostgreSQL) end up linked to one account.

use async_trait::async_trait;

use crate::domain::head_accounts::{AccountKey, HeadAccount};
use crate::domain::identifiers::AnyInn;
use crate::domain::ids::HeadAccountId;
use crate::ports::StoreError;

/// Which accounts a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFilter {
    /// Only accounts with this INN (all KPPs of a company).
    pub inn: Option<AnyInn>,
}

/// See the module documentation.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The account with `candidate.key`, or `candidate` stored (version 1) if
    /// there is none; `true` when it was created. Atomic: of two concurrent calls
    /// with the same key, one creates and the other gets that account.
    async fn find_or_create_account(
        &self,
        candidate: &HeadAccount,
    ) -> Result<(HeadAccount, bool), StoreError>;

    /// An account by id.
    async fn account(&self, id: HeadAccountId) -> Result<Option<HeadAccount>, StoreError>;

    /// An account by its key.
    async fn account_by_key(&self, key: &AccountKey) -> Result<Option<HeadAccount>, StoreError>;

    /// Writes `account` if the stored version is exactly `account.version - 1`
    /// (the key never changes).
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::AccountVersionConflict`].
    async fn update_account(&self, account: &HeadAccount) -> Result<(), StoreError>;

    /// Accounts matching `filter`, ordered by id, after the cursor, at most `limit`.
    async fn list_accounts(
        &self,
        filter: &AccountFilter,
        after: Option<HeadAccountId>,
        limit: u32,
    ) -> Result<Vec<HeadAccount>, StoreError>;
}
