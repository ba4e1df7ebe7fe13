//! Recovery after crashes: reservations of issuances that never finished are
//! released and their applications return to `ReadyToIssue`, with the reason in
//! history. Safe to run on several processes at once: each release is a
//! version-checked unit of work, so only one wins.

use super::Engine;
use crate::domain::application::Actor;
use crate::domain::lifecycle::{ApplicationEvent, ApplicationStatus};
use crate::error::{Error, Result};

impl Engine {
    /// Releases up to `limit` lapsed reservations; returns how many were released.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn release_expired_reservations(&self, limit: u32) -> Result<usize> {
        let now = self.clock.now();
        let mut released = 0;
        for r in self.store.expired_reservations(now, limit).await? {
            let Some(mut app) = self.store.application(r.application_id).await? else {
                continue;
            };
            if app.status != ApplicationStatus::Issuing {
                continue;
            }
            app.version += 1;
            let entry = app.apply(
                ApplicationEvent::CaFailed,
                Actor::System,
                now,
                Some("issuance did not finish before its reservation expired".into()),
            )?;
            match self.store.abort_issuance(&app, &entry, r.id).await {
                Ok(()) => released += 1,
                Err(e) => match Error::from(e) {
                    Error::Conflict => {}
                    other => return Err(other),
                },
            }
        }
        Ok(released)
    }
}
