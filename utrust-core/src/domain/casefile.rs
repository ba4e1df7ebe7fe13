//! The application's case file (issue #8; seed 004, "Создание услуг",
//! "Просмотр заявок"): uploaded documents and their signatures, the payment, the
//! ЕСИА registration, and the rules that say what is still missing before a step
//! may be taken.
//!
//! The rules (each a pure function of the service, the application and its
//! documents; the engine refuses the step with `requirements_missing` naming
//! every [`Requirement`] returned):
//! - **documents step** (`AwaitingDocuments → DocumentsComplete`, service flag
//!   "require documents"): every kind of the service's scan set except the signed
//!   certificate blank (which only exists after issuing) is uploaded; with an
//!   empty set, at least one document of any kind (`document:any`). With "require
//!   signature of uploaded documents" each of those kinds has a signed file.
//! - **verification** (the certificate request / identification step, where the
//!   employee meets the owner), flag "passport scan on verification": a passport
//!   scan is uploaded before the CSR is accepted.
//! - **completion** (`Issued → Completed`): the whole scan set is uploaded,
//!   including the signed blank if it is in the set; with the signature flag
//!   *every* uploaded file is signed; with "automatic ESIA registration" the
//!   registration succeeded. Payment and confirmation are steps before issuing,
//!   so an issued application has passed them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::application::Actor;
use super::catalog::{ApplicantKind, DocumentKind, Service};
use super::checks::CheckState;
use super::ids::{ApplicationId, DocumentId};
use super::lifecycle::Step;

/// Largest document accepted (bytes).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// Media types a document may have.
pub const DOCUMENT_MEDIA_TYPES: [&str; 5] = [
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/tiff",
    "application/xml",
];

impl DocumentKind {
    /// Every kind.
    pub const ALL: [DocumentKind; 6] = [
        Self::Passport,
        Self::Snils,
        Self::PowerOfAttorney,
        Self::ApplicationForm,
        Self::SignedBlank,
        Self::Additional,
    ];

    /// The wire name: `passport`, `snils`, `power_of_attorney`,
    /// `application_form`, `signed_blank`, `additional`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passport => "passport",
            Self::Snils => "snils",
            Self::PowerOfAttorney => "power_of_attorney",
            Self::ApplicationForm => "application_form",
            Self::SignedBlank => "signed_blank",
            Self::Additional => "additional",
        }
    }

    /// Parses a wire name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl core::fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lowercase hex SHA-256 digest (64 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// Parses 64 hex digits (any case; kept lowercase).
    ///
    /// # Errors
    /// A message when the text is not 64 hex digits.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(format!("not a SHA-256 hex digest: {s:?}"))
        }
    }

    /// From the 32 digest bytes.
    pub fn from_digest(bytes: &[u8; 32]) -> Self {
        Self(super::hex::encode(bytes))
    }

    /// The SHA-256 of `content`.
    pub fn of(content: &[u8]) -> Self {
        use sha2::Digest as _;
        let digest: [u8; 32] = sha2::Sha256::digest(content).into();
        Self::from_digest(&digest)
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sha256Hex {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<Sha256Hex> for String {
    fn from(h: Sha256Hex) -> Self {
        h.0
    }
}

impl core::fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A verified detached signature of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSignature {
    /// Serial number of the signer's certificate (hex).
    pub signer_serial: String,
    /// Subject of the signer's certificate (RFC 4514 text).
    pub signer_subject: String,
    /// SHA-256 of the signature (DER), stored in the document store.
    pub signature_sha256: Sha256Hex,
    /// Who uploaded the signature.
    pub signed_by: Actor,
    /// When it was verified and stored.
    #[serde(with = "time::serde::rfc3339")]
    pub signed_at: OffsetDateTime,
}

/// One file of the case file: its metadata (the content is in the document
/// store under its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseDocument {
    /// Server-generated id.
    pub id: DocumentId,
    /// The application.
    pub application_id: ApplicationId,
    /// What it is.
    pub kind: DocumentKind,
    /// The file name given by the uploader.
    pub name: String,
    /// Media type, e.g. `application/pdf`.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content (the key in the document store).
    pub sha256: Sha256Hex,
    /// Who uploaded it.
    pub uploaded_by: Actor,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded_at: OffsetDateTime,
    /// The verified signature, once one is attached.
    pub signature: Option<DocumentSignature>,
}

impl CaseDocument {
    /// `unsigned` or `signed`.
    pub fn signature_state(&self) -> &'static str {
        if self.signature.is_some() {
            "signed"
        } else {
            "unsigned"
        }
    }
}

/// Checks a file name: 1–255 characters, no path separators, no control
/// characters.
///
/// # Errors
/// A message naming the fault.
pub fn check_file_name(name: &str) -> Result<(), &'static str> {
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err("1 to 255 characters");
    }
    if name.contains(['/', '\\']) || name.chars().any(char::is_control) || name == ".." {
        return Err("no path separators or control characters");
    }
    Ok(())
}

/// How an application is paid (seed: "Выбрана оплата").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Paid by card.
    Card,
    /// Paid against an invoice.
    Invoice,
}

impl PaymentMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::Invoice => "invoice",
        }
    }

    /// Parses a wire name.
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::Card, Self::Invoice]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// The methods `service` offers to `kind`: card only where the service allows
/// card payment for the applicant kind; invoice always.
pub fn payment_methods(service: &Service, kind: ApplicantKind) -> Vec<PaymentMethod> {
    if service.card_payment.contains(&kind) {
        vec![PaymentMethod::Card, PaymentMethod::Invoice]
    } else {
        vec![PaymentMethod::Invoice]
    }
}

/// The payment of an application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The method chosen.
    pub method: Option<PaymentMethod>,
    /// The provider's reference (invoice number, card transaction).
    pub reference: Option<String>,
    /// When the payment was received.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub paid_at: Option<OffsetDateTime>,
}

/// Where the ЕСИА registration of the issued certificate stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum EsiaStatus {
    /// Sent; waiting for the answer.
    Validating,
    /// Registered.
    Succeeded,
    /// Refused or failed, with the reason.
    Failed(String),
}

impl EsiaStatus {
    /// The status of the registration whose check is in `state`.
    pub fn of(state: &CheckState) -> Self {
        match state {
            CheckState::Pending => Self::Validating,
            CheckState::Valid => Self::Succeeded,
            other => Self::Failed(match other.reason() {
                Some(r) => format!("{}: {r}", other.name()),
                None => other.name().to_owned(),
            }),
        }
    }

    /// `validating`, `succeeded`, `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Validating => "validating",
            Self::Succeeded => "succeeded",
            Self::Failed(_) => "failed",
        }
    }
}

/// Something an action needs that the application does not have yet; named on
/// the wire as [`Requirement::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Requirement {
    /// A step of the way to issuing (`payment`, `confirmation`, `csr`, …).
    Step(Step),
    /// A document of this kind (`document:passport`).
    Document(DocumentKind),
    /// At least one document of any kind (`document:any`).
    AnyDocument,
    /// A signed document of this kind (`signature:snils`).
    Signature(DocumentKind),
    /// The ЕСИА registration succeeded (`esia_registration`).
    EsiaRegistration,
    /// A payment method is chosen (`payment_method`).
    PaymentMethod,
}

impl Requirement {
    /// The wire name: `document:passport`, `signature:snils`, `document:any`,
    /// `payment`, `confirmation`, `esia_registration`, …
    pub fn name(&self) -> String {
        match self {
            Self::Step(s) => s.as_str().to_owned(),
            Self::Document(k) => format!("document:{k}"),
            Self::AnyDocument => "document:any".to_owned(),
            Self::Signature(k) => format!("signature:{k}"),
            Self::EsiaRegistration => "esia_registration".to_owned(),
            Self::PaymentMethod => "payment_method".to_owned(),
        }
    }
}

impl core::fmt::Display for Requirement {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.name())
    }
}

/// `a, b, c`: the names of `missing`, for messages.
pub fn requirement_list(missing: &[Requirement]) -> String {
    missing
        .iter()
        .map(Requirement::name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The requirements of `kinds`: each uploaded, and signed if `signed`.
fn scans_missing(
    kinds: impl Iterator<Item = DocumentKind>,
    signed: bool,
    docs: &[CaseDocument],
) -> Vec<Requirement> {
    let mut out = Vec::new();
    for kind in kinds {
        let of_kind: Vec<&CaseDocument> = docs.iter().filter(|d| d.kind == kind).collect();
        if of_kind.is_empty() {
            out.push(Requirement::Document(kind));
            if signed {
                out.push(Requirement::Signature(kind));
            }
        } else if signed && of_kind.iter().all(|d| d.signature.is_none()) {
            out.push(Requirement::Signature(kind));
        }
    }
    out
}

/// What the documents step still needs (see the module documentation).
pub fn documents_step_missing(service: &Service, docs: &[CaseDocument]) -> Vec<Requirement> {
    let signed = service.require_document_signature;
    let kinds: BTreeSet<DocumentKind> = service
        .required_scans
        .iter()
        .copied()
        .filter(|k| *k != DocumentKind::SignedBlank)
        .collect();
    if kinds.is_empty() {
        let ok = docs.iter().any(|d| !signed || d.signature.is_some());
        return match (ok, docs.is_empty()) {
            (true, _) => Vec::new(),
            (false, true) => vec![Requirement::AnyDocument],
            (false, false) => vec![Requirement::Signature(DocumentKind::Additional)],
        };
    }
    scans_missing(kinds.into_iter(), signed, docs)
}

/// What verification (accepting the certificate request) still needs: the
/// passport scan, with "passport scan on verification".
pub fn verification_missing(service: &Service, docs: &[CaseDocument]) -> Vec<Requirement> {
    if service.passport_scan_on_verification
        && !docs.iter().any(|d| d.kind == DocumentKind::Passport)
    {
        vec![Requirement::Document(DocumentKind::Passport)]
    } else {
        Vec::new()
    }
}

/// What completion still needs, for an issued application (see the module
/// documentation). `esia` is the registration's status, if one was started.
pub fn completion_missing(
    service: &Service,
    esia_required: bool,
    docs: &[CaseDocument],
    esia: Option<&EsiaStatus>,
) -> Vec<Requirement> {
    let signed = service.require_document_signature;
    let mut out = scans_missing(service.required_scans.iter().copied(), signed, docs);
    if service.require_documents && service.required_scans.is_empty() && docs.is_empty() {
        out.push(Requirement::AnyDocument);
    }
    if signed {
        for d in docs.iter().filter(|d| d.signature.is_none()) {
            let r = Requirement::Signature(d.kind);
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    if esia_required && esia != Some(&EsiaStatus::Succeeded) {
        out.push(Requirement::EsiaRegistration);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use DocumentKind::{Passport, SignedBlank, Snils};

    fn doc(kind: DocumentKind, signed: bool) -> CaseDocument {
        let t = OffsetDateTime::UNIX_EPOCH;
        CaseDocument {
            id: DocumentId::from_random_bytes([2; 16]),
            application_id: ApplicationId::from_random_bytes([1; 16]),
            kind,
            name: "scan.pdf".into(),
            media_type: "application/pdf".into(),
            size: 3,
            sha256: Sha256Hex::from_digest(&[0; 32]),
            uploaded_by: Actor::System,
            uploaded_at: t,
            signature: signed.then(|| DocumentSignature {
                signer_serial: "01".into(),
                signer_subject: "CN=x".into(),
                signature_sha256: Sha256Hex::from_digest(&[1; 32]),
                signed_by: Actor::System,
                signed_at: t,
            }),
        }
    }

    fn service(scans: &[DocumentKind], signed: bool) -> Service {
        let mut s = Service::new("x");
        s.require_documents = true;
        s.required_scans = scans.iter().copied().collect();
        s.require_document_signature = signed;
        s
    }

    fn names(v: &[Requirement]) -> Vec<String> {
        v.iter().map(Requirement::name).collect()
    }

    /// The table of the documents step: scan set × signature flag × case file.
    #[test]
    fn documents_step_table() {
        type Case = (
            Vec<DocumentKind>,
            bool,
            Vec<CaseDocument>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                vec![Passport, Snils],
                false,
                vec![],
                vec!["document:passport", "document:snils"],
            ),
            (
                vec![Passport, Snils],
                false,
                vec![doc(Passport, false)],
                vec!["document:snils"],
            ),
            (
                vec![Passport, Snils],
                false,
                vec![doc(Passport, false), doc(Snils, false)],
                vec![],
            ),
            (
                vec![Passport, Snils],
                true,
                vec![doc(Passport, true), doc(Snils, false)],
                vec!["signature:snils"],
            ),
            (
                vec![Passport],
                true,
                vec![],
                vec!["document:passport", "signature:passport"],
            ),
            // The signed blank is not needed before issuing.
            (vec![SignedBlank], false, vec![], vec!["document:any"]),
            (
                vec![Passport, SignedBlank],
                false,
                vec![doc(Passport, false)],
                vec![],
            ),
            (vec![], false, vec![], vec!["document:any"]),
            (vec![], false, vec![doc(Snils, false)], vec![]),
            (
                vec![],
                true,
                vec![doc(Snils, false)],
                vec!["signature:additional"],
            ),
            (vec![], true, vec![doc(Snils, true)], vec![]),
        ];
        for (scans, signed, docs, want) in cases {
            let got = documents_step_missing(&service(&scans, signed), &docs);
            assert_eq!(names(&got), want, "{scans:?} signed={signed}");
        }
    }

    #[test]
    fn passport_on_verification() {
        let mut s = Service::new("x");
        assert!(verification_missing(&s, &[]).is_empty());
        s.passport_scan_on_verification = true;
        assert_eq!(names(&verification_missing(&s, &[])), ["document:passport"]);
        assert!(verification_missing(&s, &[doc(Passport, false)]).is_empty());
    }

    #[test]
    fn completion_table() {
        let s = service(&[Passport, SignedBlank], true);
        let validating = EsiaStatus::Validating;
        let ok = EsiaStatus::Succeeded;
        let failed = EsiaStatus::Failed("invalid".into());
        type Case<'a> = (
            Vec<CaseDocument>,
            bool,
            Option<&'a EsiaStatus>,
            Vec<&'static str>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                vec![doc(Passport, true)],
                false,
                None,
                vec!["document:signed_blank", "signature:signed_blank"],
            ),
            (
                vec![
                    doc(Passport, true),
                    doc(SignedBlank, true),
                    doc(Snils, false),
                ],
                false,
                None,
                vec!["signature:snils"],
            ),
            (
                vec![doc(Passport, true), doc(SignedBlank, true)],
                true,
                Some(&validating),
                vec!["esia_registration"],
            ),
            (
                vec![doc(Passport, true), doc(SignedBlank, true)],
                true,
                Some(&failed),
                vec!["esia_registration"],
            ),
            (
                vec![doc(Passport, true), doc(SignedBlank, true)],
                true,
                Some(&ok),
                vec![],
            ),
            (
                vec![doc(Passport, true), doc(SignedBlank, true)],
                false,
                None,
                vec![],
            ),
        ];
        for (docs, esia_required, esia, want) in cases {
            let got = completion_missing(&s, esia_required, &docs, esia);
            assert_eq!(names(&got), want, "{esia:?}");
        }
        // Every flag off: nothing is required.
        assert!(completion_missing(&Service::new("off"), false, &[], None).is_empty());
    }

    #[test]
    fn payment_methods_follow_card_flags() {
        let mut s = Service::new("x");
        s.card_payment.insert(ApplicantKind::Individual);
        assert_eq!(
            payment_methods(&s, ApplicantKind::Individual),
            [PaymentMethod::Card, PaymentMethod::Invoice]
        );
        assert_eq!(
            payment_methods(&s, ApplicantKind::LegalEntity),
            [PaymentMethod::Invoice]
        );
    }

    #[test]
    fn esia_status_from_check() {
        assert_eq!(EsiaStatus::of(&CheckState::Pending), EsiaStatus::Validating);
        assert_eq!(EsiaStatus::of(&CheckState::Valid), EsiaStatus::Succeeded);
        assert_eq!(
            EsiaStatus::of(&CheckState::Invalid("no account".into())),
            EsiaStatus::Failed("invalid: no account".into())
        );
    }

    #[test]
    fn file_names_and_digests() {
        assert!(check_file_name("паспорт.pdf").is_ok());
        for bad in ["", "  ", "../x", "a/b", "a\\b", "a\u{0}b"] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        assert!(Sha256Hex::parse(&"A".repeat(64)).is_ok());
        assert!(Sha256Hex::parse("abc").is_err());
        assert!(Sha256Hex::parse(&"g".repeat(64)).is_err());
    }
}
