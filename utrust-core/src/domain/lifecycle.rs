//! The application state machine: one table of `(status, event) -> status`.
//!
//! Services switch optional steps on and off; a [`StepPlan`] derived from the
//! service says which apply. Events that finish a step move to the next step the
//! plan requires, so a service with no optional steps goes from an accepted CSR
//! straight to `ReadyToIssue`. Every other `(status, event)` pair is refused with a
//! [`TransitionError`] naming both. The table is [`transition`]; nothing else in
//! the crate changes an application's status.

use serde::{Deserialize, Serialize};

use super::catalog::Service;

/// Status of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    /// Being filled in; not yet submitted.
    Draft,
    /// Waiting for the required documents.
    AwaitingDocuments,
    /// SMEV checks sent, waiting for answers.
    ChecksPending,
    /// A SMEV check failed; an operator may accept paper documents or re-run.
    ChecksFailed,
    /// Waiting for payment.
    AwaitingPayment,
    /// Waiting for the applicant's certificate request.
    AwaitingCsr,
    /// Waiting for a CA operator's approval.
    AwaitingApproval,
    /// Waiting for the extra confirmation before issuing (service flag
    /// "issuance confirmation required"); distinct from the CA's approval.
    AwaitingConfirmation,
    /// Everything is in place; may be sent to the CA.
    ReadyToIssue,
    /// Sent to the CA; quota reserved.
    Issuing,
    /// The CA issued the certificate.
    Issued,
    /// The case is closed (blank signed, ЕСИА done or skipped).
    Completed,
    /// Refused by an operator or the CA (terminal).
    Rejected,
    /// Withdrawn by the applicant or agent (terminal).
    Cancelled,
    /// Abandoned as a draft (terminal).
    Expired,
}

impl ApplicationStatus {
    /// Every status.
    pub const ALL: [ApplicationStatus; 15] = [
        Self::Draft,
        Self::AwaitingDocuments,
        Self::ChecksPending,
        Self::ChecksFailed,
        Self::AwaitingPayment,
        Self::AwaitingCsr,
        Self::AwaitingApproval,
        Self::AwaitingConfirmation,
        Self::ReadyToIssue,
        Self::Issuing,
        Self::Issued,
        Self::Completed,
        Self::Rejected,
        Self::Cancelled,
        Self::Expired,
    ];

    /// The wire name (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::AwaitingDocuments => "awaiting_documents",
            Self::ChecksPending => "checks_pending",
            Self::ChecksFailed => "checks_failed",
            Self::AwaitingPayment => "awaiting_payment",
            Self::AwaitingCsr => "awaiting_csr",
            Self::AwaitingApproval => "awaiting_approval",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::ReadyToIssue => "ready_to_issue",
            Self::Issuing => "issuing",
            Self::Issued => "issued",
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// Parses a wire name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// No event leaves a terminal status.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Rejected | Self::Cancelled | Self::Expired
        )
    }
}

impl core::fmt::Display for ApplicationStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationEvent {
    /// The application is submitted.
    Submit,
    /// The required documents are complete.
    DocumentsComplete,
    /// All required SMEV checks answered valid.
    ChecksPassed,
    /// A required SMEV check answered anything but valid.
    ChecksFailed,
    /// An operator accepts paper documents instead of a failed check.
    AcceptPaperDocuments,
    /// Data corrected; checks are sent again.
    RerunChecks,
    /// Payment received.
    PaymentReceived,
    /// A certificate request was accepted.
    CsrAccepted,
    /// A CA operator approves.
    Approve,
    /// The issuance is confirmed (the service's extra confirmation step).
    Confirm,
    /// Sent to the CA (quota reserved).
    StartIssuing,
    /// The CA issued.
    CaIssued,
    /// The CA failed transiently (quota released; may retry).
    CaFailed,
    /// The CA refused for good.
    CaRefused,
    /// The case is closed.
    Complete,
    /// Refused by an operator.
    Reject,
    /// Withdrawn.
    Cancel,
    /// A draft idle too long.
    Expire,
}

impl ApplicationEvent {
    /// Every event.
    pub const ALL: [ApplicationEvent; 18] = [
        Self::Submit,
        Self::DocumentsComplete,
        Self::ChecksPassed,
        Self::ChecksFailed,
        Self::AcceptPaperDocuments,
        Self::RerunChecks,
        Self::PaymentReceived,
        Self::CsrAccepted,
        Self::Approve,
        Self::Confirm,
        Self::StartIssuing,
        Self::CaIssued,
        Self::CaFailed,
        Self::CaRefused,
        Self::Complete,
        Self::Reject,
        Self::Cancel,
        Self::Expire,
    ];

    /// The wire name (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::DocumentsComplete => "documents_complete",
            Self::ChecksPassed => "checks_passed",
            Self::ChecksFailed => "checks_failed",
            Self::AcceptPaperDocuments => "accept_paper_documents",
            Self::RerunChecks => "rerun_checks",
            Self::PaymentReceived => "payment_received",
            Self::CsrAccepted => "csr_accepted",
            Self::Approve => "approve",
            Self::Confirm => "confirm",
            Self::StartIssuing => "start_issuing",
            Self::CaIssued => "ca_issued",
            Self::CaFailed => "ca_failed",
            Self::CaRefused => "ca_refused",
            Self::Complete => "complete",
            Self::Reject => "reject",
            Self::Cancel => "cancel",
            Self::Expire => "expire",
        }
    }
}

impl core::fmt::Display for ApplicationEvent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The optional steps a service requires, fixed on the application when it is
/// submitted (later changes to the service do not move applications in flight).
///
/// How the service's flags (seed 004, "Создание услуг") map to steps:
/// - `documents` ← "require documents": an `AwaitingDocuments` step right after
///   submission, left when the case file holds the service's scan set (signed,
///   if the service requires signatures) — see `domain::casefile`;
/// - `checks` ← a non-empty set of SMEV checks;
/// - `payment` ← the service has a price ("price from" or "price without
///   discount" above zero): an `AwaitingPayment` step; the applicant kinds with
///   card payment decide whether the method may be `card` or only `invoice`;
/// - `approval` ← "approval required" (the CA operator's approval);
/// - `confirmation` ← "issuance confirmation required": its own
///   `AwaitingConfirmation` step after approval, just before issuing;
/// - `esia_registration` ← "automatic ESIA registration": no status of its own,
///   but `Issued → Completed` waits for the registration to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StepPlan {
    /// Documents must be uploaded first.
    pub documents: bool,
    /// SMEV checks must pass.
    pub checks: bool,
    /// Payment must arrive.
    #[serde(default)]
    pub payment: bool,
    /// A CA operator must approve the request.
    pub approval: bool,
    /// The issuance must be confirmed before issuing.
    #[serde(default)]
    pub confirmation: bool,
    /// The issued certificate is registered in ЕСИА before completion.
    #[serde(default)]
    pub esia_registration: bool,
}

impl StepPlan {
    /// The steps `service` requires.
    pub fn for_service(service: &Service) -> Self {
        Self {
            documents: service.require_documents,
            checks: !service.smev_checks.is_empty(),
            payment: service.price_from_kopecks > 0 || service.price_without_discount_kopecks > 0,
            approval: service.approval_required,
            confirmation: service.issuance_confirmation,
            esia_registration: service.esia_registration,
        }
    }
}

/// A step of the way to issuing, as named in `requirements_missing` errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The documents step.
    Documents,
    /// SMEV checks.
    Checks,
    /// Payment.
    Payment,
    /// The certificate request.
    Csr,
    /// The CA operator's approval.
    Approval,
    /// The issuance confirmation.
    Confirmation,
    /// Issuing itself.
    Issuance,
}

impl Step {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Documents => "documents",
            Self::Checks => "checks",
            Self::Payment => "payment",
            Self::Csr => "csr",
            Self::Approval => "approval",
            Self::Confirmation => "confirmation",
            Self::Issuance => "issuance",
        }
    }
}

/// Ordered stages; `next_after` finds the first required one after a given stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Submitted,
    Documents,
    Checks,
    Payment,
    Csr,
    Approval,
    Confirmation,
}

fn stages(plan: &StepPlan) -> [(Stage, bool, ApplicationStatus, Step); 6] {
    use ApplicationStatus as S;
    [
        (
            Stage::Documents,
            plan.documents,
            S::AwaitingDocuments,
            Step::Documents,
        ),
        (Stage::Checks, plan.checks, S::ChecksPending, Step::Checks),
        (
            Stage::Payment,
            plan.payment,
            S::AwaitingPayment,
            Step::Payment,
        ),
        (Stage::Csr, true, S::AwaitingCsr, Step::Csr),
        (
            Stage::Approval,
            plan.approval,
            S::AwaitingApproval,
            Step::Approval,
        ),
        (
            Stage::Confirmation,
            plan.confirmation,
            S::AwaitingConfirmation,
            Step::Confirmation,
        ),
    ]
}

fn next_after(stage: Stage, plan: &StepPlan) -> ApplicationStatus {
    stages(plan)
        .into_iter()
        .find(|(s, on, _, _)| *s > stage && *on)
        .map_or(ApplicationStatus::ReadyToIssue, |(_, _, status, _)| status)
}

/// The steps an application in `status` still has to pass before it is issued,
/// in order (the one it waits at first); `Issuance` while it is not issued yet.
/// Empty once issued, and for terminal statuses.
///
/// ```
/// use utrust_core::domain::lifecycle::*;
/// let plan = StepPlan { payment: true, confirmation: true, ..StepPlan::default() };
/// assert_eq!(
///     steps_ahead(ApplicationStatus::AwaitingPayment, &plan),
///     vec![Step::Payment, Step::Csr, Step::Confirmation, Step::Issuance]
/// );
/// ```
pub fn steps_ahead(status: ApplicationStatus, plan: &StepPlan) -> Vec<Step> {
    use ApplicationStatus as S;
    let from = match status {
        S::Draft => Stage::Submitted,
        S::ChecksFailed => Stage::Checks,
        S::ReadyToIssue | S::Issuing => return vec![Step::Issuance],
        S::Issued | S::Completed | S::Rejected | S::Cancelled | S::Expired => return Vec::new(),
        other => match stages(plan).into_iter().find(|(_, _, st, _)| *st == other) {
            Some((stage, ..)) => {
                // The stage it waits at counts too.
                let mut out: Vec<Step> = stages(plan)
                    .into_iter()
                    .filter(|(s, on, _, _)| *s >= stage && *on)
                    .map(|(.., step)| step)
                    .collect();
                out.push(Step::Issuance);
                return out;
            }
            None => Stage::Submitted,
        },
    };
    let mut out: Vec<Step> = stages(plan)
        .into_iter()
        .filter(|(s, on, _, _)| (*s > from || (status == S::ChecksFailed && *s == from)) && *on)
        .map(|(.., step)| step)
        .collect();
    out.push(Step::Issuance);
    out
}

/// A refused transition, naming the status and the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event `{event}` is not allowed in status `{from}`")]
pub struct TransitionError {
    /// The status the application is in.
    pub from: ApplicationStatus,
    /// The event refused.
    pub event: ApplicationEvent,
}

/// The transition table.
///
/// # Errors
/// [`TransitionError`] for every pair not listed.
///
/// ```
/// use utrust_core::domain::lifecycle::*;
/// let plan = StepPlan::default();
/// assert_eq!(
///     transition(ApplicationStatus::AwaitingCsr, ApplicationEvent::CsrAccepted, &plan),
///     Ok(ApplicationStatus::ReadyToIssue)
/// );
/// assert!(transition(ApplicationStatus::Issued, ApplicationEvent::Approve, &plan).is_err());
/// ```
pub fn transition(
    from: ApplicationStatus,
    event: ApplicationEvent,
    plan: &StepPlan,
) -> Result<ApplicationStatus, TransitionError> {
    use ApplicationEvent as E;
    use ApplicationStatus as S;
    let to = match (from, event) {
        (S::Draft, E::Submit) => next_after(Stage::Submitted, plan),
        (S::Draft, E::Expire) => S::Expired,
        (S::AwaitingDocuments, E::DocumentsComplete) => next_after(Stage::Documents, plan),
        (S::ChecksPending, E::ChecksPassed) => next_after(Stage::Checks, plan),
        (S::ChecksPending, E::ChecksFailed) => S::ChecksFailed,
        (S::ChecksFailed, E::AcceptPaperDocuments) => next_after(Stage::Checks, plan),
        (S::ChecksFailed, E::RerunChecks) => S::ChecksPending,
        (S::AwaitingPayment, E::PaymentReceived) => next_after(Stage::Payment, plan),
        (S::AwaitingCsr, E::CsrAccepted) => next_after(Stage::Csr, plan),
        (S::AwaitingApproval, E::Approve) => next_after(Stage::Approval, plan),
        (S::AwaitingConfirmation, E::Confirm) => next_after(Stage::Confirmation, plan),
        (S::ReadyToIssue, E::StartIssuing) => S::Issuing,
        (S::Issuing, E::CaIssued) => S::Issued,
        (S::Issuing, E::CaFailed) => S::ReadyToIssue,
        (S::Issuing, E::CaRefused) => S::Rejected,
        (S::Issued, E::Complete) => S::Completed,
        // An application in flight at the CA, issued or closed is past withdrawal.
        (s, E::Reject | E::Cancel) if !s.is_terminal() && !matches!(s, S::Issuing | S::Issued) => {
            if event == E::Reject {
                S::Rejected
            } else {
                S::Cancelled
            }
        }
        _ => return Err(TransitionError { from, event }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApplicationEvent as E;
    use ApplicationStatus as S;

    fn all_plans() -> Vec<StepPlan> {
        (0..64u8)
            .map(|b| StepPlan {
                documents: b & 1 != 0,
                checks: b & 2 != 0,
                payment: b & 4 != 0,
                approval: b & 8 != 0,
                confirmation: b & 16 != 0,
                esia_registration: b & 32 != 0,
            })
            .collect()
    }

    #[test]
    fn terminal_statuses_accept_nothing() {
        for plan in all_plans() {
            for s in S::ALL.into_iter().filter(|s| s.is_terminal()) {
                for e in E::ALL {
                    assert_eq!(
                        transition(s, e, &plan),
                        Err(TransitionError { from: s, event: e })
                    );
                }
            }
        }
    }

    #[test]
    fn core_flow_without_optional_steps() {
        let p = StepPlan::default();
        let mut s = S::Draft;
        for (e, want) in [
            (E::Submit, S::AwaitingCsr),
            (E::CsrAccepted, S::ReadyToIssue),
            (E::StartIssuing, S::Issuing),
            (E::CaIssued, S::Issued),
            (E::Complete, S::Completed),
        ] {
            s = transition(s, e, &p).unwrap_or(S::Expired);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn every_step_on() {
        let p = StepPlan {
            documents: true,
            checks: true,
            payment: true,
            approval: true,
            confirmation: true,
            esia_registration: true,
        };
        let mut s = S::Draft;
        for (e, want) in [
            (E::Submit, S::AwaitingDocuments),
            (E::DocumentsComplete, S::ChecksPending),
            (E::ChecksFailed, S::ChecksFailed),
            (E::RerunChecks, S::ChecksPending),
            (E::ChecksPassed, S::AwaitingPayment),
            (E::PaymentReceived, S::AwaitingCsr),
            (E::CsrAccepted, S::AwaitingApproval),
            (E::Approve, S::AwaitingConfirmation),
            (E::Confirm, S::ReadyToIssue),
            (E::StartIssuing, S::Issuing),
            (E::CaFailed, S::ReadyToIssue),
            (E::StartIssuing, S::Issuing),
            (E::CaIssued, S::Issued),
            (E::Complete, S::Completed),
        ] {
            s = transition(s, e, &p).unwrap_or(S::Expired);
            assert_eq!(s, want, "after {e}");
        }
    }

    /// Exhaustive: the set of allowed pairs is exactly the documented one, for
    /// every plan; and the target of an allowed pair is never Draft.
    #[test]
    fn exhaustive_table() {
        for plan in all_plans() {
            let mut allowed = 0;
            for s in S::ALL {
                for e in E::ALL {
                    if let Ok(to) = transition(s, e, &plan) {
                        allowed += 1;
                        assert_ne!(to, S::Draft);
                        assert!(!s.is_terminal());
                    }
                }
            }
            // 16 step edges + cancel/reject from the 9 withdrawable statuses.
            assert_eq!(allowed, 16 + 2 * 9, "plan {plan:?}");
        }
    }

    #[test]
    fn in_flight_cannot_be_cancelled() {
        let p = StepPlan::default();
        assert!(transition(S::Issuing, E::Cancel, &p).is_err());
        assert!(transition(S::Issued, E::Reject, &p).is_err());
        assert_eq!(transition(S::AwaitingCsr, E::Cancel, &p), Ok(S::Cancelled));
    }

    /// The happy path of every plan visits exactly the statuses of the steps the
    /// plan switches on, in order; a step that is off never appears.
    #[test]
    fn every_plan_visits_exactly_its_steps() {
        for plan in all_plans() {
            let mut s = transition(S::Draft, E::Submit, &plan).unwrap_or(S::Expired);
            let mut seen = Vec::new();
            while s != S::ReadyToIssue {
                seen.push(s);
                let e = match s {
                    S::AwaitingDocuments => E::DocumentsComplete,
                    S::ChecksPending => E::ChecksPassed,
                    S::AwaitingPayment => E::PaymentReceived,
                    S::AwaitingCsr => E::CsrAccepted,
                    S::AwaitingApproval => E::Approve,
                    S::AwaitingConfirmation => E::Confirm,
                    _ => break,
                };
                s = transition(s, e, &plan).unwrap_or(S::Expired);
            }
            let want: Vec<S> = [
                (plan.documents, S::AwaitingDocuments),
                (plan.checks, S::ChecksPending),
                (plan.payment, S::AwaitingPayment),
                (true, S::AwaitingCsr),
                (plan.approval, S::AwaitingApproval),
                (plan.confirmation, S::AwaitingConfirmation),
            ]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, st)| st)
            .collect();
            assert_eq!(seen, want, "plan {plan:?}");
            // The steps ahead from each visited status are the rest of the way.
            for (i, st) in seen.iter().enumerate() {
                assert_eq!(steps_ahead(*st, &plan).len(), seen.len() - i + 1, "{st}");
            }
        }
    }

    #[test]
    fn steps_ahead_names_the_waiting_step_first() {
        let p = StepPlan {
            documents: true,
            checks: true,
            payment: true,
            approval: true,
            confirmation: true,
            esia_registration: true,
        };
        assert_eq!(steps_ahead(S::ChecksFailed, &p)[0], Step::Checks);
        assert_eq!(
            steps_ahead(S::AwaitingConfirmation, &p),
            vec![Step::Confirmation, Step::Issuance]
        );
        assert_eq!(steps_ahead(S::ReadyToIssue, &p), vec![Step::Issuance]);
        assert!(steps_ahead(S::Issued, &p).is_empty());
        assert!(steps_ahead(S::Cancelled, &p).is_empty());
        assert_eq!(
            steps_ahead(S::Draft, &StepPlan::default()),
            vec![Step::Csr, Step::Issuance]
        );
    }

    #[test]
    fn service_flags_decide_the_plan() {
        use crate::domain::catalog::Service;
        let mut svc = Service::new("x");
        assert_eq!(StepPlan::for_service(&svc), StepPlan::default());
        svc.issuance_confirmation = true;
        svc.price_from_kopecks = 100;
        svc.esia_registration = true;
        let p = StepPlan::for_service(&svc);
        assert!(p.confirmation && p.payment && p.esia_registration);
        // Confirmation is its own step, not the CA's approval.
        assert!(!p.approval);
        // Card payment alone configures the method, not a payment step.
        let mut svc = Service::new("y");
        svc.card_payment
            .insert(crate::domain::catalog::ApplicantKind::Individual);
        assert!(!StepPlan::for_service(&svc).payment);
    }
}
