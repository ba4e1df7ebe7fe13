//! [`HttpVerifier`]: the [`IdentityVerifier`] over the REST
//! [wire format](crate::wire), with reqwest on rustls (the `ring` provider).
//!
//! # Retry policy
//! Each submit or poll is sent up to [`RetryPolicy::max_attempts`] times. A
//! connection error, a timeout (per request: [`HttpVerifierConfig::request_timeout`]),
//! a `5xx`, `408` or `429` answer is retried after a delay drawn uniformly from
//! `[0, min(max_delay, base_delay · 2^n)]` for the `n`-th retry ("full jitter").
//! Any other `4xx` is final: [`VerifierError::Rejected`]. When the attempts run
//! out: [`VerifierError::Unavailable`] with the last failure. Submits are safe to
//! retry because the adapter maps the idempotency key to one request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use utrust_core::domain::catalog::SmevCheckKind;
use utrust_core::ports::identity::{
    CheckResult, CheckSubject, CheckTicket, IdentityVerifier, VerifierError,
};

use crate::wire::{CHECKS_PATH, StatusResponse, SubmitRequest, SubmitResponse, WireSubject};

/// Retries with exponential backoff and full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per operation, the first included (`0` counts as `1`).
    pub max_attempts: u32,
    /// The delay ceiling before the first retry; it doubles with each retry.
    pub base_delay: Duration,
    /// The largest delay ceiling.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, base 200 ms, cap 10 s.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The delay ceiling before retry `retry` (0-based):
    /// `min(max_delay, base_delay · 2^retry)`, saturating.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// A delay before retry `retry` drawn uniformly from `[0, ceiling(retry)]`.
    pub fn delay<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=ceiling))
    }

    fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }
}

/// [`HttpVerifier`] settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpVerifierConfig {
    /// The adapter's base URL (`http` or `https`), e.g. `https://smev.example/api`:
    /// requests go to `{base_url}/checks`.
    pub base_url: String,
    /// Whole-request timeout (connect, send, read the answer) per attempt.
    pub request_timeout: Duration,
    /// TCP/TLS connect timeout per attempt.
    pub connect_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
}

impl HttpVerifierConfig {
    /// Defaults (10 s per request, 5 s to connect, [`RetryPolicy::default`]) for
    /// `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }
}

/// Why an [`HttpVerifier`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The base URL does not parse or is not `http(s)`.
    #[error("invalid SMEV adapter URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Installs rustls' `ring` provider as the process default unless one is
/// installed already (reqwest is built without a provider of its own).
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // `Err` means another thread installed one first: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The HTTP adapter client. Cheap to clone (clones share the connection pool
/// and the request counter).
#[derive(Debug, Clone)]
pub struct HttpVerifier {
    client: reqwest::Client,
    base: Url,
    config: HttpVerifierConfig,
    requests_sent: Arc<AtomicU64>,
}

impl HttpVerifier {
    /// A client for `config`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn new(config: HttpVerifierConfig) -> Result<Self, ClientError> {
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: config.base_url.clone(),
            reason,
        };
        let base = Url::parse(&config.base_url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid("expected an http or https URL".to_owned()));
        }
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(Self {
            client,
            base,
            config,
            requests_sent: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &HttpVerifierConfig {
        &self.config
    }

    /// HTTP requests sent so far (every attempt counts).
    pub fn requests_sent(&self) -> u64 {
        self.requests_sent.load(Ordering::Relaxed)
    }

    fn url(&self, segments: &[&str]) -> Result<Url, VerifierError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| VerifierError::Rejected("the base URL cannot take a path".to_owned()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Polls `ticket` every `interval` until a final result, or
    /// [`CheckResult::Timeout`] at `deadline` (see [`poll_until`]).
    ///
    /// # Errors
    /// [`VerifierError::Rejected`].
    pub async fn poll_until(
        &self,
        ticket: &CheckTicket,
        deadline: Instant,
        interval: Duration,
    ) -> Result<CheckResult, VerifierError> {
        poll_until(self, ticket, deadline, interval).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        what: &str,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, VerifierError> {
        let policy = self.config.retry;
        let mut last = String::new();
        for attempt in 0..policy.attempts() {
            if attempt > 0 {
                let delay = policy.delay(attempt - 1, &mut rand::rng());
                tracing::debug!(what, attempt, ?delay, error = %last, "retrying SMEV adapter request");
                tokio::time::sleep(delay).await;
            }
            self.requests_sent.fetch_add(1, Ordering::Relaxed);
            let response = match request().send().await {
                Ok(r) => r,
                Err(e) => {
                    last = describe(&e);
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                match response.json::<T>().await {
                    Ok(body) => return Ok(body),
                    Err(e) if e.is_decode() => {
                        return Err(VerifierError::Unavailable(format!(
                            "{what}: malformed answer: {e}"
                        )));
                    }
                    Err(e) => {
                        last = describe(&e);
                        continue;
                    }
                }
            }
            let body = response.text().await.unwrap_or_default();
            let failure = format!("{what}: HTTP {status}: {}", body.trim());
            if is_retryable(status) {
                last = failure;
                continue;
            }
            return Err(VerifierError::Rejected(failure));
        }
        Err(VerifierError::Unavailable(format!(
            "{what}: gave up after {} attempts: {last}",
            policy.attempts()
        )))
    }
}

fn is_retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl IdentityVerifier for HttpVerifier {
    async fn submit(
        &self,
        idempotency_key: &str,
        kind: SmevCheckKind,
        subject: &CheckSubject,
    ) -> Result<CheckTicket, VerifierError> {
        let url = self.url(&[CHECKS_PATH])?;
        let body = SubmitRequest {
            idempotency_key: idempotency_key.to_owned(),
            kind,
            subject: WireSubject::from(subject),
        };
        let resp: SubmitResponse = self
            .send("submit", || self.client.post(url.clone()).json(&body))
            .await?;
        Ok(CheckTicket {
            request_id: resp.request_id,
        })
    }

    async fn poll(&self, ticket: &CheckTicket) -> Result<Option<CheckResult>, VerifierError> {
        let url = self.url(&[CHECKS_PATH, &ticket.request_id])?;
        let resp: StatusResponse = self.send("poll", || self.client.get(url.clone())).await?;
        Ok(resp.into_result())
    }
}

/// Polls `ticket` on `verifier` every `interval` until a final result; returns
/// [`CheckResult::Timeout`] once `deadline` is reached (a poll still in flight
/// then is abandoned). [`VerifierError::Unavailable`] from a poll is treated as
/// "no answer yet" and polling goes on until the deadline.
///
/// # Errors
/// [`VerifierError::Rejected`] (and any other non-transient error) at once.
pub async fn poll_until<V: IdentityVerifier + ?Sized>(
    verifier: &V,
    ticket: &CheckTicket,
    deadline: Instant,
    interval: Duration,
) -> Result<CheckResult, VerifierError> {
    loop {
        match tokio::time::timeout_at(deadline, verifier.poll(ticket)).await {
            Err(_elapsed) => return Ok(CheckResult::Timeout),
            Ok(Ok(Some(result))) => return Ok(result),
            Ok(Ok(None)) => {}
            Ok(Err(VerifierError::Unavailable(e))) => {
                tracing::debug!(request_id = %ticket.request_id, error = %e, "SMEV poll failed; will poll again");
            }
            Ok(Err(e)) => return Err(e),
        }
        let next = Instant::now() + interval;
        if next >= deadline {
            tokio::time::sleep_until(deadline).await;
            return Ok(CheckResult::Timeout);
        }
        tokio::time::sleep_until(next).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        let ceilings: Vec<u128> = (0..6).map(|n| p.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.ceiling(31), p.max_delay);
        assert_eq!(p.ceiling(u32::MAX), p.max_delay);
    }

    #[test]
    fn jitter_stays_within_zero_and_the_ceiling() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(700),
        };
        let mut rng = StdRng::seed_from_u64(7);
        for n in 0..12 {
            let ceiling = Duration::from_millis(50)
                .saturating_mul(2u32.pow(n))
                .min(Duration::from_millis(700));
            let draws: Vec<Duration> = (0..500).map(|_| p.delay(n, &mut rng)).collect();
            assert!(
                draws.iter().all(|d| *d <= ceiling),
                "retry {n}: above {ceiling:?}"
            );
            // Full jitter: the draws spread over the whole range.
            assert!(
                draws.iter().any(|d| *d < ceiling / 4),
                "retry {n}: never low"
            );
            assert!(
                draws.iter().any(|d| *d > ceiling * 3 / 4),
                "retry {n}: never high"
            );
        }
    }

    #[test]
    fn zero_delays_and_attempts_are_tolerated() {
        let p = RetryPolicy {
            max_attempts: 0,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        };
        assert_eq!(p.attempts(), 1);
        assert_eq!(p.delay(3, &mut rand::rng()), Duration::ZERO);
    }

    #[test]
    fn bad_urls_are_refused() {
        for url in ["", "ftp://x", "mailto:a@b", "not a url"] {
            assert!(
                matches!(
                    HttpVerifier::new(HttpVerifierConfig::new(url)),
                    Err(ClientError::InvalidUrl { .. })
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn urls_join_under_the_base_path() -> Result<(), Box<dyn std::error::Error>> {
        let v = HttpVerifier::new(HttpVerifierConfig::new("http://127.0.0.1:9/smev/"))?;
        assert_eq!(
            v.url(&["checks", "a/b"])?.as_str(),
            "http://127.0.0.1:9/smev/checks/a%2Fb"
        );
        let v = HttpVerifier::new(HttpVerifierConfig::new("http://127.0.0.1:9"))?;
        assert_eq!(v.url(&["checks"])?.as_str(), "http://127.0.0.1:9/checks");
        Ok(())
    }
}
