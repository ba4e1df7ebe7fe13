//! The REST wire format between utrust and an SMEV adapter (fixed names; see
//! `docs/SMEV.md`).
//!
//! ```text
//! POST {smev_url}/checks
//!   {"idempotency_key": "...", "kind": "passport" | "snils" | "inn" | "esia_registration",
//!    "subject": {"surname", "given_name", "patronymic", "birth_date", "snils", "inn",
//!                "passport": {"series", "number", "issued_on", "issuer_code"}}}
//!   -> 202 {"request_id": "..."}     (the same key always maps to the same request)
//!   -> 400 {"error": "..."}          (validation fault: not retried)
//!   -> 5xx                           (transient: retried)
//!
//! GET {smev_url}/checks/{request_id}
//!   -> 200 {"status": "pending" | "valid" | "invalid" | "not_found" | "error",
//!           "reason": "..."}         ("reason" only with invalid / error, optional)
//!   -> 404 {"error": "..."}          (unknown request id)
//! ```
//!
//! Dates are ISO 8601 calendar dates (`"1980-05-17"`); absent optional fields are
//! omitted (a `null` is accepted too). The `kind` values are the serde names of
//! [`SmevCheckKind`].

use serde::{Deserialize, Serialize};
use time::Date;
use utrust_core::domain::catalog::SmevCheckKind;
use utrust_core::domain::identifiers::{IdentifierError, Inn, PassportRf, Snils};
use utrust_core::ports::identity::{CheckResult, CheckSubject};

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// The path of the submit endpoint, relative to the adapter's base URL.
pub const CHECKS_PATH: &str = "checks";

/// The wire name of a check kind: `"passport"`, `"snils"`, `"inn"` or
/// `"esia_registration"`.
pub fn kind_name(kind: SmevCheckKind) -> &'static str {
    match kind {
        SmevCheckKind::Passport => "passport",
        SmevCheckKind::Snils => "snils",
        SmevCheckKind::Inn => "inn",
        SmevCheckKind::EsiaRegistration => "esia_registration",
    }
}

/// `POST {smev_url}/checks` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// The caller's key (one per application and check kind): the adapter maps
    /// the same key to the same request, so a retried submit is harmless.
    pub idempotency_key: String,
    /// What to check.
    pub kind: SmevCheckKind,
    /// The applicant's data.
    pub subject: WireSubject,
}

/// The applicant's data on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WireSubject {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub given_name: String,
    /// Patronymic, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronymic: Option<String>,
    /// Birth date, `YYYY-MM-DD`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "iso_date::option"
    )]
    pub birth_date: Option<Date>,
    /// SNILS, 11 digits without separators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snils: Option<String>,
    /// Personal INN, 12 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inn: Option<String>,
    /// The passport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passport: Option<WirePassport>,
    /// The issued certificate, base64 of the DER (`esia_registration` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// A Russian internal passport on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WirePassport {
    /// Series, 4 digits.
    pub series: String,
    /// Number, 6 digits.
    pub number: String,
    /// Issue date, `YYYY-MM-DD`.
    #[serde(with = "iso_date")]
    pub issued_on: Date,
    /// Issuing unit's code, `NNN-NNN`.
    pub issuer_code: String,
}

impl From<&CheckSubject> for WireSubject {
    fn from(s: &CheckSubject) -> Self {
        Self {
            surname: s.surname.clone(),
            given_name: s.given_name.clone(),
            patronymic: s.patronymic.clone(),
            birth_date: s.birth_date,
            snils: s.snils.as_ref().map(|v| v.as_str().to_owned()),
            inn: s.inn.as_ref().map(|v| v.as_str().to_owned()),
            passport: s.passport.as_ref().map(|(p, issued_on)| WirePassport {
                series: p.series().to_owned(),
                number: p.number().to_owned(),
                issued_on: *issued_on,
                issuer_code: p.issuer_code().to_owned(),
            }),
            certificate: s.certificate_der.as_deref().map(base64_encode),
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding required, no whitespace); `None` if malformed.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (ci, chunk) in bytes.chunks(4).enumerate() {
        let last = ci + 1 == bytes.len() / 4;
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n: u32 = 0;
        for (i, c) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad {
                0
            } else {
                u32::try_from(B64.iter().position(|b| b == c)?).ok()?
            };
            n = (n << 6) | v;
        }
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

impl TryFrom<&WireSubject> for CheckSubject {
    type Error = IdentifierError;

    /// Validates the identifiers (lengths, check digits).
    fn try_from(w: &WireSubject) -> Result<Self, Self::Error> {
        Ok(Self {
            surname: w.surname.clone(),
            given_name: w.given_name.clone(),
            patronymic: w.patronymic.clone(),
            birth_date: w.birth_date,
            snils: w.snils.as_deref().map(Snils::parse).transpose()?,
            inn: w.inn.as_deref().map(Inn::parse).transpose()?,
            passport: w
                .passport
                .as_ref()
                .map(|p| {
                    PassportRf::parse(&p.series, &p.number, &p.issuer_code)
                        .map(|v| (v, p.issued_on))
                })
                .transpose()?,
            certificate_der: w
                .certificate
                .as_deref()
                .map(|c| {
                    base64_decode(c).ok_or(IdentifierError {
                        field: "certificate",
                        problem: utrust_core::domain::identifiers::IdentifierProblem::Format,
                    })
                })
                .transpose()?,
        })
    }
}

/// `202` answer to a submit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitResponse {
    /// The adapter's id of the request (distinct from the idempotency key).
    pub request_id: String,
}

/// The state of a check on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireStatus {
    /// No answer yet.
    Pending,
    /// The data is confirmed.
    Valid,
    /// The data is wrong (`reason` says why).
    Invalid,
    /// The provider has no such record.
    NotFound,
    /// The provider failed (`reason` says how).
    Error,
}

/// `200` answer to a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// The state.
    pub status: WireStatus,
    /// Why, for `invalid` and `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The reason used when an `invalid` or `error` answer carries none.
pub const NO_REASON: &str = "no reason given";

impl StatusResponse {
    /// A `pending` answer.
    pub fn pending() -> Self {
        Self {
            status: WireStatus::Pending,
            reason: None,
        }
    }

    /// The wire form of a final result. [`CheckResult::Timeout`] is not a wire
    /// state (the caller decides it); it is sent as `error` with reason `timeout`.
    pub fn from_result(result: &CheckResult) -> Self {
        let (status, reason) = match result {
            CheckResult::Valid => (WireStatus::Valid, None),
            CheckResult::Invalid(r) => (WireStatus::Invalid, Some(r.clone())),
            CheckResult::NotFound => (WireStatus::NotFound, None),
            CheckResult::Error(r) => (WireStatus::Error, Some(r.clone())),
            CheckResult::Timeout => (WireStatus::Error, Some("timeout".to_owned())),
        };
        Self { status, reason }
    }

    /// The result this answer carries: `None` while pending. A missing reason on
    /// `invalid` / `error` becomes [`NO_REASON`].
    pub fn into_result(self) -> Option<CheckResult> {
        let reason = || self.reason.clone().unwrap_or_else(|| NO_REASON.to_owned());
        match self.status {
            WireStatus::Pending => None,
            WireStatus::Valid => Some(CheckResult::Valid),
            WireStatus::Invalid => Some(CheckResult::Invalid(reason())),
            WireStatus::NotFound => Some(CheckResult::NotFound),
            WireStatus::Error => Some(CheckResult::Error(reason())),
        }
    }
}

/// The body of a `4xx` / `5xx` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    fn subject() -> CheckSubject {
        CheckSubject {
            surname: "Иванов".into(),
            given_name: "Иван".into(),
            patronymic: None,
            birth_date: Some(date!(1980 - 05 - 17)),
            snils: Snils::parse("11223344595").ok(),
            inn: Inn::parse("500100732259").ok(),
            passport: PassportRf::parse("4510", "123456", "770-001")
                .ok()
                .map(|p| (p, date!(2010 - 01 - 02))),
            certificate_der: None,
        }
    }

    #[test]
    fn base64_round_trips() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            let text = base64_encode(&bytes);
            assert_eq!(base64_decode(&text), Some(bytes), "{text}");
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        for bad in ["Zm8", "Z=8=", "Zm9v!mFy", "Zg==Zg=="] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn submit_request_has_the_fixed_names() -> Result<(), serde_json::Error> {
        let req = SubmitRequest {
            idempotency_key: "app-1/passport".into(),
            kind: SmevCheckKind::Passport,
            subject: WireSubject::from(&subject()),
        };
        let v = serde_json::to_value(&req)?;
        assert_eq!(
            v,
            json!({
                "idempotency_key": "app-1/passport",
                "kind": "passport",
                "subject": {
                    "surname": "Иванов", "given_name": "Иван", "birth_date": "1980-05-17",
                    "snils": "11223344595", "inn": "500100732259",
                    "passport": {"series": "4510", "number": "123456",
                                 "issued_on": "2010-01-02", "issuer_code": "770-001"}
                }
            })
        );
        let back: SubmitRequest = serde_json::from_value(v)?;
        assert_eq!(back, req);
        Ok(())
    }

    #[test]
    fn kinds_and_statuses_use_wire_names() -> Result<(), serde_json::Error> {
        for kind in [
            SmevCheckKind::Passport,
            SmevCheckKind::Snils,
            SmevCheckKind::Inn,
        ] {
            assert_eq!(serde_json::to_value(kind)?, json!(kind_name(kind)));
        }
        let s: StatusResponse = serde_json::from_value(json!({"status": "not_found"}))?;
        assert_eq!(s.into_result(), Some(CheckResult::NotFound));
        let s: StatusResponse =
            serde_json::from_value(json!({"status": "invalid", "reason": "passport expired"}))?;
        assert_eq!(
            s.into_result(),
            Some(CheckResult::Invalid("passport expired".into()))
        );
        let s: StatusResponse = serde_json::from_value(json!({"status": "error", "reason": null}))?;
        assert_eq!(s.into_result(), Some(CheckResult::Error(NO_REASON.into())));
        assert_eq!(StatusResponse::pending().into_result(), None);
        assert_eq!(
            serde_json::to_value(StatusResponse::pending())?,
            json!({"status": "pending"})
        );
        Ok(())
    }

    #[test]
    fn wire_subject_round_trips_and_validates() {
        let s = subject();
        let w = WireSubject::from(&s);
        assert_eq!(CheckSubject::try_from(&w), Ok(s));
        let bad = WireSubject {
            snils: Some("15278361414".into()),
            ..w
        };
        assert!(CheckSubject::try_from(&bad).is_err());
    }
}
