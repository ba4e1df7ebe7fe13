//! Hardware-token self-service (issue #6, seed 000): the user's devices,
//! self-service issuance onto a token (one- or two-stage), secret questions;
//! and the administration of device types, device policies (assigned to users
//! or groups), users' directory profiles and devices' end of life.
//!
//! PINs and secret answers arrive as [`Zeroizing`] strings, become the core's
//! [`Secret`] at once, and never reach a log line, an error message or a
//! response — except a generated user PIN, shown once in the issuance's
//! response when the device policy says so.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;
use utrust_core::domain::access::{Permission, Principal};
use utrust_core::domain::application::Passport;
use utrust_core::domain::devices::{
    AccountingDocument, AreaPins, Device, DevicePolicy, DeviceTemplate, DeviceType, JournalEntry,
    PinAlphabet, PinArea, PinDelivery, PolicyAssignment, PolicyTarget, RandomPin,
};
use utrust_core::domain::identifiers::{Email, Inn, PassportRf, Snils};
use utrust_core::domain::ids::{DeviceId, PointId, ServiceId, UserId};
use utrust_core::domain::profile::{OwnerEdits, UserProfile};
use utrust_core::domain::secret::Secret;
use utrust_core::engine::{
    DeviceIssueOutcome, DeviceIssueRequest, DeviceIssueStage, DeviceReport, RegisterDevice,
};
use zeroize::Zeroizing;

use super::catalog::{body_id, path_id};
use super::json::{ApiJson, parse_optional_body};
use super::lists::{QueryResult, page_with};
use super::openapi::{ActionBodyErrors, ActionErrors, ListErrors, ReadErrors, WriteErrors};
use super::wire::{Page, PassportIn, rfc3339};
use super::{ApiError, AppState};

/// The caller's user account (the bootstrap admin token has none).
fn me(who: &Principal) -> Result<UserId, ApiError> {
    match who {
        Principal::Admin { user: Some(u) }
        | Principal::Employee { user: u, .. }
        | Principal::Applicant { user: u } => Ok(*u),
        Principal::Admin { user: None } => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the bootstrap admin token has no user account: sign in as a user",
        )),
    }
}

fn secret(s: Option<Zeroizing<String>>) -> Option<Secret> {
    s.map(|s| Secret::new(s.as_str()))
}

fn date(field: &str, s: &str) -> Result<Date, ApiError> {
    Date::parse(
        s,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| ApiError::invalid(field, "expected a date YYYY-MM-DD"))
}

fn ident<T>(
    field: &str,
    r: Result<T, utrust_core::domain::identifiers::IdentifierError>,
) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::invalid(field, e.problem.to_string()))
}

// ---------------------------------------------------------------------------
// Wire types.

/// The PINs of one PIN area of the device (e.g. `pki`, `gost`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinsIn {
    /// The area's name; empty or absent: the area the template's key goes to.
    #[serde(default)]
    area: String,
    /// Admin (SO) PIN; empty: the device type's default.
    #[schema(value_type = Option<String>)]
    admin_pin: Option<Zeroizing<String>>,
    /// User PIN; empty: the device type's default.
    #[schema(value_type = Option<String>)]
    user_pin: Option<Zeroizing<String>>,
}

/// The document that authorises a crypto-means operation.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentIn {
    /// Document number.
    number: String,
    /// Document date, `YYYY-MM-DD`.
    #[schema(format = Date)]
    date: String,
}

impl DocumentIn {
    fn to_domain(&self, field: &str) -> Result<AccountingDocument, ApiError> {
        Ok(AccountingDocument {
            number: self.number.clone(),
            date: date(&format!("{field}.date"), &self.date)?,
        })
    }

    fn from_domain(d: &AccountingDocument) -> Self {
        Self {
            number: d.number.clone(),
            date: d.date.to_string(),
        }
    }
}

/// Changes to the owner's data prefilled from the directory (the SMEV form of
/// qualified templates): every field when the policy allows editing, else only
/// the missing ones.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerEditsIn {
    surname: Option<String>,
    given_name: Option<String>,
    patronymic: Option<String>,
    snils: Option<String>,
    inn: Option<String>,
    #[schema(format = Email)]
    email: Option<String>,
    #[schema(format = Date)]
    birth_date: Option<String>,
    passport: Option<PassportIn>,
    position: Option<String>,
}

fn passport(field: &str, p: &PassportIn) -> Result<Passport, ApiError> {
    Ok(Passport {
        document: ident(
            field,
            PassportRf::parse(&p.series, &p.number, &p.issuer_code),
        )?,
        issued_on: date(&format!("{field}.issued_on"), &p.issued_on)?,
    })
}

impl OwnerEditsIn {
    fn to_domain(&self) -> Result<OwnerEdits, ApiError> {
        Ok(OwnerEdits {
            surname: self.surname.clone(),
            given_name: self.given_name.clone(),
            patronymic: self.patronymic.clone(),
            snils: self
                .snils
                .as_deref()
                .map(|s| ident("owner.snils", Snils::parse(s)))
                .transpose()?,
            inn: self
                .inn
                .as_deref()
                .map(|s| ident("owner.inn", Inn::parse(s)))
                .transpose()?,
            email: self
                .email
                .as_deref()
                .map(|s| ident("owner.email", Email::parse(s)))
                .transpose()?,
            birth_date: self
                .birth_date
                .as_deref()
                .map(|s| date("owner.birth_date", s))
                .transpose()?,
            passport: self
                .passport
                .as_ref()
                .map(|p| passport("owner.passport", p))
                .transpose()?,
            position: self.position.clone(),
        })
    }
}

/// `POST /me/devices`: issue a device to oneself.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueDeviceIn {
    /// The token's serial number or label.
    token: String,
    /// The device type (e.g. `rutoken-ecp`, `softhsm2`).
    device_type: String,
    /// The certificate template (one the policy offers).
    template: String,
    /// A name for the device.
    name: Option<String>,
    /// Admin (SO) PIN of the default area (needed if the device is not yet
    /// registered; empty: the type's default).
    #[schema(value_type = Option<String>)]
    admin_pin: Option<Zeroizing<String>>,
    /// User PIN of the default area (when not initialising; empty: the
    /// type's default).
    #[schema(value_type = Option<String>)]
    user_pin: Option<Zeroizing<String>>,
    /// PINs per area, for devices with several (e.g. PKI and GOST).
    #[serde(default)]
    pins: Vec<PinsIn>,
    /// The authorising document (crypto-means accounting).
    document: Option<DocumentIn>,
    /// Changes to the owner's data (qualified templates).
    owner: Option<OwnerEditsIn>,
}

/// A device as its user and administrators see it.
#[derive(Serialize, ToSchema)]
pub struct DeviceOut {
    #[schema(format = Uuid)]
    pub id: String,
    /// The device type.
    pub device_type: String,
    /// The token's serial number.
    pub serial: String,
    /// Its name.
    pub name: String,
    /// The token's model.
    pub model: String,
    /// `registered`, `pending`, `issued`, `lost`, `broken`, `withdrawn`,
    /// `destroyed`.
    pub status: String,
    #[schema(format = Uuid)]
    pub user_id: Option<String>,
    /// The certificate template it was issued with.
    pub template: Option<String>,
    /// The application of its certificate.
    #[schema(format = Uuid)]
    pub application_id: Option<String>,
    /// `CKA_ID` of the key pair on the token (hex).
    pub key_id: Option<String>,
    /// Serials of the certificates written to it.
    pub certificates: Vec<String>,
    /// The authorising document.
    pub document: Option<DocumentIn>,
    pub created_at: String,
    pub updated_at: String,
}

impl DeviceOut {
    pub fn from_domain(d: &Device) -> Self {
        Self {
            id: d.id.to_string(),
            device_type: d.device_type.clone(),
            serial: d.serial.clone(),
            name: d.name.clone(),
            model: d.model.clone(),
            status: serde_json::to_value(d.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            user_id: d.user_id.map(|u| u.to_string()),
            template: d.template.clone(),
            application_id: d.application_id.map(|a| a.to_string()),
            key_id: d.key_id.clone(),
            certificates: d.certificates.iter().map(ToString::to_string).collect(),
            document: d.document.as_ref().map(DocumentIn::from_domain),
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
        }
    }
}

/// The outcome of `POST /me/devices`.
#[derive(Serialize, ToSchema)]
pub struct IssuedDeviceOut {
    #[serde(flatten)]
    pub device: DeviceOut,
    /// The generated user PIN, present only when the policy generates it and
    /// shows it to the user: shown this once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub user_pin: Option<Zeroizing<String>>,
    /// Where the generated PIN was also mailed (the user or their manager, as
    /// the policy says), if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Email)]
    pub pin_sent_to: Option<String>,
    /// `awaiting decision` when the CA must approve first (then 202).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `POST /me/devices/{id}/continue`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContinueIn {
    /// The device's user PIN (the generated one, or the one given).
    #[schema(value_type = String)]
    user_pin: Zeroizing<String>,
}

/// A secret question and its answer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionIn {
    question: String,
    /// Stored as an argon2 hash only; never shown again.
    #[schema(value_type = String)]
    answer: Zeroizing<String>,
}

/// `PUT /me/secret-questions`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionsIn {
    questions: Vec<QuestionIn>,
}

/// The questions set (never the answers).
#[derive(Serialize, ToSchema)]
pub struct QuestionsOut {
    pub questions: Vec<String>,
}

/// A PIN area of a device type.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinAreaIo {
    name: String,
    #[serde(default)]
    gost: bool,
    /// Factory admin PIN (public configuration, e.g. from the maker's manual).
    default_admin_pin: Option<String>,
    /// Factory user PIN.
    default_user_pin: Option<String>,
    #[schema(minimum = 4, maximum = 31)]
    min_user_pin_length: u8,
}

/// A device type.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceTypeIo {
    name: String,
    #[serde(default)]
    model: String,
    areas: Vec<PinAreaIo>,
}

impl DeviceTypeIo {
    fn into_domain(self) -> DeviceType {
        DeviceType {
            name: self.name,
            model: self.model,
            areas: self
                .areas
                .into_iter()
                .map(|a| PinArea {
                    name: a.name,
                    gost: a.gost,
                    default_admin_pin: a.default_admin_pin,
                    default_user_pin: a.default_user_pin,
                    min_user_pin_length: a.min_user_pin_length,
                })
                .collect(),
        }
    }

    fn from_domain(t: &DeviceType) -> Self {
        Self {
            name: t.name.clone(),
            model: t.model.clone(),
            areas: t
                .areas
                .iter()
                .map(|a| PinAreaIo {
                    name: a.name.clone(),
                    gost: a.gost,
                    default_admin_pin: a.default_admin_pin.clone(),
                    default_user_pin: a.default_user_pin.clone(),
                    min_user_pin_length: a.min_user_pin_length,
                })
                .collect(),
        }
    }
}

/// The random user-PIN rule of a policy.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomPinIo {
    #[schema(minimum = 4, maximum = 31)]
    length: u8,
    /// `digits` or `alphanumeric`.
    #[serde(default = "digits")]
    alphabet: String,
    /// `show_once`, `show_and_mail_user`, `show_and_mail_manager`.
    #[serde(default = "show_once")]
    delivery: String,
}

fn digits() -> String {
    "digits".into()
}

fn show_once() -> String {
    "show_once".into()
}

/// A certificate template a policy offers.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceTemplateIo {
    name: String,
    #[schema(format = Uuid)]
    service_id: String,
    #[serde(default)]
    qualified: bool,
}

/// A device usage policy.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevicePolicyIo {
    name: String,
    #[serde(default)]
    self_issue_allowed: bool,
    #[serde(default = "one")]
    max_devices_per_user: u32,
    #[serde(default)]
    secret_questions: u8,
    #[serde(default)]
    secret_questions_required: bool,
    #[serde(default = "yes")]
    initialize_on_issue: bool,
    random_user_pin: Option<RandomPinIo>,
    #[serde(default)]
    templates: Vec<DeviceTemplateIo>,
    /// The issuing point of self-service applications.
    #[schema(format = Uuid)]
    point_id: Option<String>,
    #[serde(default)]
    smev_for_qualified: bool,
    #[serde(default)]
    smev_data_editable: bool,
    #[serde(default)]
    crypto_accounting: bool,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

fn wire_name<T: Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn from_wire<T: serde::de::DeserializeOwned>(field: &str, s: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| ApiError::invalid(field, format!("unknown value {s:?}")))
}

impl DevicePolicyIo {
    fn into_domain(self) -> Result<DevicePolicy, ApiError> {
        let random_user_pin = match self.random_user_pin {
            None => None,
            Some(r) => Some(RandomPin {
                length: r.length,
                alphabet: from_wire::<PinAlphabet>("random_user_pin.alphabet", &r.alphabet)?,
                delivery: from_wire::<PinDelivery>("random_user_pin.delivery", &r.delivery)?,
            }),
        };
        let mut templates = Vec::with_capacity(self.templates.len());
        for (i, t) in self.templates.into_iter().enumerate() {
            templates.push(DeviceTemplate {
                service_id: body_id::<ServiceId>(
                    &t.service_id,
                    &format!("templates[{i}].service_id"),
                )?,
                name: t.name,
                qualified: t.qualified,
            });
        }
        Ok(DevicePolicy {
            name: self.name,
            self_issue_allowed: self.self_issue_allowed,
            max_devices_per_user: self.max_devices_per_user,
            secret_questions: self.secret_questions,
            secret_questions_required: self.secret_questions_required,
            initialize_on_issue: self.initialize_on_issue,
            random_user_pin,
            templates,
            point_id: self
                .point_id
                .as_deref()
                .map(|p| body_id::<PointId>(p, "point_id"))
                .transpose()?,
            smev_for_qualified: self.smev_for_qualified,
            smev_data_editable: self.smev_data_editable,
            crypto_accounting: self.crypto_accounting,
        })
    }

    fn from_domain(p: &DevicePolicy) -> Self {
        Self {
            name: p.name.clone(),
            self_issue_allowed: p.self_issue_allowed,
            max_devices_per_user: p.max_devices_per_user,
            secret_questions: p.secret_questions,
            secret_questions_required: p.secret_questions_required,
            initialize_on_issue: p.initialize_on_issue,
            random_user_pin: p.random_user_pin.map(|r| RandomPinIo {
                length: r.length,
                alphabet: wire_name(r.alphabet),
                delivery: wire_name(r.delivery),
            }),
            templates: p
                .templates
                .iter()
                .map(|t| DeviceTemplateIo {
                    name: t.name.clone(),
                    service_id: t.service_id.to_string(),
                    qualified: t.qualified,
                })
                .collect(),
            point_id: p.point_id.map(|p| p.to_string()),
            smev_for_qualified: p.smev_for_qualified,
            smev_data_editable: p.smev_data_editable,
            crypto_accounting: p.crypto_accounting,
        }
    }
}

/// Assigns a policy to a user or a group (`policy` `null` removes it).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentIo {
    /// The user (exactly one of `user_id` and `group`).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// The group.
    group: Option<String>,
    /// The policy's name.
    policy: Option<String>,
}

impl AssignmentIo {
    fn from_domain(a: &PolicyAssignment) -> Self {
        let (user_id, group) = match &a.target {
            PolicyTarget::User(u) => (Some(u.to_string()), None),
            PolicyTarget::Group(g) => (None, Some(g.clone())),
        };
        Self {
            user_id,
            group,
            policy: Some(a.policy.clone()),
        }
    }
}

/// A user's directory data (prefills the owner of self-service applications).
#[derive(Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileIo {
    surname: Option<String>,
    given_name: Option<String>,
    patronymic: Option<String>,
    snils: Option<String>,
    inn: Option<String>,
    #[schema(format = Email)]
    email: Option<String>,
    #[schema(format = Date)]
    birth_date: Option<String>,
    passport: Option<PassportIn>,
    position: Option<String>,
    /// Where a generated PIN may be mailed (policy `show_and_mail_manager`).
    #[schema(format = Email)]
    manager_email: Option<String>,
}

impl ProfileIo {
    fn to_domain(&self, user_id: UserId) -> Result<UserProfile, ApiError> {
        Ok(UserProfile {
            user_id,
            surname: self.surname.clone(),
            given_name: self.given_name.clone(),
            patronymic: self.patronymic.clone(),
            snils: self
                .snils
                .as_deref()
                .map(|s| ident("snils", Snils::parse(s)))
                .transpose()?,
            inn: self
                .inn
                .as_deref()
                .map(|s| ident("inn", Inn::parse(s)))
                .transpose()?,
            email: self
                .email
                .as_deref()
                .map(|s| ident("email", Email::parse(s)))
                .transpose()?,
            birth_date: self
                .birth_date
                .as_deref()
                .map(|s| date("birth_date", s))
                .transpose()?,
            passport: self
                .passport
                .as_ref()
                .map(|p| passport("passport", p))
                .transpose()?,
            position: self.position.clone(),
            manager_email: self
                .manager_email
                .as_deref()
                .map(|s| ident("manager_email", Email::parse(s)))
                .transpose()?,
        })
    }

    fn from_domain(p: &UserProfile) -> Self {
        Self {
            surname: p.surname.clone(),
            given_name: p.given_name.clone(),
            patronymic: p.patronymic.clone(),
            snils: p.snils.as_ref().map(ToString::to_string),
            inn: p.inn.as_ref().map(ToString::to_string),
            email: p.email.as_ref().map(ToString::to_string),
            birth_date: p.birth_date.map(|d| d.to_string()),
            passport: p.passport.as_ref().map(|x| PassportIn {
                series: x.document.series().to_owned(),
                number: x.document.number().to_owned(),
                issued_on: x.issued_on.to_string(),
                issuer_code: x.document.issuer_code().to_owned(),
            }),
            position: p.position.clone(),
            manager_email: p.manager_email.as_ref().map(ToString::to_string),
        }
    }
}

/// A crypto-means journal entry.
#[derive(Serialize, ToSchema)]
pub struct JournalOut {
    /// `received`, `issued`, `installed`, `withdrawn`, `destroyed`.
    pub kind: String,
    pub document: DocumentIn,
    pub actor: String,
    pub at: String,
    pub note: String,
}

impl JournalOut {
    fn from_domain(j: &JournalEntry) -> Self {
        Self {
            kind: wire_name(j.kind),
            document: DocumentIn::from_domain(&j.document),
            actor: j.actor.to_string(),
            at: rfc3339(j.at),
            note: j.note.clone(),
        }
    }
}

/// A device with its crypto-means journal.
#[derive(Serialize, ToSchema)]
pub struct DeviceDetailOut {
    #[serde(flatten)]
    pub device: DeviceOut,
    pub journal: Vec<JournalOut>,
}

/// How a lost or broken device's certificates are stopped.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportIn {
    /// Suspend (certificateHold) instead of revoking; default `false`: revoke
    /// (`keyCompromise` when lost, `cessationOfOperation` when broken).
    #[serde(default)]
    suspend: bool,
}

/// Withdrawal or destruction: the authorising document (act).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndOfLifeIn {
    document: DocumentIn,
}

// ---------------------------------------------------------------------------
// Self-service.

/// `GET /me/devices`: the caller's devices (type, serial number, name, status).
#[utoipa::path(
    get,
    path = "/api/v1/me/devices",
    tag = "devices",
    responses((status = 200, description = "The caller's devices", body = Page<DeviceOut>), ReadErrors),
)]
pub async fn my_devices(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Page<DeviceOut>>, ApiError> {
    let devices = st.engine.devices_of(me(&who)?).await?;
    Ok(Json(Page {
        items: devices.iter().map(DeviceOut::from_domain).collect(),
        next: None,
    }))
}

/// `POST /me/devices`: issue a device to oneself — 201 with the device when
/// the certificate is on the token (and `user_pin` when a random PIN was
/// generated and the policy shows it), 202 `pending` / `awaiting decision`
/// when the CA must approve first.
#[utoipa::path(
    post,
    path = "/api/v1/me/devices",
    tag = "devices",
    request_body = IssueDeviceIn,
    responses(
        (status = 201, description = "Issued: the certificate is on the token", body = IssuedDeviceOut),
        (status = 202, description = "Pending: awaiting the CA's decision; continue after approval", body = IssuedDeviceOut),
        WriteErrors,
    ),
)]
pub async fn issue(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<IssueDeviceIn>,
) -> Result<Response, ApiError> {
    let mut pins: Vec<AreaPins> = Vec::with_capacity(body.pins.len() + 1);
    if body.admin_pin.is_some() || body.user_pin.is_some() {
        pins.push(AreaPins {
            area: String::new(),
            admin_pin: secret(body.admin_pin),
            user_pin: secret(body.user_pin),
        });
    }
    for p in body.pins {
        pins.push(AreaPins {
            area: p.area,
            admin_pin: secret(p.admin_pin),
            user_pin: secret(p.user_pin),
        });
    }
    let request = DeviceIssueRequest {
        token: body.token,
        device_type: body.device_type,
        template: body.template,
        name: body.name,
        pins,
        document: body
            .document
            .as_ref()
            .map(|d| d.to_domain("document"))
            .transpose()?,
        owner: body
            .owner
            .as_ref()
            .map(OwnerEditsIn::to_domain)
            .transpose()?
            .unwrap_or_default(),
    };
    let outcome = st.engine.issue_device(me(&who)?, request).await?;
    let (status, out) = issued_out(outcome);
    Ok((status, Json(out)).into_response())
}

/// The response of an issuance step: 201 issued, 202 awaiting a decision.
fn issued_out(outcome: DeviceIssueOutcome) -> (StatusCode, IssuedDeviceOut) {
    let (status, message) = match outcome.stage {
        DeviceIssueStage::Issued { .. } => (StatusCode::CREATED, None),
        DeviceIssueStage::AwaitingDecision { .. } => {
            (StatusCode::ACCEPTED, Some("awaiting decision".to_owned()))
        }
    };
    let out = IssuedDeviceOut {
        device: DeviceOut::from_domain(&outcome.device),
        user_pin: outcome
            .user_pin
            .map(|p| Zeroizing::new(p.expose().to_owned())),
        pin_sent_to: outcome.pin_sent_to.as_ref().map(ToString::to_string),
        message,
    };
    (status, out)
}

/// `POST /me/devices/{id}/continue` `{"user_pin"}`: after the CA approved,
/// issue and write the certificate onto the token.
#[utoipa::path(
    post,
    path = "/api/v1/me/devices/{id}/continue",
    tag = "devices",
    params(("id" = uuid::Uuid, Path, description = "The device's id (UUID)")),
    request_body = ContinueIn,
    responses((status = 200, description = "Issued: the certificate is on the token", body = DeviceOut), WriteErrors),
)]
pub async fn continue_issuance(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ContinueIn>,
) -> Result<Json<DeviceOut>, ApiError> {
    let id = path_id::<DeviceId>(&id, "device")?;
    let pin = Secret::new(body.user_pin.as_str());
    let outcome = st
        .engine
        .continue_device_issuance(me(&who)?, id, pin)
        .await?;
    Ok(Json(DeviceOut::from_domain(&outcome.device)))
}

/// `PUT /me/secret-questions` `{"questions": [{"question", "answer"}]}`: sets
/// (replaces) the caller's secret questions; answers are stored as argon2
/// hashes and never shown.
#[utoipa::path(
    put,
    path = "/api/v1/me/secret-questions",
    tag = "devices",
    request_body = QuestionsIn,
    responses((status = 200, description = "The questions set (never the answers)", body = QuestionsOut), WriteErrors),
)]
pub async fn set_questions(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<QuestionsIn>,
) -> Result<Json<QuestionsOut>, ApiError> {
    let answers: Vec<(String, Secret)> = body
        .questions
        .into_iter()
        .map(|q| (q.question, Secret::new(q.answer.as_str())))
        .collect();
    let user = me(&who)?;
    st.engine.set_secret_questions(user, answers).await?;
    let questions = st.engine.secret_questions(user).await?;
    Ok(Json(QuestionsOut { questions }))
}

/// `GET /me/secret-questions`: the caller's questions (never the answers).
#[utoipa::path(
    get,
    path = "/api/v1/me/secret-questions",
    tag = "devices",
    responses((status = 200, description = "The questions set", body = QuestionsOut), ReadErrors),
)]
pub async fn questions(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<QuestionsOut>, ApiError> {
    let questions = st.engine.secret_questions(me(&who)?).await?;
    Ok(Json(QuestionsOut { questions }))
}

// ---------------------------------------------------------------------------
// Administration.

/// `POST /device-types`: adds or replaces a device type (by name).
#[utoipa::path(
    post,
    path = "/api/v1/device-types",
    tag = "devices",
    request_body = DeviceTypeIo,
    responses((status = 201, description = "Stored", body = DeviceTypeIo), WriteErrors),
)]
pub async fn put_type(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<DeviceTypeIo>,
) -> Result<(StatusCode, Json<DeviceTypeIo>), ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let t = st.engine.put_device_type(body.into_domain()).await?;
    Ok((StatusCode::CREATED, Json(DeviceTypeIo::from_domain(&t))))
}

/// `GET /device-types`.
#[utoipa::path(
    get,
    path = "/api/v1/device-types",
    tag = "devices",
    responses((status = 200, description = "Every device type", body = Page<DeviceTypeIo>), ReadErrors),
)]
pub async fn types(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Page<DeviceTypeIo>>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let all = st.engine.device_types().await?;
    Ok(Json(Page {
        items: all.iter().map(DeviceTypeIo::from_domain).collect(),
        next: None,
    }))
}

/// `POST /device-policies`: adds or replaces a device usage policy (by name).
#[utoipa::path(
    post,
    path = "/api/v1/device-policies",
    tag = "devices",
    request_body = DevicePolicyIo,
    responses((status = 201, description = "Stored", body = DevicePolicyIo), WriteErrors),
)]
pub async fn put_policy(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<DevicePolicyIo>,
) -> Result<(StatusCode, Json<DevicePolicyIo>), ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let p = st.engine.put_device_policy(body.into_domain()?).await?;
    Ok((StatusCode::CREATED, Json(DevicePolicyIo::from_domain(&p))))
}

/// `GET /device-policies`.
#[utoipa::path(
    get,
    path = "/api/v1/device-policies",
    tag = "devices",
    responses((status = 200, description = "Every device policy", body = Page<DevicePolicyIo>), ReadErrors),
)]
pub async fn policies(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Page<DevicePolicyIo>>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let all = st.engine.device_policies().await?;
    Ok(Json(Page {
        items: all.iter().map(DevicePolicyIo::from_domain).collect(),
        next: None,
    }))
}

/// `POST /device-policy-assignments` `{"user_id" | "group", "policy"}`:
/// assigns a policy (`null` removes the assignment); answers every assignment.
#[utoipa::path(
    post,
    path = "/api/v1/device-policy-assignments",
    tag = "devices",
    request_body = AssignmentIo,
    responses((status = 200, description = "Every assignment", body = Page<AssignmentIo>), WriteErrors),
)]
pub async fn assign(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<AssignmentIo>,
) -> Result<Json<Page<AssignmentIo>>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let target = match (&body.user_id, &body.group) {
        (Some(u), None) => PolicyTarget::User(body_id::<UserId>(u, "user_id")?),
        (None, Some(g)) => PolicyTarget::Group(g.clone()),
        _ => {
            return Err(ApiError::invalid(
                "user_id",
                "give exactly one of user_id and group",
            ));
        }
    };
    st.engine
        .assign_device_policy(target, body.policy.as_deref())
        .await?;
    assignments(State(st), Extension(who)).await
}

/// `GET /device-policy-assignments`.
#[utoipa::path(
    get,
    path = "/api/v1/device-policy-assignments",
    tag = "devices",
    responses((status = 200, description = "Every assignment", body = Page<AssignmentIo>), ReadErrors),
)]
pub async fn assignments(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Page<AssignmentIo>>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let all = st.engine.device_policy_assignments().await?;
    Ok(Json(Page {
        items: all.iter().map(AssignmentIo::from_domain).collect(),
        next: None,
    }))
}

/// `PUT /users/{id}/profile`: the user's directory data.
#[utoipa::path(
    put,
    path = "/api/v1/users/{id}/profile",
    tag = "devices",
    params(("id" = uuid::Uuid, Path, description = "The user's id (UUID)")),
    request_body = ProfileIo,
    responses((status = 200, description = "Stored", body = ProfileIo), WriteErrors),
)]
pub async fn put_profile(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ProfileIo>,
) -> Result<Json<ProfileIo>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let user = path_id::<UserId>(&id, "user")?;
    let p = st.engine.put_user_profile(body.to_domain(user)?).await?;
    Ok(Json(ProfileIo::from_domain(&p)))
}

/// `GET /users/{id}/profile`.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/profile",
    tag = "devices",
    params(("id" = uuid::Uuid, Path, description = "The user's id (UUID)")),
    responses((status = 200, description = "The directory data", body = ProfileIo), ReadErrors),
)]
pub async fn profile(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ProfileIo>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let user = path_id::<UserId>(&id, "user")?;
    let p = st.engine.user_profile(user).await?;
    Ok(Json(ProfileIo::from_domain(&p)))
}

/// `GET /devices/{id}`: a device with its crypto-means journal.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{id}",
    tag = "devices",
    params(("id" = uuid::Uuid, Path, description = "The device's id (UUID)")),
    responses((status = 200, description = "The device and its journal", body = DeviceDetailOut), ReadErrors),
)]
pub async fn device(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<DeviceDetailOut>, ApiError> {
    let id = path_id::<DeviceId>(&id, "device")?;
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let device = st.engine.device(id).await?;
    let journal = st.engine.device_journal(id).await?;
    Ok(Json(DeviceDetailOut {
        device: DeviceOut::from_domain(&device),
        journal: journal.iter().map(JournalOut::from_domain).collect(),
    }))
}

/// `POST /devices/{id}/lost` `{"suspend"?}`: the device is lost; its
/// certificates are revoked (`keyCompromise`) or, with `"suspend": true`,
/// suspended.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{id}/lost",
    tag = "devices",
    params(("id" = uuid::Uuid, Path, description = "The device's id (UUID)")),
    request_body(content = Option<ReportIn>, description = "Optional JSON body"),
    responses((status = 200, description = "Marked lost", body = DeviceOut), ActionBodyErrors),
)]
pub async fn lost(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DeviceOut>, ApiError> {
    report(&st, &who, &id, body, DeviceReport::Lost).await
}

/// `POST /devices/{id}/broken` `{"suspend"?}`: the device is broken; its
/// certificates are revoked (`cessationOfOperation`) or suspended.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{id}/broken",
    tag = "devices",
    params(("id" = uuid::Uuid, Path, description = "The device's id (UUID)")),
    request_body(content = Option<ReportIn>, description = "Optional JSON body"),
    responses((status = 200, description = "Marked broken", body = DeviceOut), ActionBodyErrors),
)]
pub async fn broken(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DeviceOut>, ApiError> {
    report(&st, &who, &id, body, DeviceReport::Broken).await
}

/// An operator's loss or breakage report (`{"suspend"?}` optional).
async fn report(
    st: &AppState,
    who: &Principal,
    id: &str,
    body: Result<Bytes, BytesRejection>,
    kind: DeviceReport,
) -> Result<Json<DeviceOut>, ApiError> {
    let id = path_id::<DeviceId>(id, "device")?;
    st.engine.authorize(who, Permission::ManageUsers)?;
    let suspend = parse_optional_body::<ReportIn>(body)?
        .unwrap_or_default()
        .suspend;
    let d = st
        .engine
        .report_device(id, kind, suspend, who.actor())
        .await?;
    Ok(Json(DeviceOut::from_domain(&d)))
}

/// `POST /devices/{id}/withdraw` `{"document": {"number", "date"}}`:
/// withdrawn from use, recorded in the crypto-means journal.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{id}/withdraw",
    tag = "devices",
    params(("id" = uuid::Uuid, Path, description = "The device's id (UUID)")),
    request_body = EndOfLifeIn,
    responses((status = 200, description = "Withdrawn", body = DeviceOut), WriteErrors),
)]
pub async fn withdraw(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EndOfLifeIn>,
) -> Result<Json<DeviceOut>, ApiError> {
    let id = path_id::<DeviceId>(&id, "device")?;
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let doc = body.document.to_domain("document")?;
    let d = st.engine.withdraw_device(id, doc, who.actor()).await?;
    Ok(Json(DeviceOut::from_domain(&d)))
}

/// `POST /devices/{id}/destroy` `{"document"}`: destroyed, recorded
/// in the crypto-means journal.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{id}/destroy",
    tag = "devices",
    params(("id" = uuid::Uuid, Path, description = "The device's id (UUID)")),
    request_body = EndOfLifeIn,
    responses((status = 200, description = "Destroyed", body = DeviceOut), WriteErrors),
)]
pub async fn destroy(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EndOfLifeIn>,
) -> Result<Json<DeviceOut>, ApiError> {
    let id = path_id::<DeviceId>(&id, "device")?;
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let doc = body.document.to_domain("document")?;
    let d = st.engine.destroy_device(id, doc, who.actor()).await?;
    Ok(Json(DeviceOut::from_domain(&d)))
}

/// `POST /me/devices/{id}/lost`: the user reports their own device lost; its
/// certificates are revoked (keyCompromise).
#[utoipa::path(
    post,
    path = "/api/v1/me/devices/{id}/lost",
    tag = "devices",
    params(("id" = uuid::Uuid, Path, description = "The device's id (UUID)")),
    responses((status = 200, description = "Marked lost", body = DeviceOut), ActionErrors),
)]
pub async fn my_device_lost(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<DeviceOut>, ApiError> {
    let id = path_id::<DeviceId>(&id, "device")?;
    let user = me(&who)?;
    let d = st
        .engine
        .report_device(
            id,
            DeviceReport::Lost,
            false,
            utrust_core::domain::application::Actor::User(user),
        )
        .await?;
    Ok(Json(DeviceOut::from_domain(&d)))
}

/// `GET /devices?after=&limit=`: every device, ordered by id (`next` is the
/// cursor of the following page).
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "devices",
    params(("after" = Option<uuid::Uuid>, Query, description = "Cursor: the `next` of the previous page"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)")),
    responses((status = 200, description = "A page of devices", body = Page<DeviceOut>), ListErrors),
)]
pub async fn list(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    query: QueryResult,
) -> Result<Json<Page<DeviceOut>>, ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let (after, limit) = page_with::<DeviceId>(query, |_, _| Ok(false))?;
    // One more than asked tells whether there is a next page.
    let mut page = st.engine.list_devices(after, limit + 1).await?;
    let next = if page.len() > limit as usize {
        page.truncate(limit as usize);
        page.last().map(|d| d.id.to_string())
    } else {
        None
    };
    Ok(Json(Page {
        items: page.iter().map(DeviceOut::from_domain).collect(),
        next,
    }))
}

/// `POST /devices`: a device received into accounting.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterIn {
    /// The device type.
    device_type: String,
    /// The token's serial number (as `C_GetTokenInfo` reports it).
    serial: String,
    /// A name for it.
    #[serde(default)]
    name: String,
    /// The model.
    #[serde(default)]
    model: String,
    /// The user it is meant for.
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// The receipt document (journal `received`).
    document: DocumentIn,
}

/// `POST /devices` `{"device_type", "serial", "name"?, "model"?, "user_id"?,
/// "document"}`: receives a device into accounting (journal `received`); it
/// can then be issued in self-service without typing its admin PIN.
#[utoipa::path(
    post,
    path = "/api/v1/devices",
    tag = "devices",
    request_body = RegisterIn,
    responses((status = 201, description = "Registered", body = DeviceOut), WriteErrors),
)]
pub async fn register(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<RegisterIn>,
) -> Result<(StatusCode, Json<DeviceOut>), ApiError> {
    st.engine.authorize(&who, Permission::ManageUsers)?;
    let reg = RegisterDevice {
        device_type: body.device_type,
        serial: body.serial,
        name: body.name,
        model: body.model,
        user_id: body
            .user_id
            .as_deref()
            .map(|u| body_id::<UserId>(u, "user_id"))
            .transpose()?,
        document: body.document.to_domain("document")?,
    };
    let d = st.engine.register_device(reg, who.actor()).await?;
    Ok((StatusCode::CREATED, Json(DeviceOut::from_domain(&d))))
}
