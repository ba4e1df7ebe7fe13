//! Detached CMS (PKCS#7) signatures: the core's [`SignatureVerifier`] against
//! trusted CA certificates.
//!
//! An employee signs an uploaded document with `openssl cms -sign -binary`,
//! CryptoPro or a browser plug-in; the result is a `ContentInfo` holding a
//! `SignedData` (RFC 5652) without the content. Verifying it means:
//!
//! 1. parse `ContentInfo` → `SignedData` → the one `SignerInfo` (DER, or PEM
//!    labelled `CMS` or `PKCS7`);
//! 2. find the signer's certificate among the SignedData's certificates by the
//!    signer identifier (issuer and serial, or subject key identifier);
//! 3. check that certificate: issued by a trust anchor (name and signature),
//!    valid at the given time, key usage allowing signatures; and the anchor valid;
//! 4. with signed attributes: `contentType` is the encapsulated content type,
//!    `messageDigest` equals the digest of the given content, and the signature
//!    covers the DER `SET OF` the attributes (the received bytes, re-tagged);
//!    without: the signature covers the content itself.
//!
//! The structure is small, so it is read here with `der`'s reader rather than
//! through a CMS crate: the signature must be checked over the *received* bytes of
//! the signed attributes, which a decode-and-re-encode round trip may not keep.
//! Signatures are verified with *ring* through [`verify_signature`] (ECDSA P-256/
//! P-384 with SHA-256/384, RSA PKCS#1 v1.5 ≥ 2048 bits, Ed25519).
//!
//! The integration tests check that `openssl cms -verify` agrees on every case.

use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use ring::digest;
use time::OffsetDateTime;
use utrust_core::domain::certificate::SerialNumber;
use utrust_core::domain::hex::encode as hex;
use utrust_core::ports::{SignatureError, SignatureVerifier, SignerInfo};
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::{KeyUsage, SubjectKeyIdentifier};
use x509_cert::time::Time;

use crate::{PkiError, oids, pem, verify_signature};

/// Largest signature accepted, in bytes (a SignedData with a few certificates is a
/// few kilobytes).
pub const MAX_SIGNATURE_BYTES: usize = 1024 * 1024;

/// PEM label OpenSSL writes for `openssl cms -outform PEM`.
pub const CMS_LABEL: &str = "CMS";
/// PEM label of `openssl smime -pk7out` and many other tools.
pub const PKCS7_LABEL: &str = "PKCS7";

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// A trusted CA certificate, parsed once.
#[derive(Debug, Clone)]
struct Anchor {
    subject_der: Vec<u8>,
    spki_der: Vec<u8>,
    serial: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

/// Verifies detached CMS signatures made with certificates issued directly by
/// one of its trust anchors (the CA certificates given to [`CmsVerifier::new`]).
#[derive(Debug, Clone)]
pub struct CmsVerifier {
    anchors: Vec<Anchor>,
}

impl CmsVerifier {
    /// A verifier trusting the given CA certificates (each DER or PEM).
    ///
    /// # Errors
    /// [`PkiError::Malformed`] for a certificate that does not parse, or an empty
    /// list.
    pub fn new<C: AsRef<[u8]>>(trust_anchors: &[C]) -> Result<Self, PkiError> {
        if trust_anchors.is_empty() {
            return Err(PkiError::Malformed("no trust anchor given".to_owned()));
        }
        let anchors = trust_anchors
            .iter()
            .map(|c| {
                let der = pem::parse_pem_or_der(c.as_ref(), &[pem::CERTIFICATE])?;
                let cert = Certificate::from_der(&der).map_err(PkiError::malformed)?;
                let tbs = cert.tbs_certificate();
                let (not_before, not_after) = validity(&cert).map_err(PkiError::Malformed)?;
                Ok(Anchor {
                    subject_der: tbs.subject().to_der().map_err(PkiError::malformed)?,
                    spki_der: tbs
                        .subject_public_key_info()
                        .to_der()
                        .map_err(PkiError::malformed)?,
                    serial: hex(tbs.serial_number().as_bytes()),
                    not_before,
                    not_after,
                })
            })
            .collect::<Result<Vec<_>, PkiError>>()?;
        Ok(Self { anchors })
    }

    /// Verifies `signature` over `content` at `at`; see [`SignatureVerifier`].
    ///
    /// # Errors
    /// [`SignatureError`], a variant per reason.
    pub fn verify(
        &self,
        content: &[u8],
        signature: &[u8],
        at: OffsetDateTime,
    ) -> Result<SignerInfo, SignatureError> {
        if signature.len() > MAX_SIGNATURE_BYTES {
            return Err(SignatureError::Malformed(format!(
                "{} bytes (at most {MAX_SIGNATURE_BYTES})",
                signature.len()
            )));
        }
        let der = pem::parse_pem_or_der(signature, &[CMS_LABEL, PKCS7_LABEL])
            .map_err(|e| SignatureError::Malformed(e.to_string()))?;
        let signed = SignedData::parse(&der)?;
        let signer_cert = signed.signer_certificate()?;
        let cert = Certificate::from_der(signer_cert.der).map_err(malformed)?;
        self.check_certificate(&signer_cert, &cert, at)?;
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(malformed)?;
        let signing_time = signed.signer.check(content, &signed.content_type, &spki)?;
        let tbs = cert.tbs_certificate();
        let (not_before, not_after) = validity(&cert).map_err(SignatureError::Malformed)?;
        Ok(SignerInfo {
            serial: SerialNumber::from_bytes(tbs.serial_number().as_bytes())
                .map_err(|e| SignatureError::Malformed(format!("signer certificate: {e}")))?,
            subject: tbs.subject().to_string(),
            issuer: tbs.issuer().to_string(),
            not_before,
            not_after,
            signing_time,
            certificate_der: signer_cert.der.to_vec(),
        })
    }

    /// Issued by an anchor (name, then signature), the anchor and the
    /// certificate valid at `at`, key usage (if present) allowing signatures.
    fn check_certificate(
        &self,
        raw: &RawCertificate<'_>,
        cert: &Certificate,
        at: OffsetDateTime,
    ) -> Result<(), SignatureError> {
        let tbs = cert.tbs_certificate();
        let issuer_der = tbs.issuer().to_der().map_err(malformed)?;
        let candidates: Vec<&Anchor> = self
            .anchors
            .iter()
            .filter(|a| a.subject_der == issuer_der)
            .collect();
        if candidates.is_empty() {
            return Err(SignatureError::UntrustedSigner(format!(
                "issuer \"{}\" is not a trusted CA",
                tbs.issuer()
            )));
        }
        let anchor = candidates
            .into_iter()
            .find(|a| {
                verify_signature(
                    &a.spki_der,
                    &raw.signature_algorithm,
                    raw.tbs,
                    raw.signature,
                )
                .is_ok()
            })
            .ok_or_else(|| {
                SignatureError::UntrustedSigner(format!(
                    "the certificate's signature does not verify with the key of \"{}\"",
                    tbs.issuer()
                ))
            })?;
        if at < anchor.not_before || at > anchor.not_after {
            return Err(SignatureError::CertificateNotValid {
                serial: anchor.serial.clone(),
                at,
                not_before: anchor.not_before,
                not_after: anchor.not_after,
            });
        }
        let (not_before, not_after) = validity(cert).map_err(SignatureError::Malformed)?;
        if at < not_before || at > not_after {
            return Err(SignatureError::CertificateNotValid {
                serial: hex(tbs.serial_number().as_bytes()),
                at,
                not_before,
                not_after,
            });
        }
        if let Some((_, ku)) = tbs.get_extension::<KeyUsage>().map_err(malformed)?
            && !(ku.digital_signature() || ku.non_repudiation())
        {
            return Err(SignatureError::UntrustedSigner(format!(
                "certificate {} (\"{}\") may not sign: its key usage has neither \
                 digitalSignature nor nonRepudiation",
                hex(tbs.serial_number().as_bytes()),
                tbs.subject()
            )));
        }
        Ok(())
    }
}

impl SignatureVerifier for CmsVerifier {
    fn verify_detached(
        &self,
        content: &[u8],
        signature: &[u8],
        at: OffsetDateTime,
    ) -> Result<SignerInfo, SignatureError> {
        self.verify(content, signature, at)
    }
}

fn malformed(e: impl core::fmt::Display) -> SignatureError {
    SignatureError::Malformed(e.to_string())
}

fn to_datetime(t: &Time) -> Result<OffsetDateTime, String> {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).map_err(|e| e.to_string())?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| e.to_string())
}

fn validity(cert: &Certificate) -> Result<(OffsetDateTime, OffsetDateTime), String> {
    let v = cert.tbs_certificate().validity();
    Ok((to_datetime(&v.not_before)?, to_datetime(&v.not_after)?))
}

/// One TLV: its tag, its value bytes and the whole encoding.
#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: Tag,
    value: &'a [u8],
    der: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Exactly one TLV, nothing after it.
    fn one(bytes: &'a [u8], what: &str) -> Result<Self, SignatureError> {
        let mut all = Self::all(bytes, what)?;
        match (all.pop(), all.is_empty()) {
            (Some(t), true) => Ok(t),
            _ => Err(SignatureError::Malformed(format!(
                "{what}: expected exactly one element"
            ))),
        }
    }

    /// The concatenated TLVs of `bytes` (the contents of a SEQUENCE or SET).
    fn all(bytes: &'a [u8], what: &str) -> Result<Vec<Self>, SignatureError> {
        let err = |e: der::Error| SignatureError::Malformed(format!("{what}: {e}"));
        let mut reader = SliceReader::new(bytes).map_err(err)?;
        let mut out = Vec::new();
        while !reader.is_finished() {
            let der = reader.tlv_bytes().map_err(err)?;
            let any = AnyRef::from_der(der).map_err(err)?;
            out.push(Self {
                tag: any.tag(),
                value: any.value(),
                der,
            });
        }
        Ok(out)
    }

    fn expect(self, tag: Tag, what: &str) -> Result<Self, SignatureError> {
        if self.tag == tag {
            Ok(self)
        } else {
            Err(SignatureError::Malformed(format!(
                "{what}: expected {tag}, found {}",
                self.tag
            )))
        }
    }

    fn children(self, what: &str) -> Result<Vec<Self>, SignatureError> {
        Self::all(self.value, what)
    }

    fn oid(self, what: &str) -> Result<ObjectIdentifier, SignatureError> {
        ObjectIdentifier::from_der(self.der)
            .map_err(|e| SignatureError::Malformed(format!("{what}: {e}")))
    }

    /// The algorithm OID of an `AlgorithmIdentifier`.
    fn algorithm(self, what: &str) -> Result<ObjectIdentifier, SignatureError> {
        let parts = self.expect(Tag::Sequence, what)?.children(what)?;
        parts
            .first()
            .ok_or_else(|| SignatureError::Malformed(format!("{what}: empty")))?
            .oid(what)
    }
}

fn context(number: u32, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: TagNumber(number),
    }
}

/// A certificate from the SignedData, with the raw parts its signature covers.
struct RawCertificate<'a> {
    der: &'a [u8],
    tbs: &'a [u8],
    signature_algorithm: ObjectIdentifier,
    signature: &'a [u8],
}

impl<'a> RawCertificate<'a> {
    fn parse(tlv: Tlv<'a>) -> Result<Self, SignatureError> {
        let what = "certificate";
        let parts = tlv.expect(Tag::Sequence, what)?.children(what)?;
        let [tbs, alg, sig] = parts.as_slice() else {
            return Err(SignatureError::Malformed(format!(
                "{what}: expected 3 elements"
            )));
        };
        let tbs = tbs.expect(Tag::Sequence, what)?;
        let sig = sig.expect(Tag::BitString, what)?;
        let (unused, bits) = sig
            .value
            .split_first()
            .ok_or_else(|| SignatureError::Malformed(format!("{what}: empty signature")))?;
        if *unused != 0 {
            return Err(SignatureError::Malformed(format!(
                "{what}: signature BIT STRING has unused bits"
            )));
        }
        Ok(Self {
            der: tlv.der,
            tbs: tbs.der,
            signature_algorithm: alg.algorithm(what)?,
            signature: bits,
        })
    }
}

/// How the signer names its certificate.
enum SignerId<'a> {
    IssuerSerial { issuer: &'a [u8], serial: &'a [u8] },
    KeyId(&'a [u8]),
}

struct SignerInfoRaw<'a> {
    id: SignerId<'a>,
    digest_algorithm: ObjectIdentifier,
    /// The `[0] IMPLICIT` signed attributes: the whole TLV and its contents.
    signed_attrs: Option<Tlv<'a>>,
    signature_algorithm: ObjectIdentifier,
    signature: &'a [u8],
}

struct SignedData<'a> {
    content_type: ObjectIdentifier,
    certificates: Vec<Tlv<'a>>,
    signer: SignerInfoRaw<'a>,
}

impl<'a> SignedData<'a> {
    fn parse(der: &'a [u8]) -> Result<Self, SignatureError> {
        let info = Tlv::one(der, "ContentInfo")?.expect(Tag::Sequence, "ContentInfo")?;
        let parts = info.children("ContentInfo")?;
        let [content_type, content] = parts.as_slice() else {
            return Err(SignatureError::Malformed(
                "ContentInfo: expected contentType and content".to_owned(),
            ));
        };
        let content_type = content_type
            .expect(Tag::ObjectIdentifier, "ContentInfo")?
            .oid("ContentInfo")?;
        if content_type != ID_SIGNED_DATA {
            return Err(SignatureError::Malformed(format!(
                "content type {content_type} is not signedData"
            )));
        }
        let signed = Tlv::one(
            content.expect(context(0, true), "ContentInfo")?.value,
            "ContentInfo content",
        )?
        .expect(Tag::Sequence, "SignedData")?;
        let mut parts = signed.children("SignedData")?.into_iter().peekable();
        let mut next = |what: &str| {
            parts
                .next()
                .ok_or_else(|| SignatureError::Malformed(format!("SignedData: {what} missing")))
        };
        next("version")?.expect(Tag::Integer, "SignedData version")?;
        next("digestAlgorithms")?.expect(Tag::Set, "SignedData digestAlgorithms")?;
        let encap = next("encapContentInfo")?
            .expect(Tag::Sequence, "encapContentInfo")?
            .children("encapContentInfo")?;
        let econtent_type = encap
            .first()
            .ok_or_else(|| SignatureError::Malformed("encapContentInfo: empty".to_owned()))?
            .oid("encapContentInfo")?;
        if encap.len() > 1 {
            return Err(SignatureError::Malformed(
                "the content is encapsulated: a detached signature is expected".to_owned(),
            ));
        }
        let mut certificates = Vec::new();
        let mut item = next("signerInfos")?;
        if item.tag == context(0, true) {
            certificates = item.children("certificates")?;
            item = next("signerInfos")?;
        }
        if item.tag == context(1, true) {
            item = next("signerInfos")?;
        }
        let signers = item
            .expect(Tag::Set, "SignedData signerInfos")?
            .children("signerInfos")?;
        if parts.peek().is_some() {
            return Err(SignatureError::Malformed(
                "SignedData: data after signerInfos".to_owned(),
            ));
        }
        let [signer] = signers.as_slice() else {
            return Err(SignatureError::Malformed(format!(
                "exactly one signer expected, found {}",
                signers.len()
            )));
        };
        Ok(Self {
            content_type: econtent_type,
            certificates,
            signer: SignerInfoRaw::parse(*signer)?,
        })
    }

    /// The certificate the signer identifier names.
    fn signer_certificate(&self) -> Result<RawCertificate<'a>, SignatureError> {
        for tlv in &self.certificates {
            // Other CertificateChoices (attribute certificates, …) are tagged.
            if tlv.tag != Tag::Sequence {
                continue;
            }
            let raw = RawCertificate::parse(*tlv)?;
            let cert = Certificate::from_der(raw.der).map_err(malformed)?;
            let tbs = cert.tbs_certificate();
            let matches = match self.signer.id {
                SignerId::IssuerSerial { issuer, serial } => {
                    tbs.issuer().to_der().map_err(malformed)? == issuer
                        && tbs.serial_number().as_bytes() == serial
                }
                SignerId::KeyId(id) => tbs
                    .get_extension::<SubjectKeyIdentifier>()
                    .map_err(malformed)?
                    .is_some_and(|(_, ski)| ski.0.as_bytes() == id),
            };
            if matches {
                return Ok(raw);
            }
        }
        Err(SignatureError::SignerCertificateMissing)
    }
}

impl<'a> SignerInfoRaw<'a> {
    fn parse(tlv: Tlv<'a>) -> Result<Self, SignatureError> {
        let what = "SignerInfo";
        let mut parts = tlv
            .expect(Tag::Sequence, what)?
            .children(what)?
            .into_iter()
            .peekable();
        let mut next = |field: &str| {
            parts
                .next()
                .ok_or_else(|| SignatureError::Malformed(format!("{what}: {field} missing")))
        };
        next("version")?.expect(Tag::Integer, "SignerInfo version")?;
        let sid = next("sid")?;
        let id = if sid.tag == Tag::Sequence {
            let ias = sid.children("issuerAndSerialNumber")?;
            let [issuer, serial] = ias.as_slice() else {
                return Err(SignatureError::Malformed(
                    "issuerAndSerialNumber: expected issuer and serial".to_owned(),
                ));
            };
            SignerId::IssuerSerial {
                issuer: issuer.expect(Tag::Sequence, "issuer")?.der,
                serial: serial.expect(Tag::Integer, "serialNumber")?.value,
            }
        } else if sid.tag == context(0, false) {
            SignerId::KeyId(sid.value)
        } else {
            return Err(SignatureError::Malformed(format!(
                "SignerInfo sid: unexpected {}",
                sid.tag
            )));
        };
        let digest_algorithm = next("digestAlgorithm")?.algorithm("digestAlgorithm")?;
        let mut item = next("signatureAlgorithm")?;
        let mut signed_attrs = None;
        if item.tag == context(0, true) {
            signed_attrs = Some(item);
            item = next("signatureAlgorithm")?;
        }
        let signature_algorithm = item.algorithm("signatureAlgorithm")?;
        let signature = next("signature")?
            .expect(Tag::OctetString, "SignerInfo signature")?
            .value;
        if let Some(extra) = parts.next()
            && (extra.tag != context(1, true) || parts.peek().is_some())
        {
            return Err(SignatureError::Malformed(
                "SignerInfo: unexpected data after the signature".to_owned(),
            ));
        }
        Ok(Self {
            id,
            digest_algorithm,
            signed_attrs,
            signature_algorithm,
            signature,
        })
    }

    /// Checks the digest and the signature over `content` with the key `spki`;
    /// returns the signing time attribute, if any.
    fn check(
        &self,
        content: &[u8],
        content_type: &ObjectIdentifier,
        spki: &[u8],
    ) -> Result<Option<OffsetDateTime>, SignatureError> {
        let digest_alg = digest_algorithm(&self.digest_algorithm)?;
        let signature_oid = signature_oid(&self.signature_algorithm, &self.digest_algorithm)?;
        let Some(attrs) = self.signed_attrs else {
            // Without signed attributes the content itself is signed: its digest
            // must be the digest algorithm's.
            if *content_type != ID_DATA {
                return Err(SignatureError::Malformed(format!(
                    "content type {content_type} without signed attributes"
                )));
            }
            if let Some(implied) = signature_hash(&signature_oid)
                && implied != self.digest_algorithm
            {
                return Err(SignatureError::Malformed(format!(
                    "digest algorithm {} does not match signature algorithm {}",
                    self.digest_algorithm, self.signature_algorithm
                )));
            }
            verify(spki, &signature_oid, content, self.signature)?;
            return Ok(None);
        };
        let mut found_type = None;
        let mut found_digest = None;
        let mut signing_time = None;
        for attr in attrs.children("signedAttrs")? {
            let parts = attr
                .expect(Tag::Sequence, "Attribute")?
                .children("Attribute")?;
            let [oid, values] = parts.as_slice() else {
                return Err(SignatureError::Malformed(
                    "Attribute: expected type and values".to_owned(),
                ));
            };
            let oid = oid.oid("Attribute type")?;
            let values = values
                .expect(Tag::Set, "Attribute values")?
                .children("Attribute values")?;
            let single = |name: &str| match values.as_slice() {
                [v] => Ok(*v),
                _ => Err(SignatureError::Malformed(format!(
                    "{name} attribute must have exactly one value"
                ))),
            };
            let once = |present: bool, name: &str| {
                if present {
                    Err(SignatureError::Malformed(format!(
                        "{name} attribute appears twice"
                    )))
                } else {
                    Ok(())
                }
            };
            if oid == ID_CONTENT_TYPE {
                once(found_type.is_some(), "contentType")?;
                found_type = Some(single("contentType")?.oid("contentType")?);
            } else if oid == ID_MESSAGE_DIGEST {
                once(found_digest.is_some(), "messageDigest")?;
                found_digest = Some(
                    single("messageDigest")?
                        .expect(Tag::OctetString, "messageDigest")?
                        .value,
                );
            } else if oid == ID_SIGNING_TIME {
                once(signing_time.is_some(), "signingTime")?;
                let t = Time::from_der(single("signingTime")?.der).map_err(malformed)?;
                signing_time = Some(to_datetime(&t).map_err(SignatureError::Malformed)?);
            }
        }
        match found_type {
            Some(t) if t == *content_type => {}
            Some(t) => {
                return Err(SignatureError::Malformed(format!(
                    "contentType attribute {t} differs from the content type {content_type}"
                )));
            }
            None => {
                return Err(SignatureError::Malformed(
                    "signed attributes without contentType".to_owned(),
                ));
            }
        }
        let expected = found_digest.ok_or_else(|| {
            SignatureError::Malformed("signed attributes without messageDigest".to_owned())
        })?;
        if digest::digest(digest_alg, content).as_ref() != expected {
            return Err(SignatureError::ContentMismatch);
        }
        // The signature covers the attributes with an explicit SET OF tag.
        let mut signed = Vec::with_capacity(attrs.der.len());
        signed.push(0x31);
        signed.extend_from_slice(&attrs.der[1..]);
        verify(spki, &signature_oid, &signed, self.signature)?;
        Ok(signing_time)
    }
}

fn verify(
    spki: &[u8],
    algorithm: &ObjectIdentifier,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    match verify_signature(spki, algorithm, message, signature) {
        Ok(_) => Ok(()),
        Err(PkiError::BadSignature) => Err(SignatureError::BadSignature),
        Err(PkiError::UnsupportedAlgorithm(s)) | Err(PkiError::WeakKey(s)) => {
            Err(SignatureError::UnsupportedAlgorithm(s))
        }
        Err(other) => Err(SignatureError::Malformed(other.to_string())),
    }
}

fn digest_algorithm(oid: &ObjectIdentifier) -> Result<&'static digest::Algorithm, SignatureError> {
    match *oid {
        SHA256 => Ok(&digest::SHA256),
        SHA384 => Ok(&digest::SHA384),
        SHA512 => Ok(&digest::SHA512),
        other => Err(SignatureError::UnsupportedAlgorithm(format!(
            "digest algorithm {other}"
        ))),
    }
}

/// The X.509 signature algorithm to verify with: CMS allows the bare key
/// algorithm (`rsaEncryption`, `id-ecPublicKey`) with the hash taken from the
/// digest algorithm (RFC 5754 §3).
fn signature_oid(
    signature: &ObjectIdentifier,
    digest: &ObjectIdentifier,
) -> Result<ObjectIdentifier, SignatureError> {
    let unsupported = || {
        SignatureError::UnsupportedAlgorithm(format!(
            "signature algorithm {signature} with digest {digest}"
        ))
    };
    if *signature == oids::RSA_ENCRYPTION {
        match *digest {
            SHA256 => Ok(oids::SHA256_WITH_RSA),
            SHA384 => Ok(oids::SHA384_WITH_RSA),
            SHA512 => Ok(oids::SHA512_WITH_RSA),
            _ => Err(unsupported()),
        }
    } else if *signature == oids::EC_PUBLIC_KEY {
        match *digest {
            SHA256 => Ok(oids::ECDSA_SHA256),
            SHA384 => Ok(oids::ECDSA_SHA384),
            _ => Err(unsupported()),
        }
    } else {
        Ok(*signature)
    }
}

/// The hash a signature algorithm applies to the message (none for Ed25519).
fn signature_hash(signature: &ObjectIdentifier) -> Option<ObjectIdentifier> {
    match *signature {
        oids::ECDSA_SHA256 | oids::SHA256_WITH_RSA => Some(SHA256),
        oids::ECDSA_SHA384 | oids::SHA384_WITH_RSA => Some(SHA384),
        oids::SHA512_WITH_RSA => Some(SHA512),
        _ => None,
    }
}
