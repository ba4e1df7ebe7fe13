//! Self-service issuance on a PKCS#11 token: the two token steps of the core's
//! [`TokenProvider`] port.
//!
//! 1. [`Pkcs11Module::prepare_token`]: find the token by serial number or
//!    label; either initialise it (`C_InitToken` with the admin/SO PIN and a
//!    label, then `C_InitPIN` with the new user PIN) or log in with the user PIN;
//!    list its mechanisms (GOST ones named); generate a key pair on the token
//!    (P-256/P-384 with `CKM_EC_KEY_PAIR_GEN`); build the PKCS#10 request from
//!    the template and sign it on the token.
//! 2. [`Pkcs11Module::store_certificate`]: log in with the user PIN and write the
//!    issued certificate next to the key pair (same `CKA_ID`).
//!
//! Both are blocking (PKCS#11 calls block); the port implementation runs them
//! on tokio's blocking pool.

use async_trait::async_trait;
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::request::RequestTemplate;
use utrust_core::ports::{
    PrepareToken, PreparedToken, SecretPin, TokenError, TokenInfo, TokenProvider,
};

use crate::ec::EcCurve;
use crate::pkcs11::{KeyGenSpec, KeySelector, Mechanisms, TokenDescription};
use crate::{DeviceError, Pin, Pkcs11Module};

/// `CKM_EC_KEY_PAIR_GEN`.
const CKM_EC_KEY_PAIR_GEN: u64 = 0x1040;
/// `CKM_ECDSA`.
const CKM_ECDSA: u64 = 0x1041;
/// `CKM_GOSTR3410_KEY_PAIR_GEN` (256-bit GOST R 34.10-2012 keys).
const CKM_GOSTR3410_KEY_PAIR_GEN: u64 = 0x1200;
/// `CKM_GOSTR3410_512_KEY_PAIR_GEN` (TC26 vendor range).
const CKM_GOSTR3410_512_KEY_PAIR_GEN: u64 = 0xD432_1005;

/// Initialise (format) the token before generating the key.
#[derive(Debug, Clone)]
pub struct Initialization {
    /// The admin (SO) PIN the token has now; it stays the SO PIN.
    pub so_pin: Pin,
    /// The label to give the token.
    pub label: String,
}

/// What [`Pkcs11Module::prepare_token`] does.
#[derive(Debug, Clone)]
pub struct PrepareSpec {
    /// Serial number or label of the token (empty: the first uninitialised
    /// token, only when initialising).
    pub token: String,
    /// Initialise the token first (wipes it), then set `user_pin` as its user
    /// PIN. `None`: log in with `user_pin`.
    pub initialize: Option<Initialization>,
    /// The user PIN (new when initialising, current otherwise).
    pub user_pin: Pin,
    /// `CKA_LABEL` of the generated key pair.
    pub key_label: Option<String>,
    /// What the request must contain (its key algorithm picks the key).
    pub template: RequestTemplate,
}

/// The result of [`Pkcs11Module::prepare_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedOnToken {
    /// The token after the step (initialisation may change its serial).
    pub token: TokenDescription,
    /// `CKA_ID` of the generated key pair.
    pub key_id: Vec<u8>,
    /// The PKCS#10 request signed on the token, DER.
    pub csr_der: Vec<u8>,
    /// Names of the GOST mechanisms the token offers (empty on SoftHSM2).
    pub gost_mechanisms: Vec<String>,
}

/// The EC curve for a template's key algorithm, checked against the token's
/// mechanisms.
///
/// GOST R 34.10-2012 keys need a token that offers the GOST key-pair
/// generation mechanism *and* a signer for them in utrust-pki; a GOST template
/// on a token without GOST mechanisms is refused naming what is missing.
fn curve_for(algorithm: KeyAlgorithm, mechs: &Mechanisms) -> Result<EcCurve, DeviceError> {
    match algorithm {
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
            for (code, name) in [
                (CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN"),
                (CKM_ECDSA, "CKM_ECDSA"),
            ] {
                if !mechs.all.is_empty() && !mechs.offers(code) {
                    return Err(DeviceError::Unsupported(format!(
                        "the token does not offer {name}"
                    )));
                }
            }
            Ok(if algorithm == KeyAlgorithm::EcdsaP256 {
                EcCurve::P256
            } else {
                EcCurve::P384
            })
        }
        KeyAlgorithm::Gost2012_256 | KeyAlgorithm::Gost2012_512 => {
            let (code, name) = if algorithm == KeyAlgorithm::Gost2012_256 {
                (CKM_GOSTR3410_KEY_PAIR_GEN, "CKM_GOSTR3410_KEY_PAIR_GEN")
            } else {
                (
                    CKM_GOSTR3410_512_KEY_PAIR_GEN,
                    "CKM_GOSTR3410_512_KEY_PAIR_GEN",
                )
            };
            if mechs.offers(code) {
                Err(DeviceError::Unsupported(format!(
                    "the token offers {name}, but on-token GOST R 34.10-2012 requests are not \
                     implemented yet"
                )))
            } else {
                Err(DeviceError::Unsupported(format!(
                    "the template asks for a {} key and the token does not offer {name} (GOST \
                     mechanisms offered: {})",
                    algorithm.as_str(),
                    if mechs.gost.is_empty() {
                        "none".to_owned()
                    } else {
                        mechs
                            .gost
                            .iter()
                            .map(|m| m.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )))
            }
        }
        other => Err(DeviceError::Unsupported(format!(
            "{} keys on a token",
            other.as_str()
        ))),
    }
}

impl Pkcs11Module {
    /// Prepares a token for issuance and returns the request signed on it (see
    /// the [module documentation](self)). Blocking.
    ///
    /// # Errors
    /// [`DeviceError::NotPresent`] (no such token), [`DeviceError::PinIncorrect`]
    /// / [`DeviceError::PinLocked`] (the SO PIN when initialising, else the user
    /// PIN), [`DeviceError::PinRejected`] (a new user PIN the token refuses),
    /// [`DeviceError::UserPinNotInitialized`], [`DeviceError::TokenFull`],
    /// [`DeviceError::Unsupported`] (key algorithm), [`DeviceError::Device`].
    pub fn prepare_token(&self, spec: &PrepareSpec) -> Result<PreparedOnToken, DeviceError> {
        let token = match &spec.initialize {
            Some(init) => {
                let t = self.init_token(&spec.token, &init.so_pin, &init.label)?;
                let session = self.session(&t.serial)?;
                session.init_user_pin(&init.so_pin, &spec.user_pin)?;
                t
            }
            None => {
                if spec.token.is_empty() {
                    return Err(DeviceError::NotPresent("(no serial or label given)".into()));
                }
                self.find_token(&spec.token)?
            }
        };
        let mechs = self.mechanisms(&token.serial)?;
        let curve = curve_for(spec.template.key_algorithm, &mechs)?;
        let session = self.session(&token.serial)?;
        session.login_user(&spec.user_pin)?;
        let result = (|| {
            let key = session.generate_key_pair(&KeyGenSpec {
                curve,
                id: None,
                label: spec.key_label.clone(),
            })?;
            let csr_der = utrust_pki::build_request(&spec.template, &key).map_err(|e| {
                DeviceError::device("sign the certificate request on the token", e.to_string())
            })?;
            Ok::<_, DeviceError>((key.id().to_vec(), csr_der))
        })();
        let logout = session.logout();
        let (key_id, csr_der) = result?;
        logout?;
        let token = session.token()?;
        Ok(PreparedOnToken {
            token,
            key_id,
            csr_der,
            gost_mechanisms: mechs.gost.into_iter().map(|m| m.name).collect(),
        })
    }

    /// Writes an issued certificate onto the token next to the key pair with
    /// `CKA_ID` `key_id`, logging in with the user PIN. Blocking.
    ///
    /// # Errors
    /// [`DeviceError::NotPresent`], user-PIN errors as
    /// [`TokenSession::login_user`](crate::TokenSession::login_user),
    /// [`DeviceError::ObjectNotFound`] when the key pair is not on the token,
    /// [`DeviceError::TokenFull`], [`DeviceError::Unsupported`] (not a
    /// certificate), [`DeviceError::Device`].
    pub fn store_certificate(
        &self,
        token: &str,
        user_pin: &Pin,
        key_id: &[u8],
        der: &[u8],
        label: &str,
    ) -> Result<(), DeviceError> {
        let session = self.session(token)?;
        session.login_user(user_pin)?;
        let result = session
            .find_key(&KeySelector::Id(key_id.to_vec()))
            .and_then(|_| session.write_certificate(der, key_id, label));
        let logout = session.logout();
        result?;
        logout
    }
}

/// Runs a blocking token job on tokio's blocking pool, one job per module at a
/// time.
async fn blocking<T, F>(module: &Pkcs11Module, job: F) -> Result<T, TokenError>
where
    T: Send + 'static,
    F: FnOnce(&Pkcs11Module) -> Result<T, DeviceError> + Send + 'static,
{
    let module = module.clone();
    tokio::task::spawn_blocking(move || {
        let _exclusive = module
            .jobs
            .lock()
            .map_err(|_| DeviceError::device("token job", "job lock poisoned"))?;
        job(&module)
    })
    .await
    .map_err(|e| TokenError::Device {
        operation: "token job".into(),
        message: e.to_string(),
    })?
    .map_err(TokenError::from)
}

fn pin(secret: &SecretPin) -> Pin {
    Pin::new(secret.expose())
}

/// The core's port: every call runs the blocking PKCS#11 work on tokio's
/// blocking pool ([`tokio::task::spawn_blocking`]), one job per module at a
/// time; [`DeviceError`]s become [`TokenError`]s keeping their kind.
#[async_trait]
impl TokenProvider for Pkcs11Module {
    /// The present tokens (`C_GetSlotList` + `C_GetTokenInfo`).
    async fn tokens(&self) -> Result<Vec<TokenInfo>, TokenError> {
        blocking(self, |m| {
            Ok(Pkcs11Module::tokens(m)?
                .into_iter()
                .map(TokenInfo::from)
                .collect())
        })
        .await
    }

    /// [`Pkcs11Module::prepare_token`].
    async fn prepare(&self, job: PrepareToken) -> Result<PreparedToken, TokenError> {
        let spec = PrepareSpec {
            token: job.token.clone(),
            initialize: job.initialize.as_ref().map(|i| Initialization {
                so_pin: pin(&i.so_pin),
                label: i.label.clone(),
            }),
            user_pin: pin(&job.user_pin),
            key_label: job.key_label.clone(),
            template: job.template.clone(),
        };
        drop(job);
        let p = blocking(self, move |m| m.prepare_token(&spec)).await?;
        Ok(PreparedToken {
            serial: p.token.serial,
            label: p.token.label,
            model: p.token.model,
            key_id: p.key_id,
            csr_der: p.csr_der,
        })
    }

    /// [`Pkcs11Module::store_certificate`].
    async fn write_certificate(
        &self,
        token: &str,
        user_pin: &SecretPin,
        key_id: &[u8],
        certificate_der: &[u8],
        label: &str,
    ) -> Result<(), TokenError> {
        let (token, user_pin, key_id, der, label) = (
            token.to_owned(),
            pin(user_pin),
            key_id.to_vec(),
            certificate_der.to_vec(),
            label.to_owned(),
        );
        blocking(self, move |m| {
            m.store_certificate(&token, &user_pin, &key_id, &der, &label)
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pkcs11::MechanismEntry;

    fn mechs(codes: &[(u64, &str)]) -> Mechanisms {
        let all: Vec<MechanismEntry> = codes
            .iter()
            .map(|(code, name)| MechanismEntry {
                code: *code,
                name: (*name).to_owned(),
            })
            .collect();
        let gost = all
            .iter()
            .filter(|m| crate::GOST_MECHANISMS.iter().any(|(c, _)| *c == m.code))
            .cloned()
            .collect();
        Mechanisms { all, gost }
    }

    #[test]
    fn the_template_picks_the_key_and_gost_needs_the_mechanism() {
        let softhsm = mechs(&[(0x1040, "CKM_EC_KEY_PAIR_GEN"), (0x1041, "CKM_ECDSA")]);
        assert_eq!(
            curve_for(KeyAlgorithm::EcdsaP256, &softhsm).ok(),
            Some(EcCurve::P256)
        );
        assert_eq!(
            curve_for(KeyAlgorithm::EcdsaP384, &softhsm).ok(),
            Some(EcCurve::P384)
        );
        let e = curve_for(KeyAlgorithm::Gost2012_256, &softhsm).unwrap_err();
        assert!(
            e.to_string().contains("CKM_GOSTR3410_KEY_PAIR_GEN") && e.to_string().contains("none"),
            "{e}"
        );
        let rutoken = mechs(&[
            (0x1200, "CKM_GOSTR3410_KEY_PAIR_GEN"),
            (0x1201, "CKM_GOSTR3410"),
        ]);
        let e = curve_for(KeyAlgorithm::EcdsaP256, &rutoken).unwrap_err();
        assert!(e.to_string().contains("CKM_EC_KEY_PAIR_GEN"), "{e}");
        let e = curve_for(KeyAlgorithm::Gost2012_512, &rutoken).unwrap_err();
        assert!(
            e.to_string()
                .contains("CKM_GOSTR3410_KEY_PAIR_GEN, CKM_GOSTR3410"),
            "{e}"
        );
        assert!(curve_for(KeyAlgorithm::Rsa2048, &softhsm).is_err());
    }
}
