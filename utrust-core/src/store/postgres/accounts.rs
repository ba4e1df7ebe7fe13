//! [`AccountStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::ports::AccountStore;

#[async_trait]
impl AccountStore for PgStore {}
