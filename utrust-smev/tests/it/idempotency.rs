//! The same idempotency key maps to one request; the simulator proves it.

use utrust_core::domain::catalog::SmevCheckKind;
use utrust_core::ports::identity::IdentityVerifier;
use utrust_smev::{SimConfig, SimServer, SimStats};

use crate::support::{TestResult, client, subject};

#[tokio::test]
async fn same_key_twice_gives_the_same_request_and_one_check() -> TestResult {
    let server = SimServer::start(SimConfig::default()).await?;
    let v = client(&server.url())?;
    let first = v
        .submit("app-7/snils", SmevCheckKind::Snils, &subject())
        .await?;
    let second = v
        .submit("app-7/snils", SmevCheckKind::Snils, &subject())
        .await?;
    assert_eq!(first, second);
    let other = v
        .submit("app-7/inn", SmevCheckKind::Inn, &subject())
        .await?;
    assert_ne!(other, first);

    // Over HTTP, as a test of another process would read them.
    utrust_smev::install_crypto_provider();
    let stats: SimStats = reqwest::get(format!("{}/_sim/stats", server.url()))
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(stats, server.sim().stats());
    assert_eq!(stats.checks_created, 2);
    assert_eq!(stats.submit_requests, 3);
    let key = &stats.keys["app-7/snils"];
    assert_eq!(
        (key.submits, key.request_id.as_deref()),
        (2, Some(first.request_id.as_str()))
    );
    assert_eq!(server.sim().submits_for("app-7/inn"), 1);
    assert_eq!(server.sim().keys(), ["app-7/inn", "app-7/snils"]);
    Ok(())
}

#[tokio::test]
async fn a_retried_submit_creates_one_check() -> TestResult {
    let server = SimServer::start(SimConfig {
        fail_submits: 2,
        ..SimConfig::default()
    })
    .await?;
    let v = client(&server.url())?;
    let ticket = v
        .submit("app-8/passport", SmevCheckKind::Passport, &subject())
        .await?;
    let stats = server.sim().stats();
    assert_eq!(stats.checks_created, 1);
    assert_eq!(stats.keys["app-8/passport"].submits, 3);
    assert_eq!(
        stats.keys["app-8/passport"].request_id,
        Some(ticket.request_id)
    );
    Ok(())
}
