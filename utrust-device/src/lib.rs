//! # utrust-device
//!
//! Hardware tokens for utrust: PKCS#11 through `cryptoki` (the module is loaded
//! at run time; SoftHSM2 in tests) and PC/SC readers through `pcsc` (behind the
//! `pcsc` feature). [`Pkcs11Module`] implements the core's
//! [`TokenProvider`](utrust_core::ports::TokenProvider) port, and a [`TokenKey`]
//! implements [`utrust_pki::Signer`] so that a PKCS#10 request is signed by a
//! key that never leaves the token.
//!
//! ```no_run
//! use utrust_device::{KeyGenSpec, Pin, Pkcs11Module, SOFTHSM2_MODULE};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let module = Pkcs11Module::open(SOFTHSM2_MODULE)?;
//! // Format the first free token, set a random user PIN.
//! let so_pin = Pin::new("87654321");
//! let token = module.init_token("", &so_pin, "user token")?;
//! let user_pin = Pin::random_digits(8)?;
//! let session = module.session(&token.serial)?;
//! session.init_user_pin(&so_pin, &user_pin)?;
//! // Generate a P-256 key on the token and sign a request with it.
//! session.login_user(&user_pin)?;
//! let key = session.generate_key_pair(&KeyGenSpec::p256())?;
//! # let template: utrust_core::domain::request::RequestTemplate = unimplemented!();
//! let csr_der = utrust_pki::build_request(&template, &key)?;
//! # let cert_der: Vec<u8> = csr_der;
//! // … have it issued, then store the certificate next to the key:
//! session.write_certificate(&cert_der, key.id(), "user certificate")?;
//! # Ok(())
//! # }
//! ```
//!
//! For self-service issuance the port's `prepare` and `write_certificate` run
//! [`Pkcs11Module::prepare_token`] (find the token, initialise it or log in,
//! key pair and PKCS#10 request on the token) and
//! [`Pkcs11Module::store_certificate`] on tokio's blocking pool (see
//! [`provider`]).
//!
//! Errors are [`DeviceError`]s (convertible into the core's
//! [`TokenError`](utrust_core::ports::TokenError)); PINs are [`Pin`]s, which never
//! print. `docs/TOKENS.md` describes the setup and the error mapping.

pub mod atr;
mod ec;
mod error;
#[cfg(feature = "pcsc")]
pub mod pcsc;
mod pin;
pub mod pkcs11;
pub mod provider;

pub use atr::{AtrTable, VICC_ATR, atr_hex, parse_atr};
pub use ec::{EcCurve, raw_ecdsa_to_der};
pub use error::DeviceError;
pub use pin::Pin;
pub use pkcs11::{
    GOST_MECHANISMS, KeyGenSpec, KeyProtection, KeySelector, MechanismEntry, Mechanisms, PinStatus,
    Pkcs11Module, SOFTHSM2_MODULE, TokenCertificate, TokenDescription, TokenKey, TokenSession,
};
pub use provider::{Initialization, PrepareSpec, PreparedOnToken};
