//! EC helpers for token keys: curve recognition from `CKA_EC_PARAMS`, the SPKI
//! from `CKA_EC_POINT`, and raw `r‖s` signatures to DER `ECDSA-Sig-Value`.

use const_oid::ObjectIdentifier;
use der::asn1::{Any, BitString, OctetString};
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use utrust_core::domain::catalog::KeyAlgorithm;

use crate::DeviceError;

pub(crate) const EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(crate) const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub(crate) const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub(crate) const ECDSA_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub(crate) const ECDSA_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// An elliptic curve a token key can be generated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EcCurve {
    /// NIST P-256 (secp256r1, prime256v1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
}

impl EcCurve {
    /// The curve OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::P256 => P256,
            Self::P384 => P384,
        }
    }

    /// The DER `CKA_EC_PARAMS` value (the named-curve OID).
    pub fn ec_params_der(self) -> Vec<u8> {
        self.oid().to_der().unwrap_or_default()
    }

    /// The key algorithm in the core's terms.
    pub fn key_algorithm(self) -> KeyAlgorithm {
        match self {
            Self::P256 => KeyAlgorithm::EcdsaP256,
            Self::P384 => KeyAlgorithm::EcdsaP384,
        }
    }

    /// Length of one signature component (`r` or `s`) in octets.
    pub fn scalar_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }

    /// Recognises a curve from a DER `CKA_EC_PARAMS` value.
    ///
    /// # Errors
    /// [`DeviceError::Unsupported`] for other curves or explicit parameters.
    pub fn from_ec_params(der: &[u8]) -> Result<Self, DeviceError> {
        let oid = ObjectIdentifier::from_der(der)
            .map_err(|e| DeviceError::Unsupported(format!("EC parameters: {e}")))?;
        match oid {
            o if o == P256 => Ok(Self::P256),
            o if o == P384 => Ok(Self::P384),
            o => Err(DeviceError::Unsupported(format!("curve {o}"))),
        }
    }
}

/// The uncompressed point from `CKA_EC_POINT`: DER OCTET STRING (the standard,
/// and what SoftHSM returns: `04 41 04 …`) or, from some tokens, the raw point.
pub(crate) fn ec_point(value: &[u8], curve: EcCurve) -> Result<Vec<u8>, DeviceError> {
    let raw_len = 1 + 2 * curve.scalar_len();
    if let Ok(os) = OctetString::from_der(value) {
        let p = os.as_bytes();
        if p.len() == raw_len && p.first() == Some(&0x04) {
            return Ok(p.to_vec());
        }
    }
    if value.len() == raw_len && value.first() == Some(&0x04) {
        return Ok(value.to_vec());
    }
    Err(DeviceError::Unsupported(
        "CKA_EC_POINT is not an uncompressed point".into(),
    ))
}

/// SPKI DER of an EC public key.
pub(crate) fn spki_der(curve: EcCurve, point: &[u8]) -> Result<Vec<u8>, DeviceError> {
    let enc = |e: der::Error| DeviceError::device("encode SPKI", e.to_string());
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: EC_PUBLIC_KEY,
            parameters: Some(Any::encode_from(&curve.oid()).map_err(enc)?),
        },
        subject_public_key: BitString::from_bytes(point).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)
}

/// Converts a raw `r‖s` signature (PKCS#11 `CKM_ECDSA` output) into a DER
/// `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }`.
///
/// # Errors
/// [`DeviceError::Device`] if `raw` is empty or of odd length.
pub fn raw_ecdsa_to_der(raw: &[u8]) -> Result<Vec<u8>, DeviceError> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) || raw.len() > 264 {
        return Err(DeviceError::device(
            "C_Sign",
            format!("unexpected raw ECDSA signature length {}", raw.len()),
        ));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = Vec::with_capacity(raw.len() + 8);
    der_integer(r, &mut body);
    der_integer(s, &mut body);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    der_len(body.len(), &mut out);
    out.extend_from_slice(&body);
    Ok(out)
}

fn der_integer(mut v: &[u8], out: &mut Vec<u8>) {
    while v.len() > 1 && v.first() == Some(&0) {
        v = v.get(1..).unwrap_or_default();
    }
    let pad = v.first().is_some_and(|b| b & 0x80 != 0);
    out.push(0x02);
    der_len(v.len() + usize::from(pad), out);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(v);
}

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_to_der_pads_and_strips() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // r needs a leading zero
        raw[32] = 0x00;
        raw[33] = 0x01; // s has a leading zero to strip
        let der = raw_ecdsa_to_der(&raw).unwrap_or_default();
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..5], &[0x02, 33, 0x00]);
        // s: 31 octets after stripping one zero.
        assert_eq!(der[2 + 2 + 33], 0x02);
        assert_eq!(der[2 + 2 + 33 + 1], 31);
        assert_eq!(der.len(), 2 + 35 + 33);
        assert!(raw_ecdsa_to_der(&[1, 2, 3]).is_err());
    }

    #[test]
    fn curve_params_roundtrip() {
        for c in [EcCurve::P256, EcCurve::P384] {
            assert_eq!(EcCurve::from_ec_params(&c.ec_params_der()).ok(), Some(c));
        }
        assert_eq!(
            EcCurve::P256.ec_params_der(),
            [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        );
    }
}
