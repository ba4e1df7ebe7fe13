//! The extensions utrust requests and issues, both ways.
//!
//! One place encodes keyUsage, extendedKeyUsage, certificatePolicies, basic
//! constraints and key identifiers, so the request builder and the CA produce the
//! same bytes, and one place decodes a request's extensionRequest back into the
//! domain's [`RequestedExtensions`]. Key usage bits are encoded by hand: DER wants
//! the trailing zero bits dropped and the unused-bit count set accordingly, and
//! the unit tests pin that down.

use der::asn1::{BitString, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use ring::digest;
use utrust_core::domain::request::{KeyUsage, RequestedExtensions};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, ExtendedKeyUsage,
    SubjectKeyIdentifier,
};

use crate::name::{from_asn1_oid, to_asn1_oid};
use crate::{PkiError, oids};

/// The DER `KeyUsage` BIT STRING for `usages` (duplicates are harmless).
///
/// # Errors
/// [`PkiError::Encoding`] only on an internal encoder failure.
pub fn key_usage_bit_string(usages: &[KeyUsage]) -> Result<BitString, PkiError> {
    let mut bits: u16 = 0;
    for u in usages {
        bits |= 0x8000 >> u.bit();
    }
    let [hi, lo] = bits.to_be_bytes();
    let bytes: Vec<u8> = if lo != 0 {
        vec![hi, lo]
    } else if hi != 0 {
        vec![hi]
    } else {
        Vec::new()
    };
    let unused = bytes.last().map_or(0, |b| b.trailing_zeros() as u8);
    BitString::new(unused, bytes).map_err(PkiError::encoding)
}

/// The usages named in a `KeyUsage` BIT STRING, in bit order. encipherOnly and
/// decipherOnly (bits 7, 8) have no domain counterpart and are ignored.
pub fn key_usages_from_bit_string(bits: &BitString) -> Vec<KeyUsage> {
    bits.bits()
        .enumerate()
        .filter(|(_, set)| *set)
        .filter_map(|(i, _)| u8::try_from(i).ok().and_then(KeyUsage::from_bit))
        .collect()
}

pub(crate) fn extension(
    oid: ObjectIdentifier,
    critical: bool,
    value: &impl Encode,
) -> Result<Extension, PkiError> {
    let der = value.to_der().map_err(PkiError::encoding)?;
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(der).map_err(PkiError::encoding)?,
    })
}

/// keyUsage (critical), extendedKeyUsage and certificatePolicies, each only when
/// its list is non-empty.
///
/// # Errors
/// [`PkiError::InvalidValue`] for an OID that cannot be encoded.
pub fn requested_extensions(req: &RequestedExtensions) -> Result<Vec<Extension>, PkiError> {
    let mut out = Vec::new();
    if !req.key_usage.is_empty() {
        out.push(extension(
            oids::KEY_USAGE,
            true,
            &key_usage_bit_string(&req.key_usage)?,
        )?);
    }
    if !req.extended_key_usage.is_empty() {
        let eku = ExtendedKeyUsage(
            req.extended_key_usage
                .iter()
                .map(to_asn1_oid)
                .collect::<Result<_, _>>()?,
        );
        out.push(extension(oids::EXTENDED_KEY_USAGE, false, &eku)?);
    }
    if !req.certificate_policies.is_empty() {
        let cp = CertificatePolicies(
            req.certificate_policies
                .iter()
                .map(|o| {
                    Ok(PolicyInformation {
                        policy_identifier: to_asn1_oid(o)?,
                        policy_qualifiers: None,
                    })
                })
                .collect::<Result<_, PkiError>>()?,
        );
        out.push(extension(oids::CERTIFICATE_POLICIES, false, &cp)?);
    }
    Ok(out)
}

/// Reads keyUsage, extendedKeyUsage and certificatePolicies from a list of
/// extensions; other extensions are ignored.
///
/// # Errors
/// [`PkiError::Malformed`] if one of those three does not decode, or appears twice.
pub fn decode_requested(extensions: &[Extension]) -> Result<RequestedExtensions, PkiError> {
    let mut out = RequestedExtensions::default();
    let mut seen: Vec<ObjectIdentifier> = Vec::new();
    for e in extensions {
        if seen.contains(&e.extn_id) {
            return Err(PkiError::Malformed(format!(
                "extension {} twice",
                e.extn_id
            )));
        }
        seen.push(e.extn_id);
        let value = e.extn_value.as_bytes();
        if e.extn_id == oids::KEY_USAGE {
            let bits = BitString::from_der(value).map_err(PkiError::malformed)?;
            out.key_usage = key_usages_from_bit_string(&bits);
        } else if e.extn_id == oids::EXTENDED_KEY_USAGE {
            let eku = ExtendedKeyUsage::from_der(value).map_err(PkiError::malformed)?;
            out.extended_key_usage = eku.0.iter().map(from_asn1_oid).collect::<Result<_, _>>()?;
        } else if e.extn_id == oids::CERTIFICATE_POLICIES {
            let cp = CertificatePolicies::from_der(value).map_err(PkiError::malformed)?;
            out.certificate_policies =
                cp.0.iter()
                    .map(|p| from_asn1_oid(&p.policy_identifier))
                    .collect::<Result<_, _>>()?;
        }
    }
    Ok(out)
}

/// basicConstraints, critical.
pub(crate) fn basic_constraints(ca: bool) -> Result<Extension, PkiError> {
    extension(
        oids::BASIC_CONSTRAINTS,
        true,
        &BasicConstraints {
            ca,
            path_len_constraint: None,
        },
    )
}

/// keyUsage with the given bits, critical.
pub(crate) fn key_usage(usages: &[KeyUsage]) -> Result<Extension, PkiError> {
    extension(oids::KEY_USAGE, true, &key_usage_bit_string(usages)?)
}

/// The RFC 5280 §4.2.1.2 method 1 key identifier: SHA-1 of the subjectPublicKey
/// BIT STRING's bytes.
pub(crate) fn key_identifier(spki: &spki::SubjectPublicKeyInfoOwned) -> Vec<u8> {
    digest::digest(
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        spki.subject_public_key.raw_bytes(),
    )
    .as_ref()
    .to_vec()
}

/// subjectKeyIdentifier.
pub(crate) fn subject_key_identifier(id: &[u8]) -> Result<Extension, PkiError> {
    let ski = SubjectKeyIdentifier(OctetString::new(id).map_err(PkiError::encoding)?);
    extension(oids::SUBJECT_KEY_IDENTIFIER, false, &ski)
}

/// authorityKeyIdentifier with only the key identifier.
pub(crate) fn authority_key_identifier(id: &[u8]) -> Result<Extension, PkiError> {
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(id).map_err(PkiError::encoding)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    extension(oids::AUTHORITY_KEY_IDENTIFIER, false, &aki)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn der_of(usages: &[KeyUsage]) -> Vec<u8> {
        key_usage_bit_string(usages).unwrap().to_der().unwrap()
    }

    #[test]
    fn digital_signature_and_non_repudiation() {
        // 0xC0 with 6 unused bits: what OpenSSL writes for these two.
        assert_eq!(
            der_of(&[KeyUsage::DigitalSignature, KeyUsage::NonRepudiation]),
            [0x03, 0x02, 0x06, 0xC0]
        );
    }

    #[test]
    fn ca_usages() {
        // keyCertSign (5) + cRLSign (6): 0x06, one unused bit.
        assert_eq!(
            der_of(&[KeyUsage::KeyCertSign, KeyUsage::CrlSign]),
            [0x03, 0x02, 0x01, 0x06]
        );
    }

    #[test]
    fn single_digital_signature() {
        assert_eq!(
            der_of(&[KeyUsage::DigitalSignature]),
            [0x03, 0x02, 0x07, 0x80]
        );
    }

    #[test]
    fn key_agreement_only() {
        assert_eq!(der_of(&[KeyUsage::KeyAgreement]), [0x03, 0x02, 0x03, 0x08]);
    }

    #[test]
    fn empty_is_zero_length() {
        assert_eq!(der_of(&[]), [0x03, 0x01, 0x00]);
    }

    #[test]
    fn round_trip_every_subset() {
        for mask in 0u8..128 {
            let set: Vec<KeyUsage> = KeyUsage::ALL
                .into_iter()
                .filter(|u| mask & (1 << u.bit()) != 0)
                .collect();
            let bits = key_usage_bit_string(&set).unwrap();
            assert_eq!(key_usages_from_bit_string(&bits), set, "mask {mask:#x}");
        }
    }
}
