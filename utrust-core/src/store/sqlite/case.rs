//! [`CaseStore`] on SQLite.

use async_trait::async_trait;

use super::SqliteStore;
use crate::ports::CaseStore;

#[async_trait]
impl CaseStore for SqliteStore {}
