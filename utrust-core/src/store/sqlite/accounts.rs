//! [`AccountStore`] on SQLite.

use async_trait::async_trait;

use super::SqliteStore;
use crate::ports::AccountStore;

#[async_trait]
impl AccountStore for SqliteStore {}
