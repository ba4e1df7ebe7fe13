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
    pub const ALL: [ApplicationStatus; 14] = [
        Self::Draft,
        Self::AwaitingDocuments,
        Self::ChecksPending,
        Self::ChecksFailed,
        Self::AwaitingPayment,
        Self::AwaitingCsr,
        Self::AwaitingApproval,
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
    pub const ALL: [ApplicationEvent; 17] = [
        Self::Submit,
        Self::DocumentsComplete,
        Self::ChecksPassed,
        Self::ChecksFailed,
        Self::AcceptPaperDocuments,
        Self::RerunChecks,
        Self::PaymentReceived,
        Self::CsrAccepted,
        Self::Approve,
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

/// The optional steps a service requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StepPlan {
    /// Documents must be uploaded first.
    pub documents: bool,
    /// SMEV checks must pass.
    pub checks: bool,
    /// Payment must arrive.
    pub payment: bool,
    /// A CA operator must approve the request.
    pub approval: bool,
}

impl StepPlan {
    /// The steps `service` requires.
    pub fn for_service(service: &Service) -> Self {
        Self {
            documents: service.require_documents,
            checks: !service.smev_checks.is_empty(),
            payment: false,
            approval: service.approval_required || service.issuance_confirmation,
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
}

fn next_after(stage: Stage, plan: &StepPlan) -> ApplicationStatus {
    let steps = [
        (
            Stage::Documents,
            plan.documents,
            ApplicationStatus::AwaitingDocuments,
        ),
        (Stage::Checks, plan.checks, ApplicationStatus::ChecksPending),
        (
            Stage::Payment,
            plan.payment,
            ApplicationStatus::AwaitingPayment,
        ),
        (Stage::Csr, true, ApplicationStatus::AwaitingCsr),
        (
            Stage::Approval,
            plan.approval,
            ApplicationStatus::AwaitingApproval,
        ),
    ];
    steps
        .into_iter()
        .find(|(s, on, _)| *s > stage && *on)
        .map_or(ApplicationStatus::ReadyToIssue, |(_, _, status)| status)
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
        (0..16u8)
            .map(|b| StepPlan {
                documents: b & 1 != 0,
                checks: b & 2 != 0,
                payment: b & 4 != 0,
                approval: b & 8 != 0,
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
            (E::Approve, S::ReadyToIssue),
            (E::StartIssuing, S::Issuing),
            (E::CaFailed, S::ReadyToIssue),
            (E::StartIssuing, S::Issuing),
            (E::CaIssued, S::Issued),
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
            // 15 step edges + cancel/reject from the 8 withdrawable statuses.
            assert_eq!(allowed, 15 + 2 * 8, "plan {plan:?}");
        }
    }

    #[test]
    fn in_flight_cannot_be_cancelled() {
        let p = StepPlan::default();
        assert!(transition(S::Issuing, E::Cancel, &p).is_err());
        assert!(transition(S::Issued, E::Reject, &p).is_err());
        assert_eq!(transition(S::AwaitingCsr, E::Cancel, &p), Ok(S::Cancelled));
    }
}
