//! Building a PKCS#10 request from the domain's [`RequestTemplate`].
//!
//! Used when the registration office (or a token on the client's side) makes the
//! request itself. The `CertReqInfo` is assembled directly rather than through
//! `x509_cert::request::RequestBuilder`: the builder always adds an
//! extensionRequest (even an empty one) and wants a signer with the RustCrypto
//! `Keypair` traits, while we want the template's exact subject encodings, no empty
//! attribute, and any [`Signer`] (including a token) behind `&dyn`. The info is
//! DER-encoded once, signed, and wrapped; OpenSSL's `req -verify` accepts the
//! result (see the integration tests).

use der::Encode;
use der::asn1::{Any, BitString, SetOfVec};
use spki::SubjectPublicKeyInfoOwned;
use utrust_core::domain::request::RequestTemplate;
use x509_cert::attr::Attribute;
use x509_cert::request::{CertReq, CertReqInfo, Version};

use crate::name::encode_name;
use crate::{PkiError, Signer, ext, oids};

/// Builds and signs a PKCS#10 request (DER) for `template` with `signer`'s key.
///
/// The subject is a sequence of single-attribute RDNs in the template's order, each
/// value with the template's string type. The extensionRequest carries keyUsage
/// (critical), extendedKeyUsage and certificatePolicies, each only when non-empty;
/// with no extension at all there is no extensionRequest attribute.
///
/// # Errors
/// [`PkiError::UnsupportedAlgorithm`] if the signer's algorithm differs from the
/// template's; [`PkiError::InvalidValue`] for a value its string type cannot carry
/// (e.g. letters in a NumericString) or a bad OID; errors of [`Signer::sign`].
pub fn build_request(template: &RequestTemplate, signer: &dyn Signer) -> Result<Vec<u8>, PkiError> {
    if signer.algorithm() != template.key_algorithm {
        return Err(PkiError::UnsupportedAlgorithm(format!(
            "the template asks for a {} key, the signer holds {}",
            template.key_algorithm.as_str(),
            signer.algorithm().as_str()
        )));
    }
    let subject = encode_name(&template.subject)?;
    let public_key = spki_from_der(&signer.public_key_spki_der())?;
    let mut attributes = SetOfVec::new();
    let extensions = ext::requested_extensions(&template.extensions)?;
    if !extensions.is_empty() {
        let value = Any::encode_from(&extensions).map_err(PkiError::encoding)?;
        attributes
            .insert(Attribute {
                oid: oids::EXTENSION_REQUEST,
                values: SetOfVec::try_from(vec![value]).map_err(PkiError::encoding)?,
            })
            .map_err(PkiError::encoding)?;
    }
    let info = CertReqInfo {
        version: Version::V1,
        subject,
        public_key,
        attributes,
    };
    let info_der = info.to_der().map_err(PkiError::encoding)?;
    let signature = signer.sign(&info_der)?;
    CertReq {
        info,
        algorithm: signer.signature_algorithm_identifier(),
        signature: BitString::from_bytes(&signature).map_err(PkiError::encoding)?,
    }
    .to_der()
    .map_err(PkiError::encoding)
}

/// Decodes a signer's SPKI, reporting a broken signer as an encoding error.
pub(crate) fn spki_from_der(der: &[u8]) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    use der::Decode;
    SubjectPublicKeyInfoOwned::from_der(der)
        .map_err(|e| PkiError::Encoding(format!("signer SPKI: {e}")))
}
