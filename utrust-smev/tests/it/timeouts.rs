//! Deadlines, request timeouts and unreachable adapters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;
use utrust_core::domain::catalog::SmevCheckKind;
use utrust_core::ports::identity::{CheckResult, IdentityVerifier, VerifierError};
use utrust_smev::{HttpVerifier, SimConfig, SimServer, poll_until};

use crate::support::{TestResult, client, config, subject};

#[tokio::test]
async fn never_answering_ends_in_timeout_at_the_deadline() -> TestResult {
    let server = SimServer::start(SimConfig {
        never_answer: true,
        ..SimConfig::default()
    })
    .await?;
    let v = client(&server.url())?;
    let ticket = v.submit("k", SmevCheckKind::Snils, &subject()).await?;
    let start = Instant::now();
    let deadline = start + Duration::from_millis(150);
    let result = v
        .poll_until(&ticket, deadline, Duration::from_millis(10))
        .await?;
    assert_eq!(result, CheckResult::Timeout);
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(server.sim().stats().poll_requests >= 2);
    Ok(())
}

#[tokio::test]
async fn the_silent_magic_surname_never_answers() -> TestResult {
    let server = SimServer::start(SimConfig::default()).await?;
    let v = client(&server.url())?;
    let mut s = subject();
    s.surname = "Молчанов".into();
    let ticket = v.submit("k", SmevCheckKind::Inn, &s).await?;
    let deadline = Instant::now() + Duration::from_millis(60);
    assert_eq!(
        poll_until(&v, &ticket, deadline, Duration::from_millis(5)).await?,
        CheckResult::Timeout
    );
    Ok(())
}

#[tokio::test]
async fn polls_failing_until_the_deadline_end_in_timeout() -> TestResult {
    let server = SimServer::start(SimConfig::default()).await?;
    let v = client(&server.url())?;
    let ticket = v.submit("k", SmevCheckKind::Passport, &subject()).await?;
    server.sim().set_config(SimConfig {
        fail_polls: u32::MAX,
        ..SimConfig::default()
    });
    let deadline = Instant::now() + Duration::from_millis(80);
    assert_eq!(
        v.poll_until(&ticket, deadline, Duration::from_millis(5))
            .await?,
        CheckResult::Timeout
    );
    // Once the adapter recovers the answer comes through.
    server.sim().set_config(SimConfig::default());
    let deadline = Instant::now() + Duration::from_secs(5);
    assert_eq!(
        v.poll_until(&ticket, deadline, Duration::from_millis(5))
            .await?,
        CheckResult::Valid
    );
    Ok(())
}

#[tokio::test]
async fn connection_refused_is_unavailable_after_retries() -> TestResult {
    // A port that was just free: nothing listens there.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    drop(listener);
    let v = client(&format!("http://{addr}"))?;
    match v.submit("k", SmevCheckKind::Passport, &subject()).await {
        Err(VerifierError::Unavailable(m)) => {
            assert!(m.contains("4 attempts") && m.contains("connection"), "{m}")
        }
        other => return Err(format!("expected Unavailable, got {other:?}").into()),
    }
    assert_eq!(v.requests_sent(), 4);
    Ok(())
}

#[tokio::test]
async fn a_server_that_never_responds_times_out_per_request_and_is_retried() -> TestResult {
    // Accepts connections, reads nothing, answers nothing.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            open.push(socket);
        }
    });
    let mut cfg = config(&format!("http://{addr}"));
    cfg.request_timeout = Duration::from_millis(100);
    cfg.retry.max_attempts = 3;
    let v = HttpVerifier::new(cfg)?;
    let start = Instant::now();
    match v.submit("k", SmevCheckKind::Passport, &subject()).await {
        Err(VerifierError::Unavailable(m)) => assert!(m.contains("timeout"), "{m}"),
        other => return Err(format!("expected Unavailable, got {other:?}").into()),
    }
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(v.requests_sent(), 3);
    assert!(accepted.load(Ordering::SeqCst) >= 1);
    hold.abort();
    Ok(())
}
