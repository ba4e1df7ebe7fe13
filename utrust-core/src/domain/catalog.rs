//! The catalog: object identifiers, products with their OID sets, and services
//! (issuance scenarios) with every flag of the uTrust service table (seed 004,
//! "Создание услуг").
//!
//! Products and services are *policy values*: the engine interprets them (which
//! steps an application goes through, which extensions a certificate gets); no
//! handler reads a flag directly.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::identifiers::Oid;
use super::ids::{PointId, ProductId, ServiceId};

/// Who applies: a natural person (ФЛ), a sole proprietor (ИП) or a legal entity (ЮЛ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    /// Natural person (ФЛ).
    Individual,
    /// Sole proprietor (ИП).
    SoleProprietor,
    /// Legal entity (ЮЛ).
    LegalEntity,
}

impl ApplicantKind {
    /// All kinds, in declaration order.
    pub const ALL: [ApplicantKind; 3] = [Self::Individual, Self::SoleProprietor, Self::LegalEntity];

    /// The wire name (`individual`, `sole_proprietor`, `legal_entity`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::SoleProprietor => "sole_proprietor",
            Self::LegalEntity => "legal_entity",
        }
    }

    /// Parses a wire name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A named object identifier of the catalog (seed: "Объектные идентификаторы").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectIdentifier {
    /// The dotted OID.
    pub oid: Oid,
    /// Display name.
    pub name: String,
    /// Free description.
    pub description: String,
}

/// The OIDs a product puts into certificates: common ones plus ones that apply only
/// to one applicant kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidSet {
    /// OIDs for every applicant kind.
    pub common: Vec<Oid>,
    /// OIDs only for legal entities (ЮЛ).
    pub legal_entity: Vec<Oid>,
    /// OIDs only for natural persons (ФЛ).
    pub individual: Vec<Oid>,
    /// OIDs only for sole proprietors (ИП).
    pub sole_proprietor: Vec<Oid>,
}

impl OidSet {
    /// The OIDs that apply to `kind`: the common ones, then the kind's own.
    pub fn for_kind(&self, kind: ApplicantKind) -> impl Iterator<Item = &Oid> {
        let own = match kind {
            ApplicantKind::Individual => &self.individual,
            ApplicantKind::SoleProprietor => &self.sole_proprietor,
            ApplicantKind::LegalEntity => &self.legal_entity,
        };
        self.common.iter().chain(own.iter())
    }
}

/// A product sold at issuing points (seed: "Модуль работы с продуктами").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Server-generated id.
    pub id: ProductId,
    /// Unique code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Price in kopecks.
    pub price_kopecks: u64,
    /// Sold only on a smart card.
    pub smart_card_only: bool,
    /// An additional service rather than a certificate.
    pub additional_service: bool,
    /// Shown in agents' filters.
    pub shown_in_agent_filters: bool,
    /// Issuing points keep a stock quantity of it.
    pub quantity_accounting: bool,
    /// The OIDs it contributes to certificates (extended key usage).
    pub oids: OidSet,
}

/// Class of the crypto-protection means (СКЗИ) required by a service; it is written
/// into the certificate policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CryptoClass {
    /// КС1, 1.2.643.100.113.1.
    KC1,
    /// КС2, 1.2.643.100.113.2.
    KC2,
    /// КС3, 1.2.643.100.113.3.
    KC3,
    /// КВ1, 1.2.643.100.113.4.
    KB1,
    /// КВ2, 1.2.643.100.113.5.
    KB2,
    /// КА1, 1.2.643.100.113.6.
    KA1,
}

impl CryptoClass {
    /// The certificate-policy OID of the class.
    pub fn policy_oid(self) -> &'static str {
        match self {
            Self::KC1 => "1.2.643.100.113.1",
            Self::KC2 => "1.2.643.100.113.2",
            Self::KC3 => "1.2.643.100.113.3",
            Self::KB1 => "1.2.643.100.113.4",
            Self::KB2 => "1.2.643.100.113.5",
            Self::KA1 => "1.2.643.100.113.6",
        }
    }
}

/// The key algorithm a service asks the applicant's key holder to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256.
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA, 2048 bits or more, PKCS#1 v1.5 with SHA-256.
    Rsa2048,
    /// GOST R 34.10-2012 with a 256-bit key.
    Gost2012_256,
    /// GOST R 34.10-2012 with a 512-bit key.
    Gost2012_512,
}

impl KeyAlgorithm {
    /// All algorithms.
    pub const ALL: [KeyAlgorithm; 6] = [
        Self::EcdsaP256,
        Self::EcdsaP384,
        Self::Ed25519,
        Self::Rsa2048,
        Self::Gost2012_256,
        Self::Gost2012_512,
    ];

    /// The wire name, e.g. `ecdsa-p256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
            Self::Ed25519 => "ed25519",
            Self::Rsa2048 => "rsa-2048",
            Self::Gost2012_256 => "gost2012-256",
            Self::Gost2012_512 => "gost2012-512",
        }
    }

    /// Parses a wire name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An identity check run through SMEV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmevCheckKind {
    /// Passport validity (МВД).
    Passport,
    /// SNILS matches full name and birth date (СФР).
    Snils,
    /// INN by passport data (ФНС).
    Inn,
    /// Registration of the issued certificate in ЕСИА (services with automatic
    /// ESIA registration): not an identity check a service can require, but run
    /// through the same adapter, wire format and durable worker after issuing.
    EsiaRegistration,
}

/// How the client's credentials are delivered when an application is created
/// (seed: "Как отправлять данные клиента").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialsDelivery {
    /// Not sent.
    #[default]
    None,
    /// By e-mail.
    Email,
    /// By SMS.
    Sms,
    /// Printed by the agent.
    Print,
}

/// Identity documents a service accepts (seed: "Разрешенные типы паспорта").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassportType {
    /// Russian internal passport.
    RussianPassport,
    /// Foreign citizen's passport.
    ForeignPassport,
    /// Residence permit.
    ResidencePermit,
}

/// How passport data is entered (seed: "Формат ввода паспорта").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassportInputFormat {
    /// Typed in by hand.
    Manual,
    /// Recognised from a scan.
    Scan,
    /// Taken from ЕСИА.
    Esia,
}

/// Document kinds of an application's case file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Passport scan.
    Passport,
    /// SNILS scan.
    Snils,
    /// Power of attorney.
    PowerOfAttorney,
    /// Application form.
    ApplicationForm,
    /// The signed certificate blank.
    SignedBlank,
    /// Anything else.
    Additional,
}

/// Power-of-attorney type a service generates (seed: "тип доверенности").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttorneyType {
    /// No power of attorney.
    #[default]
    None,
    /// A paper power of attorney.
    Paper,
    /// A machine-readable power of attorney (МЧД).
    MachineReadable,
}

/// An issuance scenario ("услуга") with every flag of the seed's service table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Server-generated id.
    pub id: ServiceId,
    /// Active: inactive services are not offered and take no applications.
    pub active: bool,
    /// Public: shown to unregistered visitors.
    pub public: bool,
    /// Hidden from the main page.
    pub hidden: bool,
    /// Sort order on the main page.
    pub order: i32,
    /// Display name.
    pub name: String,
    /// Service type (scenario family).
    pub service_type: String,
    /// Short description.
    pub short_description: String,
    /// Full description.
    pub full_description: String,
    /// Products that may be ordered.
    pub products: Vec<ProductId>,
    /// Applicant kinds allowed.
    pub applicant_kinds: BTreeSet<ApplicantKind>,
    /// Issuing points that verify applications of this service.
    pub points: Vec<PointId>,
    /// Required crypto provider (e.g. `КриптоПро CSP`).
    pub crypto_provider: Option<String>,
    /// Program used for crypto operations.
    pub crypto_program: Option<String>,
    /// SMEV checks to run.
    pub smev_checks: BTreeSet<SmevCheckKind>,
    /// How client credentials are delivered.
    pub credentials_delivery: CredentialsDelivery,
    /// Domains on which the service is shown.
    pub domains: Vec<String>,
    /// The CA that issues (name of a configured CA; `None` = the default).
    pub ca: Option<String>,
    /// Key algorithm of the applicant's key.
    pub key_algorithm: KeyAlgorithm,
    /// Show the first step (custom composition of the certificate).
    pub show_first_step: bool,
    /// Require uploaded documents to complete.
    pub require_documents: bool,
    /// Require a connected hardware token.
    pub require_connected_token: bool,
    /// Applicant kinds that may pay by card (others pay by invoice).
    pub card_payment: BTreeSet<ApplicantKind>,
    /// "Price from", in kopecks (0 = not shown).
    pub price_from_kopecks: u64,
    /// Price without discount, in kopecks (0 = not shown).
    pub price_without_discount_kopecks: u64,
    /// Sold as a package.
    pub package_product: bool,
    /// Send renewal reminders before expiry.
    pub renewal_reminders: bool,
    /// Identity documents allowed.
    pub allowed_passport_types: BTreeSet<PassportType>,
    /// Passport input formats allowed.
    pub passport_input_formats: BTreeSet<PassportInputFormat>,
    /// Register the issued certificate in ЕСИА automatically.
    pub esia_registration: bool,
    /// Allow bulk creation of applications from CSV.
    pub bulk_csv: bool,
    /// An extra confirmation is needed before issuing.
    pub issuance_confirmation: bool,
    /// Power-of-attorney type.
    pub attorney_type: AttorneyType,
    /// Scans required to complete.
    pub required_scans: BTreeSet<DocumentKind>,
    /// Uploaded documents must be signed by the responsible employee.
    pub require_document_signature: bool,
    /// A passport scan is needed at verification.
    pub passport_scan_on_verification: bool,
    /// The certificate is available only after completion.
    pub certificate_after_completion: bool,
    /// Crypto-protection class, written into the certificate policies.
    pub crypto_class: CryptoClass,
    /// A CA operator must approve before issuing.
    pub approval_required: bool,
    /// Validity of issued certificates, in days.
    pub validity_days: u32,
    /// On renewal, revoke the renewed certificate as `superseded` once the new one
    /// is issued (otherwise it stays valid until it expires).
    #[serde(default)]
    pub revoke_superseded_on_renewal: bool,
}

impl SmevCheckKind {
    /// The identity checks a service may require (not `EsiaRegistration`).
    pub const ALL: [SmevCheckKind; 3] = [Self::Passport, Self::Snils, Self::Inn];

    /// The wire name: `passport`, `snils`, `inn`, `esia_registration`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passport => "passport",
            Self::Snils => "snils",
            Self::Inn => "inn",
            Self::EsiaRegistration => "esia_registration",
        }
    }

    /// Parses a wire name (including `esia_registration`).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain([Self::EsiaRegistration])
            .find(|k| k.as_str() == s)
    }
}

impl core::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Display for ApplicantKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Product {
    /// A product with the given code and name, no OIDs, price 0 and every flag off.
    /// The engine assigns the id when it is created.
    pub fn new(code: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: ProductId::from_uuid(uuid::Uuid::nil()),
            code: code.into(),
            name: name.into(),
            price_kopecks: 0,
            smart_card_only: false,
            additional_service: false,
            shown_in_agent_filters: true,
            quantity_accounting: false,
            oids: OidSet::default(),
        }
    }
}

impl Service {
    /// An active service with the given name: every applicant kind, P-256 keys,
    /// class KC1, one-year validity, and every optional step off. The engine assigns
    /// the id when it is created.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            id: ServiceId::from_uuid(uuid::Uuid::nil()),
            active: true,
            public: true,
            hidden: false,
            order: 0,
            name: name.into(),
            service_type: "issue".into(),
            short_description: String::new(),
            full_description: String::new(),
            products: Vec::new(),
            applicant_kinds: ApplicantKind::ALL.into_iter().collect(),
            points: Vec::new(),
            crypto_provider: None,
            crypto_program: None,
            smev_checks: BTreeSet::new(),
            credentials_delivery: CredentialsDelivery::None,
            domains: Vec::new(),
            ca: None,
            key_algorithm: KeyAlgorithm::EcdsaP256,
            show_first_step: false,
            require_documents: false,
            require_connected_token: false,
            card_payment: BTreeSet::new(),
            price_from_kopecks: 0,
            price_without_discount_kopecks: 0,
            package_product: false,
            renewal_reminders: false,
            allowed_passport_types: [PassportType::RussianPassport].into_iter().collect(),
            passport_input_formats: [PassportInputFormat::Manual].into_iter().collect(),
            esia_registration: false,
            bulk_csv: false,
            issuance_confirmation: false,
            attorney_type: AttorneyType::None,
            required_scans: BTreeSet::new(),
            require_document_signature: false,
            passport_scan_on_verification: false,
            certificate_after_completion: false,
            crypto_class: CryptoClass::KC1,
            approval_required: false,
            validity_days: 365,
            revoke_superseded_on_renewal: false,
        }
    }
}

impl core::fmt::Display for SmevCheckKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}
