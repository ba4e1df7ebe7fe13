//! [`DeviceStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::ports::DeviceStore;

#[async_trait]
impl DeviceStore for PgStore {}
