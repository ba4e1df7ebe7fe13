//! Inspecting received PKCS#10 requests: the [`RequestInspector`] port.
//!
//! A request comes from outside (a browser, CryptoPro, OpenSSL), so this is the
//! parser of untrusted input: size-limited, strict DER (no trailing data), and the
//! signature is checked over the `certificationRequestInfo` bytes *as received* —
//! sliced out of the input, never re-encoded, so that a non-canonical encoding
//! cannot make a forged request verify or a genuine one fail.

use der::asn1::AnyRef;
use der::{Decode, Encode, Reader, SliceReader};
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::request::{InspectedRequest, RequestedExtensions};
use utrust_core::ports::{CsrRejection, RequestInspector};
use x509_cert::ext::Extension;
use x509_cert::request::CertReq;

use crate::name::decode_name;
use crate::{PkiError, oids, pem, verify};

/// Largest accepted input, PEM or DER (64 KiB; real requests are under 4 KiB).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Parses and verifies received PKCS#10 requests (PEM or DER).
#[derive(Debug, Clone, Copy, Default)]
pub struct CsrInspector;

impl CsrInspector {
    /// A new inspector.
    pub fn new() -> Self {
        Self
    }

    /// As [`RequestInspector::inspect`], with this crate's error.
    ///
    /// # Errors
    /// [`PkiError::Malformed`], [`PkiError::BadSignature`],
    /// [`PkiError::UnsupportedAlgorithm`] or [`PkiError::WeakKey`].
    pub fn inspect_request(&self, input: &[u8]) -> Result<InspectedRequest, PkiError> {
        if input.len() > MAX_REQUEST_BYTES {
            return Err(PkiError::Malformed(format!(
                "request of {} bytes exceeds the {MAX_REQUEST_BYTES}-byte limit",
                input.len()
            )));
        }
        let der = pem::parse_pem_or_der(
            input,
            &[pem::CERTIFICATE_REQUEST, pem::NEW_CERTIFICATE_REQUEST],
        )?;
        let (req, key_algorithm) = verified_request(&der)?;
        let subject = decode_name(&req.info.subject)?;
        let extensions = extension_request(&req)?;
        Ok(InspectedRequest {
            der,
            key_algorithm,
            subject,
            extensions,
        })
    }
}

impl RequestInspector for CsrInspector {
    fn inspect(&self, bytes: &[u8]) -> Result<InspectedRequest, CsrRejection> {
        self.inspect_request(bytes).map_err(CsrRejection::from)
    }
}

/// Decodes a request strictly (no trailing data) and verifies its signature over
/// the received `certificationRequestInfo` bytes with the key it carries.
pub(crate) fn verified_request(der: &[u8]) -> Result<(CertReq, KeyAlgorithm), PkiError> {
    let req = CertReq::from_der(der).map_err(PkiError::malformed)?;
    let info_bytes = received_info_bytes(der)?;
    let signature = req
        .signature
        .as_bytes()
        .ok_or_else(|| PkiError::Malformed("signature BIT STRING has unused bits".into()))?;
    let spki_der = req.info.public_key.to_der().map_err(PkiError::malformed)?;
    let key_algorithm =
        verify::verify_signature(&spki_der, &req.algorithm.oid, info_bytes, signature)?;
    Ok((req, key_algorithm))
}

/// The complete TLV of the first element of the outer SEQUENCE, as received.
fn received_info_bytes(der: &[u8]) -> Result<&[u8], PkiError> {
    let mut reader = SliceReader::new(der).map_err(PkiError::malformed)?;
    let outer = der::Header::decode(&mut reader).map_err(PkiError::malformed)?;
    if outer.tag() != der::Tag::Sequence {
        return Err(PkiError::Malformed("not a SEQUENCE".into()));
    }
    let start = usize::try_from(reader.position()).map_err(PkiError::malformed)?;
    AnyRef::decode(&mut reader).map_err(PkiError::malformed)?;
    let end = usize::try_from(reader.position()).map_err(PkiError::malformed)?;
    der.get(start..end)
        .ok_or_else(|| PkiError::Malformed("certificationRequestInfo out of range".into()))
}

/// The extensions of the extensionRequest attribute, if any.
fn extension_request(req: &CertReq) -> Result<RequestedExtensions, PkiError> {
    let mut found: Option<RequestedExtensions> = None;
    for attr in req.info.attributes.iter() {
        if attr.oid != oids::EXTENSION_REQUEST {
            continue;
        }
        if found.is_some() || attr.values.len() != 1 {
            return Err(PkiError::Malformed(
                "extensionRequest must appear once with one value".into(),
            ));
        }
        let mut extensions: Vec<Extension> = Vec::new();
        for value in attr.values.iter() {
            extensions = value.decode_as().map_err(PkiError::malformed)?;
        }
        found = Some(crate::ext::decode_requested(&extensions)?);
    }
    Ok(found.unwrap_or_default())
}
