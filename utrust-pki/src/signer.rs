//! Who signs: the [`Signer`] trait and the in-memory [`SoftwareKey`].
//!
//! Requests and certificates are signed through an object-safe trait so that a key
//! that never leaves a token (PKCS#11, a smart card) can replace the software key
//! without touching the encoders. The software key runs on *ring*, which is about
//! seven times faster than the pure-Rust curves for P-256 and is what a CA that
//! signs thousands of certificates needs. *ring* cannot generate or use RSA private
//! keys, and no Rust crate implements GOST R 34.10-2012: those keys are verified
//! (RSA) or recognised (GOST) elsewhere, never signed with here.

use core::fmt;

use der::Encode;
use der::asn1::{Any, BitString};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair,
};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use utrust_core::domain::catalog::KeyAlgorithm;
use zeroize::Zeroizing;

use crate::{PkiError, oids, pem};

/// A private key able to sign X.509 structures.
///
/// Object-safe (`&dyn Signer`) and shareable between threads, so a CA can hold one
/// behind an `Arc`. Implement it for a token key by returning the token's public
/// key as SPKI DER and converting the token's raw signature to X.509 form.
pub trait Signer: Send + Sync {
    /// The key's algorithm.
    fn algorithm(&self) -> KeyAlgorithm;

    /// The public key as a DER `SubjectPublicKeyInfo`.
    fn public_key_spki_der(&self) -> Vec<u8>;

    /// The `AlgorithmIdentifier` of the signatures [`Signer::sign`] produces
    /// (e.g. ecdsa-with-SHA256 without parameters).
    fn signature_algorithm_identifier(&self) -> AlgorithmIdentifierOwned;

    /// Signs `message` (hashing it as the algorithm prescribes) and returns the
    /// signature as X.509 carries it in the BIT STRING: a DER `ECDSA-Sig-Value`
    /// for ECDSA, the 64 raw bytes for Ed25519.
    ///
    /// # Errors
    /// [`PkiError::Signing`] or [`PkiError::Random`] when the key cannot sign.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError>;
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key held in memory, signing with *ring*: ECDSA P-256/SHA-256,
/// ECDSA P-384/SHA-384 or Ed25519.
///
/// It is stored and loaded as unencrypted PKCS#8 (DER or PEM). The PKCS#8 bytes
/// are wiped when the key is dropped; `Debug` never prints them.
pub struct SoftwareKey {
    algorithm: KeyAlgorithm,
    pair: Pair,
    pkcs8: Zeroizing<Vec<u8>>,
    spki: Vec<u8>,
    rng: SystemRandom,
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl SoftwareKey {
    /// Generates a fresh key with the system random number generator.
    ///
    /// # Errors
    /// [`PkiError::UnsupportedAlgorithm`] for RSA and GOST (no software signing
    /// here); [`PkiError::Random`] if the generator fails.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, PkiError> {
        let rng = SystemRandom::new();
        let doc = match algorithm {
            KeyAlgorithm::EcdsaP256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            }
            KeyAlgorithm::EcdsaP384 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &rng)
            }
            KeyAlgorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng),
            other => return Err(unsupported(other)),
        }
        .map_err(|_| PkiError::Random)?;
        Self::from_pkcs8_der(doc.as_ref())
    }

    /// Loads an unencrypted PKCS#8 key (as written by [`SoftwareKey::to_pkcs8_der`]
    /// or by `openssl genpkey`). The algorithm is recognised from the key.
    ///
    /// # Errors
    /// [`PkiError::KeyRejected`] if it is not a P-256, P-384 or Ed25519 PKCS#8 key.
    pub fn from_pkcs8_der(pkcs8: &[u8]) -> Result<Self, PkiError> {
        let rng = SystemRandom::new();
        let (algorithm, pair) = if let Ok(p) =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &rng)
        {
            (KeyAlgorithm::EcdsaP256, Pair::Ecdsa(p))
        } else if let Ok(p) = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, pkcs8, &rng)
        {
            (KeyAlgorithm::EcdsaP384, Pair::Ecdsa(p))
        } else {
            let p = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|e| {
                PkiError::KeyRejected(format!("not a P-256, P-384 or Ed25519 PKCS#8 key ({e})"))
            })?;
            (KeyAlgorithm::Ed25519, Pair::Ed25519(p))
        };
        let public = match &pair {
            Pair::Ecdsa(p) => p.public_key().as_ref().to_vec(),
            Pair::Ed25519(p) => p.public_key().as_ref().to_vec(),
        };
        let spki = spki_der(algorithm, &public)?;
        Ok(Self {
            algorithm,
            pair,
            pkcs8: Zeroizing::new(pkcs8.to_vec()),
            spki,
            rng,
        })
    }

    /// Loads a PEM `PRIVATE KEY` (PKCS#8).
    ///
    /// # Errors
    /// [`PkiError::Malformed`] for bad PEM, else as [`SoftwareKey::from_pkcs8_der`].
    pub fn from_pkcs8_pem(pem_text: &str) -> Result<Self, PkiError> {
        let der = pem::parse_pem_or_der(pem_text.as_bytes(), &[pem::PRIVATE_KEY])?;
        let der = Zeroizing::new(der);
        Self::from_pkcs8_der(&der)
    }

    /// The key as unencrypted PKCS#8 DER. Protect it like the key itself.
    pub fn to_pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key as a PEM `PRIVATE KEY`. Protect it like the key itself.
    pub fn to_pkcs8_pem(&self) -> String {
        pem::to_pem(pem::PRIVATE_KEY, &self.pkcs8)
    }
}

impl Signer for SoftwareKey {
    fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    fn public_key_spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    fn signature_algorithm_identifier(&self) -> AlgorithmIdentifierOwned {
        let oid = match self.algorithm {
            KeyAlgorithm::EcdsaP384 => oids::ECDSA_SHA384,
            KeyAlgorithm::Ed25519 => oids::ED25519,
            _ => oids::ECDSA_SHA256,
        };
        AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        match &self.pair {
            Pair::Ecdsa(p) => p
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| PkiError::Signing("ECDSA signing failed".to_owned())),
            Pair::Ed25519(p) => Ok(p.sign(message).as_ref().to_vec()),
        }
    }
}

fn unsupported(a: KeyAlgorithm) -> PkiError {
    PkiError::UnsupportedAlgorithm(format!(
        "{} keys cannot be generated or used here",
        a.as_str()
    ))
}

/// Builds the SPKI DER of an EC point or Ed25519 public key.
fn spki_der(algorithm: KeyAlgorithm, public: &[u8]) -> Result<Vec<u8>, PkiError> {
    let ec = |curve| -> Result<AlgorithmIdentifierOwned, PkiError> {
        Ok(AlgorithmIdentifierOwned {
            oid: oids::EC_PUBLIC_KEY,
            parameters: Some(Any::encode_from(&curve).map_err(PkiError::encoding)?),
        })
    };
    let algorithm = match algorithm {
        KeyAlgorithm::EcdsaP256 => ec(oids::P256)?,
        KeyAlgorithm::EcdsaP384 => ec(oids::P384)?,
        KeyAlgorithm::Ed25519 => AlgorithmIdentifierOwned {
            oid: oids::ED25519,
            parameters: None,
        },
        other => return Err(unsupported(other)),
    };
    SubjectPublicKeyInfoOwned {
        algorithm,
        subject_public_key: BitString::from_bytes(public).map_err(PkiError::encoding)?,
    }
    .to_der()
    .map_err(PkiError::encoding)
}
