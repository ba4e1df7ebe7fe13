//! Identity checks through SMEV as a durable background job.
//!
//! When an application enters `ChecksPending`, one [`IdentityCheck`] per kind the
//! service requires is stored for the application's current round. A worker
//! ([`Engine::process_identity_checks`], run periodically by every server)
//! claims due checks with a lease, submits them to the [`IdentityVerifier`] with
//! their idempotency key, polls until a final answer or the deadline, and stores
//! each step. When every check of the round is final, the application moves on
//! (`ChecksPassed`) or stops (`ChecksFailed`, with the reasons in history); the
//! agent may correct the owner's data and re-run the checks (a new round), or
//! accept paper documents.
//!
//! Crash safety: every step is stored before the next; a check leased by a
//! crashed worker is claimed again when its lease ends, and is resubmitted with
//! the same idempotency key only if its request id was never stored. A sweep over
//! `ChecksPending` applications creates missing checks and concludes rounds whose
//! checks are all final.

use std::sync::Arc;

use super::Engine;
use crate::domain::application::{Actor, Application, CertificateOwner};
use crate::domain::checks::{CheckState, IdentityCheck, Verdict, verdict};
use crate::domain::ids::ApplicationId;
use crate::domain::lifecycle::{ApplicationEvent, ApplicationStatus};
use crate::error::{Error, Result};
use crate::ports::{
    ApplicationFilter, CheckResult, CheckSubject, CheckTicket, IdentityVerifier, VerifierError,
};

/// Timing of identity checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTiming {
    /// After this long without a final answer a check is a `Timeout`.
    pub deadline: time::Duration,
    /// Time between polls of a submitted check.
    pub poll_interval: time::Duration,
    /// Wait after the adapter could not be reached.
    pub retry_delay: time::Duration,
    /// How long a worker holds a claimed check.
    pub lease: time::Duration,
}

impl Default for CheckTiming {
    fn default() -> Self {
        Self {
            deadline: time::Duration::days(5),
            poll_interval: time::Duration::seconds(30),
            retry_delay: time::Duration::seconds(30),
            lease: time::Duration::minutes(2),
        }
    }
}

/// What one run of the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckRunStats {
    /// Checks submitted to the adapter.
    pub submitted: usize,
    /// Checks that got their final answer (or timed out).
    pub completed: usize,
    /// Applications that moved on or stopped.
    pub concluded: usize,
}

fn subject(owner: &CertificateOwner) -> CheckSubject {
    CheckSubject {
        surname: owner.surname.clone(),
        given_name: owner.given_name.clone(),
        patronymic: owner.patronymic.clone(),
        birth_date: owner.birth_date,
        snils: Some(owner.snils.clone()),
        inn: Some(owner.inn.clone()),
        passport: owner
            .passport
            .as_ref()
            .map(|p| (p.document.clone(), p.issued_on)),
        certificate_der: None,
    }
}

fn state_of(result: CheckResult) -> CheckState {
    match result {
        CheckResult::Valid => CheckState::Valid,
        CheckResult::Invalid(r) => CheckState::Invalid(r),
        CheckResult::NotFound => CheckState::NotFound,
        CheckResult::Error(r) => CheckState::Error(r),
        CheckResult::Timeout => CheckState::Timeout,
    }
}

impl Engine {
    /// Uses `verifier` for SMEV identity checks.
    #[must_use]
    pub fn with_identity_verifier(mut self, verifier: Arc<dyn IdentityVerifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Sets the timing of identity checks.
    #[must_use]
    pub fn with_check_timing(mut self, timing: CheckTiming) -> Self {
        self.check_timing = timing;
        self
    }

    /// Stores the checks of the application's current round (idempotent).
    pub(super) async fn open_check_round(&self, app: &Application) -> Result<()> {
        if app.status != ApplicationStatus::ChecksPending {
            return Ok(());
        }
        let service = self.service(app.service_id).await?;
        let now = self.clock.now();
        let checks: Vec<IdentityCheck> = service
            .smev_checks
            .iter()
            .map(|k| {
                IdentityCheck::new(
                    app.id,
                    app.check_round,
                    *k,
                    now,
                    now + self.check_timing.deadline,
                )
            })
            .collect();
        Ok(self.store.ensure_checks(&checks).await?)
    }

    /// The checks of an application's current round.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn identity_checks(&self, id: ApplicationId) -> Result<Vec<IdentityCheck>> {
        let app = self.load_application(id).await?;
        Ok(self
            .store
            .checks(id)
            .await?
            .into_iter()
            .filter(|c| {
                c.round == app.check_round
                    && c.kind != crate::domain::catalog::SmevCheckKind::EsiaRegistration
            })
            .collect())
    }

    /// Moves an application whose current round is complete on (`ChecksPassed`)
    /// or stops it (`ChecksFailed` with the reasons). Returns whether it moved.
    async fn conclude_checks(&self, id: ApplicationId) -> Result<bool> {
        let mut app = self.load_application(id).await?;
        if app.status != ApplicationStatus::ChecksPending {
            return Ok(false);
        }
        let service = self.service(app.service_id).await?;
        let required: Vec<_> = service.smev_checks.iter().copied().collect();
        let checks = self.identity_checks(id).await?;
        let (event, reason) = match verdict(&required, &checks) {
            Verdict::Pending => return Ok(false),
            Verdict::Passed => (ApplicationEvent::ChecksPassed, None),
            Verdict::Failed(reason) => (ApplicationEvent::ChecksFailed, Some(reason)),
        };
        app.version += 1;
        let entry = app.apply(event, Actor::System, self.clock.now(), reason)?;
        match self.store.update_application(&app, Some(&entry)).await {
            Ok(()) => {
                self.announce_transition(&app, &entry).await;
                Ok(true)
            }
            // Someone else moved it first (another worker, an agent).
            Err(e) => match Error::from(e) {
                Error::Conflict => Ok(false),
                other => Err(other),
            },
        }
    }

    /// One step of one claimed check: submit, poll, or time out.
    async fn step_check(
        &self,
        verifier: &dyn IdentityVerifier,
        mut check: IdentityCheck,
        stats: &mut CheckRunStats,
    ) -> Result<IdentityCheck> {
        let now = self.clock.now();
        let timing = self.check_timing;
        let retry = |c: &mut IdentityCheck| {
            c.attempts += 1;
            c.next_attempt_at = now + timing.retry_delay;
        };
        if now >= check.deadline {
            check.state = CheckState::Timeout;
        } else if let Some(request_id) = check.request_id.clone() {
            match verifier.poll(&CheckTicket { request_id }).await {
                Ok(Some(result)) => check.state = state_of(result),
                Ok(None) => check.next_attempt_at = now + timing.poll_interval,
                Err(VerifierError::Rejected(m)) => check.state = CheckState::Error(m),
                Err(_) => retry(&mut check),
            }
        } else {
            let app = self.load_application(check.application_id).await?;
            let mut subject = subject(&app.owner);
            if check.kind == crate::domain::catalog::SmevCheckKind::EsiaRegistration
                && let Some(serial) = &app.certificate_serial
            {
                // ЕСИА registers the issued certificate itself.
                subject.certificate_der = Some(self.certificate(serial).await?.der);
            }
            match verifier
                .submit(&check.idempotency_key, check.kind, &subject)
                .await
            {
                Ok(ticket) => {
                    check.request_id = Some(ticket.request_id);
                    check.submitted_at = Some(now);
                    check.next_attempt_at = now + timing.poll_interval;
                    stats.submitted += 1;
                }
                Err(VerifierError::Rejected(m)) => check.state = CheckState::Error(m),
                Err(_) => retry(&mut check),
            }
        }
        if check.state.is_final() {
            check.completed_at = Some(now);
            stats.completed += 1;
        }
        check.lease_until = None;
        check.version += 1;
        self.store.update_check(&check).await?;
        Ok(check)
    }

    /// One run of the identity-check worker: creates missing checks and concludes
    /// finished rounds of `ChecksPending` applications, then advances up to
    /// `limit` due checks. Safe to run on several servers at once. Without a
    /// verifier it does nothing.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn process_identity_checks(&self, limit: u32) -> Result<CheckRunStats> {
        let mut stats = CheckRunStats::default();
        let Some(verifier) = self.verifier.clone() else {
            return Ok(stats);
        };
        // Sweep: every pending application has its checks, finished rounds conclude.
        let filter = ApplicationFilter {
            status: Some(ApplicationStatus::ChecksPending),
            ..ApplicationFilter::default()
        };
        let mut after = None;
        loop {
            let page = self.store.list_applications(&filter, after, 200).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for app in &page {
                self.open_check_round(app).await?;
                if self.conclude_checks(app.id).await? {
                    stats.concluded += 1;
                }
            }
        }
        // Issued applications that register in ЕСИА have their registration check.
        self.sweep_esia_registrations().await?;
        // Advance due checks.
        let now = self.clock.now();
        let claimed = self
            .store
            .claim_due_checks(now, now + self.check_timing.lease, limit)
            .await?;
        for check in claimed {
            let id = check.application_id;
            let check = match self.step_check(verifier.as_ref(), check, &mut stats).await {
                Ok(c) => c,
                // Another worker took it over after our lease ended; it goes on there.
                Err(Error::Conflict) => continue,
                Err(e) => return Err(e),
            };
            if check.state.is_final() && self.conclude_checks(id).await? {
                stats.concluded += 1;
            }
        }
        Ok(stats)
    }

    /// Re-runs the checks of an application whose checks failed, optionally with
    /// the owner's corrected data: a new round starts.
    ///
    /// # Errors
    /// [`Error::Transition`] unless the checks failed; [`Error::Invalid`] for an
    /// empty name in the correction.
    pub async fn rerun_checks(
        &self,
        id: ApplicationId,
        corrected_owner: Option<CertificateOwner>,
        actor: Actor,
    ) -> Result<Application> {
        let mut app = self.load_application(id).await?;
        if let Some(owner) = corrected_owner {
            for (field, value) in [
                ("owner.surname", &owner.surname),
                ("owner.given_name", &owner.given_name),
            ] {
                if value.trim().is_empty() {
                    return Err(Error::invalid(field, "must not be empty"));
                }
            }
            let service = self.service(app.service_id).await?;
            super::applications::require_check_inputs(&service.smev_checks, &owner)?;
            app.owner = owner;
        }
        app.version += 1;
        app.check_round += 1;
        let entry = app.apply(
            ApplicationEvent::RerunChecks,
            actor,
            self.clock.now(),
            Some(format!("round {}", app.check_round)),
        )?;
        self.store.update_application(&app, Some(&entry)).await?;
        self.announce_transition(&app, &entry).await;
        // Best effort: the worker's sweep creates them if this fails.
        let _ = self.open_check_round(&app).await;
        Ok(app)
    }

    /// An operator accepts paper documents instead of failed checks.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty reason; [`Error::Transition`] unless the
    /// checks failed.
    pub async fn accept_paper_documents(
        &self,
        id: ApplicationId,
        actor: Actor,
        reason: String,
    ) -> Result<Application> {
        if reason.trim().is_empty() {
            return Err(Error::invalid("reason", "say which documents were checked"));
        }
        let mut app = self.load_application(id).await?;
        app.version += 1;
        let entry = app.apply(
            ApplicationEvent::AcceptPaperDocuments,
            actor,
            self.clock.now(),
            Some(reason),
        )?;
        self.store.update_application(&app, Some(&entry)).await?;
        self.announce_transition(&app, &entry).await;
        Ok(app)
    }
}
