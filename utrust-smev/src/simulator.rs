//! A deterministic SMEV simulator: in-process ([`SimulatedVerifier`], an
//! [`IdentityVerifier`]) and as an HTTP server ([`router`], [`serve`],
//! [`SimServer`]) speaking the [wire format](crate::wire).
//!
//! # Outcomes
//! The answer follows from the input alone (first matching row wins; names are
//! compared case-insensitively after trimming):
//!
//! | kind | input | answer |
//! |---|---|---|
//! | any | surname `Молчанов` / `Silent` | never answers (`pending` forever) |
//! | any | surname `Ошибкин` / `Error` | `error`, [`REASON_PROVIDER_FAILURE`] |
//! | any | surname `Ненайденов` / `Notfound` | `not_found` |
//! | any | surname `Невалидов` / `Invalid` | `invalid`, [`REASON_NAME_MISMATCH`] |
//! | passport | series `0000` | `invalid`, [`REASON_PASSPORT_EXPIRED`] |
//! | passport | number `000000` | `not_found` |
//! | snils | SNILS whose 9-digit number ends in `000` (e.g. `12345600018`) | `not_found` |
//! | snils | birth date `1900-01-01` | `invalid`, [`REASON_BIRTH_DATE_MISMATCH`] |
//! | inn | passport number `000000` | `not_found` |
//! | inn | INN `000000000000` | `invalid`, [`REASON_INN_MISMATCH`] |
//! | esia_registration | patronymic `Безесиевич` / `Noesia` | `invalid`, [`REASON_NO_ESIA_ACCOUNT`] |
//! | any | anything else | `valid` |
//!
//! Validation faults answer `400` (never retried): an empty surname or given
//! name, a malformed identifier (wrong length or check digit), or a missing
//! input the kind needs — `passport` for `passport` and `inn`, `snils` and
//! `birth_date` for `snils`, `snils` and `certificate` for `esia_registration`
//! (ЕСИА accounts are found by SNILS; the certificate is what is registered). An unknown request id answers `404`.
//!
//! # Timing and failures ([`SimConfig`])
//! A check answers `pending` for its first [`SimConfig::pending_polls`] polls and
//! until [`SimConfig::pending_for`] has passed since its submission;
//! [`SimConfig::never_answer`] keeps every check pending. The first
//! [`SimConfig::fail_submits`] submits and [`SimConfig::fail_polls`] polls answer
//! `503` (in-process: [`VerifierError::Unavailable`]).
//!
//! # Evidence ([`SimStats`])
//! Every request is counted, and for each idempotency key the number of submits
//! that carried it and the request it maps to — so tests can prove that no check
//! was submitted twice. Over HTTP: `GET /_sim/stats`; the configuration is
//! `GET` / `PUT /_sim/config` (durations in milliseconds).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use time::macros::date;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use utrust_core::domain::catalog::SmevCheckKind;
use utrust_core::ports::identity::{
    CheckResult, CheckSubject, CheckTicket, IdentityVerifier, VerifierError,
};

use crate::wire::{ErrorBody, StatusResponse, SubmitRequest, SubmitResponse, WireSubject};

/// Reason of `error` answers (surname `Ошибкин` / `Error`).
pub const REASON_PROVIDER_FAILURE: &str = "provider failure (FAILURE)";
/// Reason of `invalid` answers for surname `Невалидов` / `Invalid`.
pub const REASON_NAME_MISMATCH: &str = "full name does not match the records";
/// Reason of `invalid` answers for passport series `0000`.
pub const REASON_PASSPORT_EXPIRED: &str = "passport expired";
/// Reason of `invalid` SNILS answers for birth date `1900-01-01`.
pub const REASON_BIRTH_DATE_MISMATCH: &str = "birth date does not match SNILS";
/// Reason of `invalid` INN answers for INN `000000000000`.
pub const REASON_INN_MISMATCH: &str = "INN does not match the passport data";
/// Reason of `invalid` ЕСИА registrations for patronymic `Безесиевич` / `Noesia`.
pub const REASON_NO_ESIA_ACCOUNT: &str = "no confirmed ESIA account for this SNILS";

const SILENT: [&str; 2] = ["молчанов", "silent"];
const ERROR: [&str; 2] = ["ошибкин", "error"];
const NOT_FOUND: [&str; 2] = ["ненайденов", "notfound"];
const INVALID: [&str; 2] = ["невалидов", "invalid"];
const NO_ESIA: [&str; 2] = ["безесиевич", "noesia"];

/// The final answer the simulator gives for `kind` and `subject`; `None` for a
/// subject that never gets one. Does not validate (see [`validate`]).
pub fn expected_outcome(kind: SmevCheckKind, subject: &CheckSubject) -> Option<CheckResult> {
    let surname = subject.surname.trim().to_lowercase();
    let is = |names: [&str; 2]| names.contains(&surname.as_str());
    if is(SILENT) {
        return None;
    }
    if is(ERROR) {
        return Some(CheckResult::Error(REASON_PROVIDER_FAILURE.to_owned()));
    }
    if is(NOT_FOUND) {
        return Some(CheckResult::NotFound);
    }
    if is(INVALID) {
        return Some(CheckResult::Invalid(REASON_NAME_MISMATCH.to_owned()));
    }
    let passport = subject.passport.as_ref().map(|(p, _)| p);
    let result = match kind {
        SmevCheckKind::Passport => match passport {
            Some(p) if p.series() == "0000" => {
                CheckResult::Invalid(REASON_PASSPORT_EXPIRED.to_owned())
            }
            Some(p) if p.number() == "000000" => CheckResult::NotFound,
            _ => CheckResult::Valid,
        },
        SmevCheckKind::Snils => {
            if subject
                .snils
                .as_ref()
                .is_some_and(|s| s.as_str().get(6..9) == Some("000"))
            {
                CheckResult::NotFound
            } else if subject.birth_date == Some(date!(1900 - 01 - 01)) {
                CheckResult::Invalid(REASON_BIRTH_DATE_MISMATCH.to_owned())
            } else {
                CheckResult::Valid
            }
        }
        SmevCheckKind::Inn => {
            if passport.is_some_and(|p| p.number() == "000000") {
                CheckResult::NotFound
            } else if subject
                .inn
                .as_ref()
                .is_some_and(|i| i.as_str() == "000000000000")
            {
                CheckResult::Invalid(REASON_INN_MISMATCH.to_owned())
            } else {
                CheckResult::Valid
            }
        }
        SmevCheckKind::EsiaRegistration => {
            let patronymic = subject
                .patronymic
                .as_deref()
                .map(|p| p.trim().to_lowercase());
            if patronymic.is_some_and(|p| NO_ESIA.contains(&p.as_str())) {
                CheckResult::Invalid(REASON_NO_ESIA_ACCOUNT.to_owned())
            } else {
                CheckResult::Valid
            }
        }
    };
    Some(result)
}

/// Checks that a wire subject carries what `kind` needs, with well-formed
/// identifiers; the error text is what a `400` answer carries.
///
/// # Errors
/// A description of the validation fault.
pub fn validate(kind: SmevCheckKind, subject: &WireSubject) -> Result<CheckSubject, String> {
    if subject.surname.trim().is_empty() {
        return Err("subject.surname is empty".to_owned());
    }
    if subject.given_name.trim().is_empty() {
        return Err("subject.given_name is empty".to_owned());
    }
    let checked = CheckSubject::try_from(subject).map_err(|e| format!("subject: {e}"))?;
    let missing = |field: &str| Err(format!("subject.{field} is required for a {kind:?} check"));
    match kind {
        SmevCheckKind::Passport | SmevCheckKind::Inn if checked.passport.is_none() => {
            missing("passport")
        }
        SmevCheckKind::Snils if checked.snils.is_none() => missing("snils"),
        SmevCheckKind::Snils if checked.birth_date.is_none() => missing("birth_date"),
        SmevCheckKind::EsiaRegistration if checked.snils.is_none() => missing("snils"),
        SmevCheckKind::EsiaRegistration if checked.certificate_der.is_none() => {
            missing("certificate")
        }
        _ => Ok(checked),
    }
}

/// The simulator's behaviour (timing and failure injection). The default answers
/// at the first poll and never fails.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Polls of each check answered `pending` before the final answer.
    pub pending_polls: u32,
    /// Minimum time between a check's submission and its final answer.
    #[serde(rename = "pending_for_ms", with = "millis")]
    pub pending_for: Duration,
    /// The first this many submits answer `503`.
    pub fail_submits: u32,
    /// The first this many polls answer `503`.
    pub fail_polls: u32,
    /// Keep every check `pending` forever.
    pub never_answer: bool,
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// What the simulator saw (see the [module docs](self)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Submit requests received (including failed and repeated ones).
    pub submit_requests: u64,
    /// Poll requests received.
    pub poll_requests: u64,
    /// Requests answered `503` by failure injection.
    pub injected_failures: u64,
    /// Requests answered `400` or `404`.
    pub rejected_requests: u64,
    /// Distinct checks created (one per idempotency key).
    pub checks_created: u64,
    /// Per idempotency key.
    pub keys: BTreeMap<String, KeyStats>,
}

/// What the simulator saw for one idempotency key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStats {
    /// Submit requests that carried the key (including failed and repeated ones).
    pub submits: u64,
    /// The request the key maps to, once a submit was accepted.
    pub request_id: Option<String>,
}

/// A simulator failure answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Injected failure: `503`.
    #[error("simulated SMEV adapter unavailable")]
    Unavailable,
    /// Validation fault: `400`.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Unknown request id: `404`.
    #[error("unknown request id {0}")]
    UnknownRequest(String),
}

impl SimError {
    /// The HTTP status this failure answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::UnknownRequest(_) => StatusCode::NOT_FOUND,
        }
    }
}

impl From<SimError> for VerifierError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::Unavailable => VerifierError::Unavailable(e.to_string()),
            SimError::BadRequest(_) | SimError::UnknownRequest(_) => {
                VerifierError::Rejected(e.to_string())
            }
        }
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        (
            self.status(),
            axum::Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response()
    }
}

#[derive(Debug)]
struct Check {
    outcome: Option<CheckResult>,
    submitted_at: Instant,
    polls: u32,
}

#[derive(Debug, Default)]
struct State_ {
    config: SimConfig,
    submit_failures_left: u32,
    poll_failures_left: u32,
    stats: SimStats,
    checks: HashMap<String, Check>,
}

/// The in-process simulator. Cheap to clone: clones share state, so a test can
/// keep one while an HTTP server ([`router`]) serves another.
#[derive(Debug, Clone, Default)]
pub struct SimulatedVerifier {
    state: Arc<Mutex<State_>>,
}

impl SimulatedVerifier {
    /// A simulator with `config`.
    pub fn new(config: SimConfig) -> Self {
        let sim = Self::default();
        sim.set_config(config);
        sim
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        // A poisoned lock only means a panic elsewhere; the counters stay usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current configuration.
    pub fn config(&self) -> SimConfig {
        self.lock().config.clone()
    }

    /// Replaces the configuration; the failure-injection counters restart from
    /// the new values. Existing checks and statistics are kept.
    pub fn set_config(&self, config: SimConfig) {
        let mut st = self.lock();
        st.submit_failures_left = config.fail_submits;
        st.poll_failures_left = config.fail_polls;
        st.config = config;
    }

    /// A snapshot of what the simulator saw.
    pub fn stats(&self) -> SimStats {
        self.lock().stats.clone()
    }

    /// Submit requests that carried `idempotency_key` (0 if never seen).
    pub fn submits_for(&self, idempotency_key: &str) -> u64 {
        self.lock()
            .stats
            .keys
            .get(idempotency_key)
            .map_or(0, |k| k.submits)
    }

    /// The idempotency keys seen, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.lock().stats.keys.keys().cloned().collect()
    }

    /// Handles a submit as the HTTP endpoint does.
    ///
    /// # Errors
    /// [`SimError::Unavailable`] (injected), [`SimError::BadRequest`].
    pub fn handle_submit(&self, req: &SubmitRequest) -> Result<SubmitResponse, SimError> {
        let mut guard = self.lock();
        let st = &mut *guard;
        st.stats.submit_requests += 1;
        let key = st
            .stats
            .keys
            .entry(req.idempotency_key.clone())
            .or_default();
        key.submits += 1;
        if st.submit_failures_left > 0 {
            st.submit_failures_left -= 1;
            st.stats.injected_failures += 1;
            return Err(SimError::Unavailable);
        }
        if let Some(id) = &key.request_id {
            return Ok(SubmitResponse {
                request_id: id.clone(),
            });
        }
        if req.idempotency_key.is_empty() {
            st.stats.rejected_requests += 1;
            return Err(SimError::BadRequest("idempotency_key is empty".to_owned()));
        }
        let subject = match validate(req.kind, &req.subject) {
            Ok(s) => s,
            Err(e) => {
                st.stats.rejected_requests += 1;
                return Err(SimError::BadRequest(e));
            }
        };
        st.stats.checks_created += 1;
        let request_id = format!("sim-{:06}", st.stats.checks_created);
        key.request_id = Some(request_id.clone());
        st.checks.insert(
            request_id.clone(),
            Check {
                outcome: expected_outcome(req.kind, &subject),
                submitted_at: Instant::now(),
                polls: 0,
            },
        );
        Ok(SubmitResponse { request_id })
    }

    /// Handles a poll as the HTTP endpoint does.
    ///
    /// # Errors
    /// [`SimError::Unavailable`] (injected), [`SimError::UnknownRequest`].
    pub fn handle_poll(&self, request_id: &str) -> Result<StatusResponse, SimError> {
        let mut guard = self.lock();
        let st = &mut *guard;
        st.stats.poll_requests += 1;
        if st.poll_failures_left > 0 {
            st.poll_failures_left -= 1;
            st.stats.injected_failures += 1;
            return Err(SimError::Unavailable);
        }
        let Some(check) = st.checks.get_mut(request_id) else {
            st.stats.rejected_requests += 1;
            return Err(SimError::UnknownRequest(request_id.to_owned()));
        };
        check.polls = check.polls.saturating_add(1);
        let config = &st.config;
        let answer = match &check.outcome {
            Some(result)
                if !config.never_answer
                    && check.polls > config.pending_polls
                    && check.submitted_at.elapsed() >= config.pending_for =>
            {
                StatusResponse::from_result(result)
            }
            _ => StatusResponse::pending(),
        };
        Ok(answer)
    }
}

#[async_trait]
impl IdentityVerifier for SimulatedVerifier {
    async fn submit(
        &self,
        idempotency_key: &str,
        kind: SmevCheckKind,
        subject: &CheckSubject,
    ) -> Result<CheckTicket, VerifierError> {
        let req = SubmitRequest {
            idempotency_key: idempotency_key.to_owned(),
            kind,
            subject: WireSubject::from(subject),
        };
        let resp = self.handle_submit(&req)?;
        Ok(CheckTicket {
            request_id: resp.request_id,
        })
    }

    async fn poll(&self, ticket: &CheckTicket) -> Result<Option<CheckResult>, VerifierError> {
        Ok(self.handle_poll(&ticket.request_id)?.into_result())
    }
}

/// The simulator's HTTP routes (`POST /checks`, `GET /checks/{request_id}`,
/// `GET /_sim/stats`, `GET` / `PUT /_sim/config`) over `sim`.
pub fn router(sim: SimulatedVerifier) -> Router {
    Router::new()
        .route("/checks", post(submit_handler))
        .route("/checks/{request_id}", get(poll_handler))
        .route("/_sim/stats", get(stats_handler))
        .route(
            "/_sim/config",
            get(get_config_handler).put(put_config_handler),
        )
        .with_state(sim)
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, SimError> {
    serde_json::from_slice(body).map_err(|e| SimError::BadRequest(format!("malformed JSON: {e}")))
}

async fn submit_handler(State(sim): State<SimulatedVerifier>, body: Bytes) -> Response {
    let req: SubmitRequest = match parse_json(&body) {
        Ok(r) => r,
        Err(e) => {
            sim.lock().stats.rejected_requests += 1;
            return e.into_response();
        }
    };
    match sim.handle_submit(&req) {
        Ok(resp) => (StatusCode::ACCEPTED, axum::Json(resp)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn poll_handler(
    State(sim): State<SimulatedVerifier>,
    Path(request_id): Path<String>,
) -> Response {
    match sim.handle_poll(&request_id) {
        Ok(resp) => (StatusCode::OK, axum::Json(resp)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn stats_handler(State(sim): State<SimulatedVerifier>) -> axum::Json<SimStats> {
    axum::Json(sim.stats())
}

async fn get_config_handler(State(sim): State<SimulatedVerifier>) -> axum::Json<SimConfig> {
    axum::Json(sim.config())
}

async fn put_config_handler(State(sim): State<SimulatedVerifier>, body: Bytes) -> Response {
    match parse_json::<SimConfig>(&body) {
        Ok(config) => {
            sim.set_config(config.clone());
            (StatusCode::OK, axum::Json(config)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Serves a new simulator with `config` on `listener` until the task is dropped
/// or an I/O error occurs.
///
/// # Errors
/// The server's I/O error.
pub async fn serve(listener: TcpListener, config: SimConfig) -> std::io::Result<()> {
    serve_with(listener, SimulatedVerifier::new(config)).await
}

/// Serves `sim` on `listener` (keep a clone of `sim` to read its statistics).
///
/// # Errors
/// The server's I/O error.
pub async fn serve_with(listener: TcpListener, sim: SimulatedVerifier) -> std::io::Result<()> {
    axum::serve(listener, router(sim)).await
}

/// An HTTP simulator running on a background task (for tests and demos); it
/// stops when dropped.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    sim: SimulatedVerifier,
    task: JoinHandle<std::io::Result<()>>,
}

impl SimServer {
    /// Binds `127.0.0.1:0` and serves a new simulator with `config`. Needs a
    /// Tokio runtime.
    ///
    /// # Errors
    /// The bind error.
    pub async fn start(config: SimConfig) -> std::io::Result<Self> {
        Self::start_on(
            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
            config,
        )
        .await
    }

    /// Binds `addr` and serves a new simulator with `config`.
    ///
    /// # Errors
    /// The bind error.
    pub async fn start_on(addr: SocketAddr, config: SimConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let sim = SimulatedVerifier::new(config);
        let task = tokio::spawn(serve_with(listener, sim.clone()));
        Ok(Self { addr, sim, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give a client, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The simulator behind the server (shared state).
    pub fn sim(&self) -> &SimulatedVerifier {
        &self.sim
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;
    use utrust_core::domain::identifiers::{self, PassportRf};

    fn subject(surname: &str) -> CheckSubject {
        CheckSubject {
            surname: surname.into(),
            given_name: "Иван".into(),
            patronymic: Some("Иванович".into()),
            birth_date: Some(date!(1980 - 05 - 17)),
            snils: identifiers::Snils::parse("11223344595").ok(),
            inn: identifiers::Inn::parse("500100732259").ok(),
            passport: PassportRf::parse("4510", "123456", "770-001")
                .ok()
                .map(|p| (p, date!(2010 - 01 - 02))),
            certificate_der: None,
        }
    }

    #[test]
    fn magic_values_are_recognised() {
        use SmevCheckKind::{Inn, Passport, Snils};
        assert_eq!(
            expected_outcome(Passport, &subject("Иванов")),
            Some(CheckResult::Valid)
        );
        assert_eq!(expected_outcome(Inn, &subject(" SILENT ")), None);
        assert_eq!(
            expected_outcome(Snils, &subject("НЕВАЛИДОВ")),
            Some(CheckResult::Invalid(REASON_NAME_MISMATCH.into()))
        );
        let mut s = subject("Петров");
        s.snils = identifiers::Snils::parse("12345600018").ok();
        assert!(s.snils.is_some());
        assert_eq!(expected_outcome(Snils, &s), Some(CheckResult::NotFound));
        assert_eq!(expected_outcome(Passport, &s), Some(CheckResult::Valid));
    }

    #[test]
    fn delays_and_injected_failures() {
        let sim = SimulatedVerifier::new(SimConfig {
            pending_polls: 2,
            fail_polls: 1,
            ..SimConfig::default()
        });
        let req = SubmitRequest {
            idempotency_key: "k".into(),
            kind: SmevCheckKind::Passport,
            subject: WireSubject::from(&subject("Иванов")),
        };
        let id = sim.handle_submit(&req).map(|r| r.request_id);
        assert_eq!(id, Ok("sim-000001".to_owned()));
        assert_eq!(sim.handle_poll("sim-000001"), Err(SimError::Unavailable));
        assert_eq!(sim.handle_poll("sim-000001"), Ok(StatusResponse::pending()));
        assert_eq!(sim.handle_poll("sim-000001"), Ok(StatusResponse::pending()));
        assert_eq!(
            sim.handle_poll("sim-000001")
                .map(StatusResponse::into_result),
            Ok(Some(CheckResult::Valid))
        );
        assert!(matches!(
            sim.handle_poll("nope"),
            Err(SimError::UnknownRequest(_))
        ));
        let stats = sim.stats();
        assert_eq!(
            (
                stats.poll_requests,
                stats.injected_failures,
                stats.rejected_requests
            ),
            (5, 1, 1)
        );
    }

    #[test]
    fn missing_inputs_are_bad_requests() {
        let mut s = subject("Иванов");
        s.passport = None;
        let w = WireSubject::from(&s);
        assert!(validate(SmevCheckKind::Passport, &w).is_err());
        assert!(validate(SmevCheckKind::Inn, &w).is_err());
        assert!(validate(SmevCheckKind::Snils, &w).is_ok());
        let w = WireSubject {
            birth_date: None,
            ..w
        };
        assert!(validate(SmevCheckKind::Snils, &w).is_err());
        // ЕСИА registration needs the certificate; a patronymic magic value fails it.
        let mut s = subject("Иванов");
        assert!(validate(SmevCheckKind::EsiaRegistration, &WireSubject::from(&s)).is_err());
        s.certificate_der = Some(b"DER".to_vec());
        assert!(validate(SmevCheckKind::EsiaRegistration, &WireSubject::from(&s)).is_ok());
        assert_eq!(
            expected_outcome(SmevCheckKind::EsiaRegistration, &s),
            Some(CheckResult::Valid)
        );
        s.patronymic = Some("Безесиевич".into());
        assert_eq!(
            expected_outcome(SmevCheckKind::EsiaRegistration, &s),
            Some(CheckResult::Invalid(REASON_NO_ESIA_ACCOUNT.to_owned()))
        );
    }

    #[test]
    fn config_json_uses_milliseconds() -> Result<(), serde_json::Error> {
        let c: SimConfig = serde_json::from_str(r#"{"pending_for_ms": 1500, "fail_polls": 2}"#)?;
        assert_eq!(c.pending_for, Duration::from_millis(1500));
        assert_eq!(c.fail_polls, 2);
        assert_eq!(serde_json::to_value(&c)?["pending_for_ms"], 1500);
        Ok(())
    }
}
