//! Signature verification with *ring*, from an SPKI and an algorithm OID.
//!
//! The inspector verifies requests with the key they carry, and tests verify what
//! the CA signs; both need "is this signature right for this key" without caring
//! which crate does the arithmetic. The mapping from an SPKI to the domain's
//! [`KeyAlgorithm`] lives here too, because it decides which verifier applies.
//! GOST keys are recognised (so that the error says *unsupported*, not
//! *malformed*) but cannot be verified: no Rust implementation of GOST R 34.10-2012
//! exists.

use der::Decode;
use der::asn1::{ObjectIdentifier, UintRef};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use spki::SubjectPublicKeyInfoRef;
use utrust_core::domain::catalog::KeyAlgorithm;

use crate::{PkiError, oids};

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The key algorithm of a DER `SubjectPublicKeyInfo`.
///
/// RSA keys below [`MIN_RSA_BITS`] are rejected as weak.
///
/// # Errors
/// [`PkiError::Malformed`] for bad DER; [`PkiError::UnsupportedAlgorithm`] for an
/// unknown key type or curve; [`PkiError::WeakKey`] for a short RSA modulus.
pub fn key_algorithm_of_spki(spki_der: &[u8]) -> Result<KeyAlgorithm, PkiError> {
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der).map_err(PkiError::malformed)?;
    key_algorithm(&spki)
}

fn key_algorithm(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<KeyAlgorithm, PkiError> {
    let oid = spki.algorithm.oid;
    if oid == oids::EC_PUBLIC_KEY {
        let curve: ObjectIdentifier = spki
            .algorithm
            .parameters
            .as_ref()
            .ok_or_else(|| PkiError::Malformed("EC key without a named curve".to_owned()))?
            .decode_as()
            .map_err(|_| {
                PkiError::UnsupportedAlgorithm("EC key with explicit parameters".into())
            })?;
        if curve == oids::P256 {
            Ok(KeyAlgorithm::EcdsaP256)
        } else if curve == oids::P384 {
            Ok(KeyAlgorithm::EcdsaP384)
        } else {
            Err(PkiError::UnsupportedAlgorithm(format!("EC curve {curve}")))
        }
    } else if oid == oids::ED25519 {
        Ok(KeyAlgorithm::Ed25519)
    } else if oid == oids::RSA_ENCRYPTION {
        let bits = rsa_modulus_bits(key_bytes(spki)?)?;
        if bits < MIN_RSA_BITS {
            return Err(PkiError::WeakKey(format!(
                "RSA modulus of {bits} bits (minimum {MIN_RSA_BITS})"
            )));
        }
        Ok(KeyAlgorithm::Rsa2048)
    } else if oid == oids::GOST2012_256 {
        Ok(KeyAlgorithm::Gost2012_256)
    } else if oid == oids::GOST2012_512 {
        Ok(KeyAlgorithm::Gost2012_512)
    } else {
        Err(PkiError::UnsupportedAlgorithm(format!(
            "public key algorithm {oid}"
        )))
    }
}

fn key_bytes<'a>(spki: &SubjectPublicKeyInfoRef<'a>) -> Result<&'a [u8], PkiError> {
    spki.subject_public_key
        .as_bytes()
        .ok_or_else(|| PkiError::Malformed("public key BIT STRING has unused bits".to_owned()))
}

/// Bit length of the modulus of a PKCS#1 `RSAPublicKey`.
fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Result<usize, PkiError> {
    let mut reader = der::SliceReader::new(rsa_public_key).map_err(PkiError::malformed)?;
    let n = der::Reader::sequence(&mut reader, |r| {
        let n = UintRef::decode(r)?;
        let _e = UintRef::decode(r)?;
        Ok::<_, der::Error>(n)
    })
    .map_err(PkiError::malformed)?;
    der::Reader::finish(reader).map_err(PkiError::malformed)?;
    let bytes = n.as_bytes();
    let lead = bytes.first().map_or(0, |b| 8 - b.leading_zeros() as usize);
    Ok(bytes.len().saturating_sub(1) * 8 + lead)
}

/// Verifies `signature` over `message` with the key in `spki_der`, for the
/// signature algorithm `signature_algorithm`, and returns the key's algorithm.
///
/// Supported: ECDSA P-256 and P-384 with SHA-256 or SHA-384 (DER `ECDSA-Sig-Value`),
/// Ed25519, RSA PKCS#1 v1.5 with SHA-256/384/512 and a modulus of at least 2048 bits.
///
/// # Errors
/// [`PkiError::BadSignature`] if it does not verify; [`PkiError::WeakKey`] for a
/// short RSA key; [`PkiError::UnsupportedAlgorithm`] for GOST, unknown algorithms
/// or a signature algorithm that does not fit the key; [`PkiError::Malformed`]
/// for a bad SPKI.
pub fn verify_signature(
    spki_der: &[u8],
    signature_algorithm: &ObjectIdentifier,
    message: &[u8],
    signature: &[u8],
) -> Result<KeyAlgorithm, PkiError> {
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der).map_err(PkiError::malformed)?;
    let key_alg = key_algorithm(&spki)?;
    let sig = *signature_algorithm;
    let verifier: &'static dyn VerificationAlgorithm = match key_alg {
        KeyAlgorithm::EcdsaP256 if sig == oids::ECDSA_SHA256 => &signature::ECDSA_P256_SHA256_ASN1,
        KeyAlgorithm::EcdsaP256 if sig == oids::ECDSA_SHA384 => &signature::ECDSA_P256_SHA384_ASN1,
        KeyAlgorithm::EcdsaP384 if sig == oids::ECDSA_SHA384 => &signature::ECDSA_P384_SHA384_ASN1,
        KeyAlgorithm::EcdsaP384 if sig == oids::ECDSA_SHA256 => &signature::ECDSA_P384_SHA256_ASN1,
        KeyAlgorithm::Ed25519 if sig == oids::ED25519 => &signature::ED25519,
        KeyAlgorithm::Rsa2048 if sig == oids::SHA256_WITH_RSA => {
            &signature::RSA_PKCS1_2048_8192_SHA256
        }
        KeyAlgorithm::Rsa2048 if sig == oids::SHA384_WITH_RSA => {
            &signature::RSA_PKCS1_2048_8192_SHA384
        }
        KeyAlgorithm::Rsa2048 if sig == oids::SHA512_WITH_RSA => {
            &signature::RSA_PKCS1_2048_8192_SHA512
        }
        KeyAlgorithm::Gost2012_256 | KeyAlgorithm::Gost2012_512 => {
            return Err(PkiError::UnsupportedAlgorithm(format!(
                "{} signatures cannot be verified (no Rust GOST R 34.10-2012 implementation)",
                key_alg.as_str()
            )));
        }
        _ => {
            return Err(PkiError::UnsupportedAlgorithm(format!(
                "signature algorithm {sig} with a {} key",
                key_alg.as_str()
            )));
        }
    };
    UnparsedPublicKey::new(verifier, key_bytes(&spki)?)
        .verify(message, signature)
        .map_err(|_| PkiError::BadSignature)?;
    Ok(key_alg)
}
