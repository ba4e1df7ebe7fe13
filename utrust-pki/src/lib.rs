//! # utrust-pki
//!
//! The PKI adapter of utrust: it turns the domain's request templates into signed
//! PKCS#10 requests, checks received requests, and issues certificates with a local
//! CA. The core (`utrust-core`) knows no ASN.1; this crate is where OIDs, string
//! types and signatures become bytes.
//!
//! ```text
//! RequestTemplate ──build_request(&dyn Signer)──▶ PKCS#10 DER ──to_pem──▶ client
//! client PEM/DER ──CsrInspector::inspect──▶ InspectedRequest ──(core checks)──▶
//! IssueRequest ──LocalCa::issue──▶ IssuedCertificate (X.509 DER)
//! ```
//!
//! - [`Signer`] is the object-safe signing seam; [`SoftwareKey`] implements it on
//!   *ring* (ECDSA P-256, P-384, Ed25519; PKCS#8 in and out). A token key can
//!   implement it too.
//! - [`verify_signature`] verifies ECDSA, Ed25519 and RSA (≥ 2048 bits) with *ring*;
//!   GOST keys are recognised and reported as unsupported.
//! - [`build_request`] writes subjects with exact string types (NumericString INN,
//!   SNILS, OGRN; PrintableString country; IA5String e-mail; UTF8String text).
//! - [`CsrInspector`] implements the core's `RequestInspector`.
//! - [`CmsVerifier`] implements the core's `SignatureVerifier`: detached CMS
//!   (PKCS#7) signatures by certificates a trusted CA issued.
//! - [`LocalCa`] implements the core's `CertificateAuthority`: it issues
//!   certificates and signs X.509 v2 CRLs ([`LocalCa::build_crl`]).
//! - [`seal_key`] / [`open_key`] protect private keys stored in a shared database
//!   (AES-256-GCM under a key-encryption key read by [`parse_key_encryption_key`]).
//!
//! Everything this crate emits is cross-checked with OpenSSL in its integration
//! tests (`openssl req -verify`, `openssl verify`, `openssl crl -verify`, and
//! `openssl verify -crl_check`).
//!
//! ```
//! use utrust_core::domain::catalog::KeyAlgorithm;
//! use utrust_core::domain::identifiers::Oid;
//! use utrust_core::domain::request::{
//!     KeyUsage, RequestTemplate, RequestedExtensions, StringType, SubjectAttribute,
//! };
//! use utrust_pki::{CsrInspector, SoftwareKey, build_request};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let attr = |oid: &str, value: &str, string_type| -> Result<_, Box<dyn std::error::Error>> {
//!     Ok(SubjectAttribute { oid: Oid::parse(oid)?, value: value.into(), string_type })
//! };
//! let template = RequestTemplate {
//!     key_algorithm: KeyAlgorithm::EcdsaP256,
//!     subject: vec![
//!         attr("2.5.4.6", "RU", StringType::Printable)?,
//!         attr("2.5.4.3", "Иванов Иван Иванович", StringType::Utf8)?,
//!         attr("1.2.643.3.131.1.1", "500100732259", StringType::Numeric)?,
//!     ],
//!     extensions: RequestedExtensions {
//!         key_usage: vec![KeyUsage::DigitalSignature, KeyUsage::NonRepudiation],
//!         ..Default::default()
//!     },
//! };
//! let key = SoftwareKey::generate(KeyAlgorithm::EcdsaP256)?;
//! let der = build_request(&template, &key)?;
//! let pem = utrust_pki::to_pem("CERTIFICATE REQUEST", &der);
//!
//! let inspected = CsrInspector::new().inspect_request(pem.as_bytes())?;
//! assert_eq!(inspected.subject, template.subject);
//! assert_eq!(inspected.extensions, template.extensions);
//! assert_eq!(inspected.key_algorithm, KeyAlgorithm::EcdsaP256);
//! # Ok(())
//! # }
//! ```

mod ca;
mod cms;
mod crl;
mod error;
pub mod ext;
mod inspect;
pub mod name;
mod oids;
pub mod pem;
mod random;
mod request;
mod seal;
mod signer;
mod verify;

pub use ca::LocalCa;
pub use cms::{CMS_LABEL, CmsVerifier, MAX_SIGNATURE_BYTES, PKCS7_LABEL};
pub use error::PkiError;
pub use inspect::{CsrInspector, MAX_REQUEST_BYTES};
pub use pem::{parse_pem_or_der, to_pem};
pub use random::OsRandom;
pub use request::build_request;
pub use seal::{KEY_ENCRYPTION, UnsealError, open_key, parse_key_encryption_key, seal_key};
pub use signer::{Signer, SoftwareKey};
pub use verify::{MIN_RSA_BITS, key_algorithm_of_spki, verify_signature};
