//! [`DeviceStore`] in memory: its tables sit behind their own lock.

use async_trait::async_trait;

use super::MemoryStore;
use crate::ports::DeviceStore;

/// The tables of [`DeviceStore`].
#[derive(Debug, Default)]
pub(super) struct DeviceTables {}

#[async_trait]
impl DeviceStore for MemoryStore {}
