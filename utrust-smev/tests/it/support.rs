//! Fixtures.

use std::time::Duration;

use time::macros::date;
use tokio::time::Instant;
use utrust_core::domain::catalog::SmevCheckKind;
use utrust_core::domain::identifiers::{Inn, PassportRf, Snils};
use utrust_core::ports::identity::{CheckResult, CheckSubject, IdentityVerifier, VerifierError};
use utrust_smev::{HttpVerifier, HttpVerifierConfig, RetryPolicy, poll_until};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

pub const ALL_KINDS: [SmevCheckKind; 3] = [
    SmevCheckKind::Passport,
    SmevCheckKind::Snils,
    SmevCheckKind::Inn,
];

/// Valid data that passes every check.
pub fn subject() -> CheckSubject {
    CheckSubject {
        surname: "Иванов".into(),
        given_name: "Иван".into(),
        patronymic: Some("Иванович".into()),
        birth_date: Some(date!(1980 - 05 - 17)),
        snils: Snils::parse("112-233-445 95").ok(),
        inn: Inn::parse("500100732259").ok(),
        passport: PassportRf::parse("4510", "123456", "770-001")
            .ok()
            .map(|p| (p, date!(2010 - 01 - 02))),
        certificate_der: None,
    }
}

/// The passport of [`subject`] with other series and number.
pub fn passport(series: &str, number: &str) -> Option<(PassportRf, time::Date)> {
    PassportRf::parse(series, number, "770-001")
        .ok()
        .map(|p| (p, date!(2010 - 01 - 02)))
}

/// A client with fast retries: 4 attempts, delays 1..5 ms.
pub fn config(url: &str) -> HttpVerifierConfig {
    HttpVerifierConfig {
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
        ..HttpVerifierConfig::new(url)
    }
}

pub fn client(url: &str) -> Result<HttpVerifier, utrust_smev::ClientError> {
    HttpVerifier::new(config(url))
}

/// Submits and polls to a final result (5 s deadline, 2 ms interval).
pub async fn run_check(
    v: &HttpVerifier,
    key: &str,
    kind: SmevCheckKind,
    subject: &CheckSubject,
) -> Result<CheckResult, VerifierError> {
    let ticket = v.submit(key, kind, subject).await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    poll_until(v, &ticket, deadline, Duration::from_millis(2)).await
}
