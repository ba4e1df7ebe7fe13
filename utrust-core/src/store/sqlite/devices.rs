//! [`DeviceStore`] on SQLite.

use async_trait::async_trait;

use super::SqliteStore;
use crate::ports::DeviceStore;

#[async_trait]
impl DeviceStore for SqliteStore {}
