//! Subject names with exact string types, both ways.
//!
//! Russian qualified certificates need INN, SNILS and OGRN as NumericString, the
//! country as PrintableString, e-mail as IA5String and Cyrillic text as
//! UTF8String. `x509-cert` parses RFC 4514 strings into UTF8String only (and
//! reverses their order), so names are built here from the domain's
//! [`SubjectAttribute`] list: one attribute per RDN, in the given order, each
//! value tagged with its own type. `der` does not check NumericString or
//! PrintableString characters, so this module does.

use der::asn1::Any;
use der::{Tag, Tagged};
use utrust_core::domain::identifiers::Oid;
use utrust_core::domain::request::{StringType, SubjectAttribute};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

use crate::PkiError;

/// Converts a domain OID to an ASN.1 one.
pub(crate) fn to_asn1_oid(oid: &Oid) -> Result<der::asn1::ObjectIdentifier, PkiError> {
    der::asn1::ObjectIdentifier::new(oid.as_str()).map_err(|e| PkiError::InvalidValue {
        what: oid.to_string(),
        problem: format!("not an encodable OID ({e})"),
    })
}

/// Converts an ASN.1 OID to a domain one.
pub(crate) fn from_asn1_oid(oid: &der::asn1::ObjectIdentifier) -> Result<Oid, PkiError> {
    Oid::parse(&oid.to_string()).map_err(PkiError::malformed)
}

/// Encodes one attribute value with its string type, checking the characters.
fn encode_value(attr: &SubjectAttribute) -> Result<Any, PkiError> {
    let invalid = |problem: &str| PkiError::InvalidValue {
        what: attr.oid.to_string(),
        problem: problem.to_owned(),
    };
    if attr.value.is_empty() {
        return Err(invalid("empty value"));
    }
    if !attr.string_type.admits(&attr.value) {
        return Err(invalid(&format!(
            "characters not allowed in a {} string",
            attr.string_type.as_str()
        )));
    }
    let tag = match attr.string_type {
        StringType::Utf8 => Tag::Utf8String,
        StringType::Printable => Tag::PrintableString,
        StringType::Numeric => Tag::NumericString,
        StringType::Ia5 => Tag::Ia5String,
    };
    Any::new(tag, attr.value.as_bytes()).map_err(PkiError::encoding)
}

/// Builds a `Name` of single-attribute RDNs, in the order given.
///
/// # Errors
/// [`PkiError::InvalidValue`] for an empty value, a character the string type
/// cannot carry, or an OID that cannot be encoded.
pub fn encode_name(subject: &[SubjectAttribute]) -> Result<Name, PkiError> {
    let mut rdns = RdnSequence::default();
    for attr in subject {
        let atv = AttributeTypeAndValue {
            oid: to_asn1_oid(&attr.oid)?,
            value: encode_value(attr)?,
        };
        let rdn = RelativeDistinguishedName::try_from(vec![atv]).map_err(PkiError::encoding)?;
        rdns.push(rdn);
    }
    Ok(Name::hazmat_from_rdn_sequence(rdns))
}

/// Flattens a `Name` into attributes in encoding order.
///
/// TeletexString and BMPString values (old CAs and Windows clients) are decoded
/// when their text is plain (ASCII Teletex, valid UTF-16 BMP) and reported as
/// [`StringType::Utf8`]; VisibleString likewise.
///
/// # Errors
/// [`PkiError::Malformed`] for another value type or text its type forbids.
pub fn decode_name(name: &Name) -> Result<Vec<SubjectAttribute>, PkiError> {
    name.iter().map(decode_atv).collect()
}

fn decode_atv(atv: &AttributeTypeAndValue) -> Result<SubjectAttribute, PkiError> {
    let oid = from_asn1_oid(&atv.oid)?;
    let bytes = atv.value.value();
    let bad = |what: &str| PkiError::Malformed(format!("attribute {oid}: {what}"));
    let ascii = || {
        core::str::from_utf8(bytes)
            .ok()
            .filter(|s| s.is_ascii())
            .map(str::to_owned)
    };
    let (value, string_type) = match atv.value.tag() {
        Tag::Utf8String => (
            core::str::from_utf8(bytes)
                .map_err(|_| bad("invalid UTF-8"))?
                .to_owned(),
            StringType::Utf8,
        ),
        Tag::PrintableString => (ascii().ok_or_else(|| bad("non-ASCII PrintableString"))?, {
            StringType::Printable
        }),
        Tag::NumericString => (
            ascii().ok_or_else(|| bad("non-ASCII NumericString"))?,
            StringType::Numeric,
        ),
        Tag::Ia5String => (
            ascii().ok_or_else(|| bad("non-ASCII IA5String"))?,
            StringType::Ia5,
        ),
        Tag::TeletexString | Tag::VisibleString => (
            ascii().ok_or_else(|| bad("TeletexString beyond ASCII"))?,
            StringType::Utf8,
        ),
        Tag::BmpString => (
            decode_bmp(bytes).ok_or_else(|| bad("invalid BMPString"))?,
            { StringType::Utf8 },
        ),
        other => return Err(bad(&format!("unsupported value type {other}"))),
    };
    if !string_type.admits(&value) {
        return Err(bad(&format!(
            "characters not allowed in a {} string",
            string_type.as_str()
        )));
    }
    Ok(SubjectAttribute {
        oid,
        value,
        string_type,
    })
}

fn decode_bmp(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn name_with(tag: Tag, bytes: &[u8]) -> Name {
        let atv = AttributeTypeAndValue {
            oid: der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3"),
            value: Any::new(tag, bytes).unwrap(),
        };
        let mut rdns = RdnSequence::default();
        rdns.push(RelativeDistinguishedName::try_from(vec![atv]).unwrap());
        Name::hazmat_from_rdn_sequence(rdns)
    }

    #[test]
    fn bmp_string_is_decoded_as_utf8_text() {
        let utf16: Vec<u8> = "Пётр".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let got = decode_name(&name_with(Tag::BmpString, &utf16)).unwrap();
        assert_eq!(got[0].value, "Пётр");
        assert_eq!(got[0].string_type, StringType::Utf8);
    }

    #[test]
    fn ascii_teletex_is_accepted_other_teletex_is_not() {
        let got = decode_name(&name_with(Tag::TeletexString, b"Petrov")).unwrap();
        assert_eq!(got[0].value, "Petrov");
        assert!(matches!(
            decode_name(&name_with(Tag::TeletexString, &[0xC8, 0x41])),
            Err(PkiError::Malformed(_))
        ));
    }

    #[test]
    fn letters_in_a_received_numeric_string_are_malformed() {
        assert!(matches!(
            decode_name(&name_with(Tag::NumericString, b"12a")),
            Err(PkiError::Malformed(_))
        ));
    }

    #[test]
    fn odd_bmp_is_malformed() {
        assert!(decode_name(&name_with(Tag::BmpString, &[0x04])).is_err());
    }
}
