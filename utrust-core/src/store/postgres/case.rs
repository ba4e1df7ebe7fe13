//! [`CaseStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::ports::CaseStore;

#[async_trait]
impl CaseStore for PgStore {}
