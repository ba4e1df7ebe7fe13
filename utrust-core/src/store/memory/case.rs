//! [`CaseStore`] in memory: its tables sit behind their own lock.

use async_trait::async_trait;

use super::MemoryStore;
use crate::ports::CaseStore;

/// The tables of [`CaseStore`].
#[derive(Debug, Default)]
pub(super) struct CaseTables {}

#[async_trait]
impl CaseStore for MemoryStore {}
