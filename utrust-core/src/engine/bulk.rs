//! Bulk creation of applications (seed 004: «массово создавать заявки» for
//! services that allow it): a batch of rows, each already parsed (or refused) by
//! the caller, submitted one by one for one service at one point.
//!
//! Every row is its own unit of work: a row refused while parsing or by
//! [`Engine::submit`]'s checks creates nothing and never affects the other rows;
//! an accepted row is stored as if it had been submitted alone. The batch as a
//! whole is refused (and nothing created) only when the principal lacks the
//! `bulk_create` permission, may not use the point, the service does not allow
//! bulk creation, or there are more than [`MAX_BULK_ROWS`] rows.

use super::Engine;
use crate::domain::access::{Permission, Principal};
use crate::domain::catalog::Service;
use crate::domain::ids::{ApplicationId, PointId, ServiceId};
use crate::error::{Error, Result};

use super::NewApplication;

/// The most rows one batch may hold.
pub const MAX_BULK_ROWS: usize = 1000;

/// Why a row was refused, in the terms of [`Error::code`], its message and the
/// field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Stable error code (`invalid_field`, `point_unavailable`, …).
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// The input field at fault, if the error is about one.
    pub field: Option<String>,
}

impl RowError {
    /// A row error with a code, a message and optionally a field.
    pub fn new(code: impl Into<String>, message: impl Into<String>, field: Option<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            field,
        }
    }
}

impl From<&Error> for RowError {
    fn from(e: &Error) -> Self {
        let message = match e {
            // Storage details are not for the caller.
            Error::Storage(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        Self {
            code: e.code().to_owned(),
            message,
            field: e.field(),
        }
    }
}

/// One row of a batch: its number in the caller's terms (e.g. the line of a CSV
/// file) and its data, or why it could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkRow {
    /// The caller's row number, echoed in the report.
    pub row: u64,
    /// The parsed application (its `products` may be empty: then every product
    /// of the service is ordered), or the parse error.
    pub data: core::result::Result<NewApplication, RowError>,
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowOutcome {
    /// The caller's row number.
    pub row: u64,
    /// The created application's id, or why the row was refused.
    pub result: core::result::Result<ApplicationId, RowError>,
}

/// The report of a batch: one outcome per row, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkReport {
    /// Rows that created an application.
    pub accepted: usize,
    /// Rows refused.
    pub rejected: usize,
    /// Every row's outcome.
    pub rows: Vec<RowOutcome>,
}

impl Engine {
    /// Whether `principal` may create applications in bulk for `service_id` at
    /// `point_id`; returns the service.
    ///
    /// # Errors
    /// [`Error::Forbidden`] without `bulk_create`; [`Error::Invalid`] naming
    /// `point_id` for a point the principal may not use, or `service_id` for an
    /// unknown or inactive service; [`Error::BulkNotAllowed`] when the service's
    /// `bulk_csv` flag is off.
    pub async fn bulk_allowed(
        &self,
        principal: &Principal,
        service_id: ServiceId,
        point_id: PointId,
    ) -> Result<Service> {
        self.authorize(principal, Permission::BulkCreate)?;
        self.usable_point(principal, point_id).await?;
        let service = self
            .store
            .service(service_id)
            .await?
            .ok_or_else(|| Error::invalid("service_id", "no such service"))?;
        if !service.active {
            return Err(Error::invalid("service_id", "the service is not active"));
        }
        if !service.bulk_csv {
            return Err(Error::BulkNotAllowed {
                service: service_id.to_string(),
            });
        }
        Ok(service)
    }

    /// Creates one application per accepted row, for `service_id` at `point_id`,
    /// after [`Engine::bulk_allowed`]. A row with no products orders every
    /// product of the service; a row naming another service or point is refused.
    /// Each row is submitted on its own as by [`Engine::submit`]: a refused row
    /// changes nothing and does not stop the others.
    ///
    /// # Errors
    /// Those of [`Engine::bulk_allowed`], and [`Error::Invalid`] naming `rows`
    /// for more than [`MAX_BULK_ROWS`] rows; then nothing is created.
    pub async fn bulk_submit(
        &self,
        principal: &Principal,
        service_id: ServiceId,
        point_id: PointId,
        rows: Vec<BulkRow>,
    ) -> Result<BulkReport> {
        if rows.len() > MAX_BULK_ROWS {
            return Err(Error::invalid(
                "rows",
                format!("at most {MAX_BULK_ROWS} rows in one batch"),
            ));
        }
        let service = self.bulk_allowed(principal, service_id, point_id).await?;
        let mut report = BulkReport {
            rows: Vec::with_capacity(rows.len()),
            ..BulkReport::default()
        };
        for BulkRow { row, data } in rows {
            let result = match data {
                Err(e) => Err(e),
                Ok(new) => self.bulk_one(&service, point_id, new, principal).await,
            };
            if result.is_ok() {
                report.accepted += 1;
            } else {
                report.rejected += 1;
            }
            report.rows.push(RowOutcome { row, result });
        }
        Ok(report)
    }

    async fn bulk_one(
        &self,
        service: &Service,
        point_id: PointId,
        mut new: NewApplication,
        principal: &Principal,
    ) -> core::result::Result<ApplicationId, RowError> {
        if new.service_id != service.id {
            return Err(RowError::from(&Error::invalid(
                "service_id",
                "the row names another service than the batch",
            )));
        }
        if new.point_id != point_id {
            return Err(RowError::from(&Error::invalid(
                "point_id",
                "the row names another point than the batch",
            )));
        }
        if new.products.is_empty() {
            new.products.clone_from(&service.products);
        }
        self.submit(new, principal.actor())
            .await
            .map(|app| app.id)
            .map_err(|e| RowError::from(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_do_not_leak_into_row_errors() {
        let e = RowError::from(&Error::Storage("disk path /var/x".into()));
        assert_eq!(e.code, "internal");
        assert_eq!(e.message, "internal error");
        assert_eq!(e.field, None);
        let e = RowError::from(&Error::invalid("owner.snils", "bad checksum"));
        assert_eq!(e.code, "invalid_field");
        assert_eq!(e.field.as_deref(), Some("owner.snils"));
    }
}
