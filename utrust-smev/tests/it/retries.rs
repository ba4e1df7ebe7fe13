//! Retries on 503, none on 4xx, giving up after the configured attempts.

use utrust_core::domain::catalog::SmevCheckKind;
use utrust_core::ports::identity::{CheckResult, CheckTicket, IdentityVerifier, VerifierError};
use utrust_smev::{SimConfig, SimServer};

use crate::support::{TestResult, client, subject};

#[tokio::test]
async fn answering_503_twice_then_200_is_retried_and_succeeds() -> TestResult {
    let server = SimServer::start(SimConfig {
        fail_submits: 2,
        fail_polls: 2,
        ..SimConfig::default()
    })
    .await?;
    let v = client(&server.url())?;
    let ticket = v.submit("k", SmevCheckKind::Passport, &subject()).await?;
    assert_eq!(v.requests_sent(), 3);
    let stats = server.sim().stats();
    assert_eq!((stats.submit_requests, stats.injected_failures), (3, 2));

    assert_eq!(v.poll(&ticket).await?, Some(CheckResult::Valid));
    assert_eq!(v.requests_sent(), 6);
    let stats = server.sim().stats();
    assert_eq!((stats.poll_requests, stats.injected_failures), (3, 4));
    Ok(())
}

#[tokio::test]
async fn persistent_503_gives_up_after_max_attempts() -> TestResult {
    let server = SimServer::start(SimConfig {
        fail_submits: 100,
        ..SimConfig::default()
    })
    .await?;
    let v = client(&server.url())?;
    let err = v.submit("k", SmevCheckKind::Inn, &subject()).await;
    match err {
        Err(VerifierError::Unavailable(m)) => assert!(m.contains("503"), "{m}"),
        other => return Err(format!("expected Unavailable, got {other:?}").into()),
    }
    assert_eq!(v.requests_sent(), 4);
    assert_eq!(server.sim().stats().submit_requests, 4);
    Ok(())
}

#[tokio::test]
async fn a_400_is_not_retried() -> TestResult {
    let server = SimServer::start(SimConfig::default()).await?;
    let v = client(&server.url())?;
    let mut no_passport = subject();
    no_passport.passport = None;
    match v.submit("k", SmevCheckKind::Passport, &no_passport).await {
        Err(VerifierError::Rejected(m)) => {
            assert!(
                m.contains("400") && m.contains("subject.passport is required"),
                "{m}"
            )
        }
        other => return Err(format!("expected Rejected, got {other:?}").into()),
    }
    assert_eq!(v.requests_sent(), 1);
    let stats = server.sim().stats();
    assert_eq!(
        (
            stats.submit_requests,
            stats.rejected_requests,
            stats.checks_created
        ),
        (1, 1, 0)
    );
    Ok(())
}

#[tokio::test]
async fn an_unknown_request_id_is_a_404_not_retried() -> TestResult {
    let server = SimServer::start(SimConfig::default()).await?;
    let v = client(&server.url())?;
    let ticket = CheckTicket {
        request_id: "no-such/request".into(),
    };
    match v.poll(&ticket).await {
        Err(VerifierError::Rejected(m)) => assert!(m.contains("404"), "{m}"),
        other => return Err(format!("expected Rejected, got {other:?}").into()),
    }
    assert_eq!(v.requests_sent(), 1);
    assert_eq!(server.sim().stats().poll_requests, 1);
    Ok(())
}
