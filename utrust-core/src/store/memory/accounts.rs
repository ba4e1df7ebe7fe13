//! [`AccountStore`] in memory: its tables sit behind their own lock.

use async_trait::async_trait;

use super::MemoryStore;
use crate::ports::AccountStore;

/// The tables of [`AccountStore`].
#[derive(Debug, Default)]
pub(super) struct AccountTables {}

#[async_trait]
impl AccountStore for MemoryStore {}
