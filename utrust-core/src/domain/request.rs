//! What a certificate request must contain, and the comparison of a received
//! request with it.
//!
//! The domain knows no ASN.1: a [`RequestTemplate`] lists subject attributes
//! (OID, value, string type) and the extensions to request; the PKI adapter
//! encodes it into PKCS#10 and decodes received requests into an
//! [`InspectedRequest`]. [`RequestTemplate::check`] decides whether a received
//! request fits the application.

use serde::{Deserialize, Serialize};

use super::catalog::KeyAlgorithm;
use super::identifiers::Oid;

/// ASN.1 string type of a subject attribute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StringType {
    /// UTF8String (names, Cyrillic text).
    Utf8,
    /// PrintableString (country code).
    Printable,
    /// NumericString (INN, OGRN, SNILS).
    Numeric,
    /// IA5String (e-mail).
    Ia5,
}

impl StringType {
    /// The wire name (`utf8`, `printable`, `numeric`, `ia5`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utf8 => "utf8",
            Self::Printable => "printable",
            Self::Numeric => "numeric",
            Self::Ia5 => "ia5",
        }
    }

    /// Whether `value` may be encoded with this type.
    pub fn admits(self, value: &str) -> bool {
        match self {
            Self::Utf8 => true,
            Self::Numeric => value.bytes().all(|b| b.is_ascii_digit() || b == b' '),
            Self::Ia5 => value.is_ascii(),
            Self::Printable => value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)),
        }
    }
}

/// One attribute of a subject distinguished name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectAttribute {
    /// Attribute type.
    pub oid: Oid,
    /// Attribute value (text).
    pub value: String,
    /// How the value is encoded.
    pub string_type: StringType,
}

/// Key usage bits, named as RFC 5280 spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KeyUsage {
    /// digitalSignature (bit 0).
    #[serde(rename = "digitalSignature")]
    DigitalSignature,
    /// nonRepudiation / contentCommitment (bit 1).
    #[serde(rename = "nonRepudiation")]
    NonRepudiation,
    /// keyEncipherment (bit 2).
    #[serde(rename = "keyEncipherment")]
    KeyEncipherment,
    /// dataEncipherment (bit 3).
    #[serde(rename = "dataEncipherment")]
    DataEncipherment,
    /// keyAgreement (bit 4).
    #[serde(rename = "keyAgreement")]
    KeyAgreement,
    /// keyCertSign (bit 5).
    #[serde(rename = "keyCertSign")]
    KeyCertSign,
    /// cRLSign (bit 6).
    #[serde(rename = "cRLSign")]
    CrlSign,
}

impl KeyUsage {
    /// The RFC 5280 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DigitalSignature => "digitalSignature",
            Self::NonRepudiation => "nonRepudiation",
            Self::KeyEncipherment => "keyEncipherment",
            Self::DataEncipherment => "dataEncipherment",
            Self::KeyAgreement => "keyAgreement",
            Self::KeyCertSign => "keyCertSign",
            Self::CrlSign => "cRLSign",
        }
    }

    /// The bit number in the KeyUsage BIT STRING.
    pub fn bit(self) -> u8 {
        match self {
            Self::DigitalSignature => 0,
            Self::NonRepudiation => 1,
            Self::KeyEncipherment => 2,
            Self::DataEncipherment => 3,
            Self::KeyAgreement => 4,
            Self::KeyCertSign => 5,
            Self::CrlSign => 6,
        }
    }

    /// All usages, in bit order.
    pub const ALL: [KeyUsage; 7] = [
        Self::DigitalSignature,
        Self::NonRepudiation,
        Self::KeyEncipherment,
        Self::DataEncipherment,
        Self::KeyAgreement,
        Self::KeyCertSign,
        Self::CrlSign,
    ];

    /// The usage whose bit number is `bit`, if any.
    pub fn from_bit(bit: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.bit() == bit)
    }
}

/// Extensions of a request (and of the certificate issued from it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedExtensions {
    /// Key usage bits.
    pub key_usage: Vec<KeyUsage>,
    /// Extended key usage OIDs.
    pub extended_key_usage: Vec<Oid>,
    /// Certificate policy OIDs (including the crypto-protection class).
    pub certificate_policies: Vec<Oid>,
}

/// What the key holder must put into the PKCS#10 request of an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTemplate {
    /// Algorithm of the key to generate.
    pub key_algorithm: KeyAlgorithm,
    /// Subject attributes, in the order they should appear (most significant first).
    pub subject: Vec<SubjectAttribute>,
    /// Extensions to request.
    pub extensions: RequestedExtensions,
}

/// A received, parsed PKCS#10 request whose signature has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectedRequest {
    /// The request as DER (the bytes that were verified).
    pub der: Vec<u8>,
    /// Algorithm of the subject public key.
    pub key_algorithm: KeyAlgorithm,
    /// The subject, flattened in encoding order.
    pub subject: Vec<SubjectAttribute>,
    /// Extensions found in the extensionRequest attribute (empty when absent).
    pub extensions: RequestedExtensions,
}

/// Why a received request does not fit its application.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestMismatch {
    /// The key algorithm differs from the service's.
    #[error("key algorithm {found} does not match the required {expected}")]
    KeyAlgorithm {
        /// Required by the service.
        expected: KeyAlgorithm,
        /// Found in the request.
        found: KeyAlgorithm,
    },
    /// A subject attribute is missing, extra, has another value, or an encoding
    /// that cannot carry the value.
    #[error("subject attribute {oid}: {problem}")]
    Subject {
        /// The attribute type at fault.
        oid: String,
        /// What differs.
        problem: String,
    },
    /// The request asks for an extension value the application's products do not give.
    #[error("extension {extension}: {value} is not allowed for this application")]
    Extension {
        /// `key_usage`, `extended_key_usage` or `certificate_policies`.
        extension: &'static str,
        /// The value not allowed.
        value: String,
    },
}

impl RequestTemplate {
    /// Checks a received request against the template.
    ///
    /// Subject attributes must match one to one by type and value (order is not
    /// significant); a value may arrive in another textual encoding if that encoding
    /// can carry it (the CA always issues with the template's encodings).
    /// Requested extensions may be a subset of the template's, never more.
    ///
    /// # Errors
    /// The first [`RequestMismatch`] found.
    pub fn check(&self, req: &InspectedRequest) -> Result<(), RequestMismatch> {
        if req.key_algorithm != self.key_algorithm {
            return Err(RequestMismatch::KeyAlgorithm {
                expected: self.key_algorithm,
                found: req.key_algorithm,
            });
        }
        let mut remaining: Vec<&SubjectAttribute> = req.subject.iter().collect();
        for want in &self.subject {
            let pos = remaining
                .iter()
                .position(|got| got.oid == want.oid && got.value == want.value);
            match pos {
                Some(i) => {
                    let got = remaining.swap_remove(i);
                    if !got.string_type.admits(&got.value) {
                        return Err(RequestMismatch::Subject {
                            oid: want.oid.to_string(),
                            problem: format!("value not valid as {}", got.string_type.as_str()),
                        });
                    }
                }
                None => {
                    let problem = match remaining.iter().find(|g| g.oid == want.oid) {
                        Some(g) => format!("expected {:?}, found {:?}", want.value, g.value),
                        None => format!("missing (expected {:?})", want.value),
                    };
                    return Err(RequestMismatch::Subject {
                        oid: want.oid.to_string(),
                        problem,
                    });
                }
            }
        }
        if let Some(extra) = remaining.first() {
            return Err(RequestMismatch::Subject {
                oid: extra.oid.to_string(),
                problem: format!("not expected (value {:?})", extra.value),
            });
        }
        let ext = &self.extensions;
        if let Some(u) = req
            .extensions
            .key_usage
            .iter()
            .find(|u| !ext.key_usage.contains(u))
        {
            return Err(RequestMismatch::Extension {
                extension: "key_usage",
                value: u.as_str().to_owned(),
            });
        }
        for (name, got, allowed) in [
            (
                "extended_key_usage",
                &req.extensions.extended_key_usage,
                &ext.extended_key_usage,
            ),
            (
                "certificate_policies",
                &req.extensions.certificate_policies,
                &ext.certificate_policies,
            ),
        ] {
            if let Some(o) = got.iter().find(|o| !allowed.contains(o)) {
                return Err(RequestMismatch::Extension {
                    extension: name,
                    value: o.to_string(),
                });
            }
        }
        Ok(())
    }
}
