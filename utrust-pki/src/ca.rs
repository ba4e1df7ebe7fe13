//! A local certification authority: the [`CertificateAuthority`] port on a key
//! this process holds.
//!
//! It serves tests, demonstrations and small installations that issue their own
//! certificates; a production CA behind an API is another adapter of the same
//! port. Certificates are assembled with `x509-cert`'s `CertificateBuilder` and a
//! profile of our own ([`BuilderProfile`]): the built-in CA/Browser Forum profiles
//! reject attributes such as INN, and ours simply places the subject, the issuer
//! and the extensions we computed. The builder's `finalize` yields the TBS bytes,
//! our [`Signer`] (on *ring*) signs them, and `assemble` wraps the result.
//!
//! Before issuing, the request is parsed and its signature checked again (proof of
//! possession), so a CA used without the inspector still refuses forged requests.

use std::sync::Arc;

use async_trait::async_trait;
use der::asn1::{BitString, GeneralizedTime};
use der::{Decode, Document, Encode};
use ring::rand::{SecureRandom, SystemRandom};
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef,
};
use time::{Duration, OffsetDateTime};
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::certificate::{IssuedCertificate, SerialNumber};
use utrust_core::domain::request::{KeyUsage, SubjectAttribute};
use utrust_core::ports::{CaError, CertificateAuthority, CrlRequest, IssueRequest};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::{Certificate, TbsCertificate};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber as X509Serial;
use x509_cert::time::{Time, Validity};

use crate::inspect::verified_request;
use crate::name::encode_name;
use crate::request::spki_from_der;
use crate::{PkiError, Signer, SoftwareKey, ext, pem};

/// Length of generated serial numbers, in octets.
const SERIAL_LEN: usize = 16;

/// A CA whose key is in this process (a [`SoftwareKey`] or any [`Signer`]).
///
/// Cheap to share: `Send + Sync`, and [`LocalCa::issue_certificate`] takes `&self`.
pub struct LocalCa {
    pub(crate) signer: Arc<dyn Signer>,
    software: Option<Arc<SoftwareKey>>,
    cert_der: Vec<u8>,
    /// The CA certificate's subject, exactly as encoded there (CRL issuer).
    pub(crate) subject: Name,
    /// The CA's subject key identifier (authorityKeyIdentifier of what it signs).
    pub(crate) key_id: Vec<u8>,
    rng: SystemRandom,
}

impl core::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalCa")
            .field("algorithm", &self.signer.algorithm())
            .field("subject", &self.subject.to_string())
            .finish_non_exhaustive()
    }
}

impl LocalCa {
    /// Generates a software key and a self-signed CA certificate valid from `now`
    /// for `validity`: basicConstraints CA:true and keyUsage keyCertSign + cRLSign
    /// (both critical), subject and authority key identifiers.
    ///
    /// # Errors
    /// [`PkiError::UnsupportedAlgorithm`] for RSA/GOST, [`PkiError::InvalidValue`]
    /// for a bad subject or validity, [`PkiError::Random`].
    pub fn generate(
        subject: &[SubjectAttribute],
        algorithm: KeyAlgorithm,
        validity: Duration,
        now: OffsetDateTime,
    ) -> Result<Self, PkiError> {
        let key = Arc::new(SoftwareKey::generate(algorithm)?);
        let mut ca = Self::self_signed(key.clone(), subject, validity, now)?;
        ca.software = Some(key);
        Ok(ca)
    }

    /// A self-signed CA certificate for any signer (e.g. a token key), as
    /// [`LocalCa::generate`] makes it.
    ///
    /// # Errors
    /// As [`LocalCa::generate`], plus errors of [`Signer::sign`].
    pub fn self_signed(
        signer: Arc<dyn Signer>,
        subject: &[SubjectAttribute],
        validity: Duration,
        now: OffsetDateTime,
    ) -> Result<Self, PkiError> {
        let rng = SystemRandom::new();
        let name = encode_name(subject)?;
        let spki = spki_from_der(&signer.public_key_spki_der())?;
        let key_id = ext::key_identifier(&spki);
        let extensions = vec![
            ext::basic_constraints(true)?,
            ext::key_usage(&[KeyUsage::KeyCertSign, KeyUsage::CrlSign])?,
            ext::subject_key_identifier(&key_id)?,
            ext::authority_key_identifier(&key_id)?,
        ];
        let not_after = now
            .checked_add(validity)
            .ok_or_else(|| PkiError::InvalidValue {
                what: "validity".into(),
                problem: "end out of range".into(),
            })?;
        let serial = random_serial(&rng)?;
        let cert_der = sign_certificate(
            signer.as_ref(),
            TbsParts {
                serial: &serial,
                issuer: name.clone(),
                subject: name.clone(),
                not_before: now,
                not_after,
                spki,
                extensions,
            },
        )?;
        Ok(Self {
            signer,
            software: None,
            cert_der,
            subject: name,
            key_id,
            rng,
        })
    }

    /// Reloads a CA from its PKCS#8 key and its certificate (each DER or PEM).
    ///
    /// # Errors
    /// [`PkiError::KeyRejected`] or [`PkiError::Malformed`] for bad inputs;
    /// [`PkiError::KeyMismatch`] if the key is not the certificate's.
    pub fn from_parts(key_pkcs8: &[u8], certificate: &[u8]) -> Result<Self, PkiError> {
        let key_der =
            zeroize::Zeroizing::new(pem::parse_pem_or_der(key_pkcs8, &[pem::PRIVATE_KEY])?);
        let key = Arc::new(SoftwareKey::from_pkcs8_der(&key_der)?);
        let mut ca = Self::with_signer(key.clone(), certificate)?;
        ca.software = Some(key);
        Ok(ca)
    }

    /// A CA from any signer and its certificate (DER or PEM).
    ///
    /// # Errors
    /// [`PkiError::Malformed`] for a bad certificate; [`PkiError::KeyMismatch`] if
    /// the signer's public key is not the certificate's.
    pub fn with_signer(signer: Arc<dyn Signer>, certificate: &[u8]) -> Result<Self, PkiError> {
        let cert_der = pem::parse_pem_or_der(certificate, &[pem::CERTIFICATE])?;
        let cert = Certificate::from_der(&cert_der).map_err(PkiError::malformed)?;
        let tbs = cert.tbs_certificate();
        let cert_spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(PkiError::malformed)?;
        if cert_spki != signer.public_key_spki_der() {
            return Err(PkiError::KeyMismatch);
        }
        let key_id = match tbs
            .get_extension::<SubjectKeyIdentifier>()
            .map_err(PkiError::malformed)?
        {
            Some((_, ski)) => ski.0.as_bytes().to_vec(),
            None => ext::key_identifier(tbs.subject_public_key_info()),
        };
        Ok(Self {
            signer,
            software: None,
            subject: tbs.subject().clone(),
            cert_der,
            key_id,
            rng: SystemRandom::new(),
        })
    }

    /// The CA key as PKCS#8 DER, when it is a [`SoftwareKey`]. Protect it.
    pub fn key_pkcs8_der(&self) -> Option<&[u8]> {
        self.software.as_deref().map(SoftwareKey::to_pkcs8_der)
    }

    /// The CA key as a PEM `PRIVATE KEY`, when it is a [`SoftwareKey`]. Protect it.
    pub fn key_pkcs8_pem(&self) -> Option<String> {
        self.software.as_deref().map(SoftwareKey::to_pkcs8_pem)
    }

    /// The CA certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA certificate, PEM.
    pub fn certificate_pem(&self) -> String {
        pem::to_pem(pem::CERTIFICATE, &self.cert_der)
    }

    /// The CA's key algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.signer.algorithm()
    }

    /// Issues a certificate for `request`: a random 16-octet positive serial, the
    /// CA as issuer, the request's subject with its string types, the public key of
    /// the request in `csr_der` (whose signature is checked again), and
    /// basicConstraints CA:false (critical), keyUsage (critical), extendedKeyUsage,
    /// certificatePolicies (each when non-empty), subject and authority key
    /// identifiers. Times are truncated to whole seconds.
    ///
    /// # Errors
    /// [`PkiError::InvalidValue`] for a bad subject or an empty validity period,
    /// the inspector's errors for a bad request, [`PkiError::Random`] or
    /// [`PkiError::Signing`] when the CA cannot sign.
    pub fn issue_certificate(&self, request: &IssueRequest) -> Result<IssuedCertificate, PkiError> {
        let not_before = whole_seconds(request.not_before)?;
        let not_after = whole_seconds(request.not_after)?;
        if not_after <= not_before {
            return Err(PkiError::InvalidValue {
                what: "validity".into(),
                problem: "notAfter is not after notBefore".into(),
            });
        }
        let (csr, _) = verified_request(&request.csr_der)?;
        let spki = csr.info.public_key;
        let subject = encode_name(&request.subject)?;
        let subject_key_id = ext::key_identifier(&spki);
        let mut extensions = vec![ext::basic_constraints(false)?];
        extensions.extend(ext::requested_extensions(&request.extensions)?);
        extensions.push(ext::subject_key_identifier(&subject_key_id)?);
        extensions.push(ext::authority_key_identifier(&self.key_id)?);
        let serial = random_serial(&self.rng)?;
        let der = sign_certificate(
            self.signer.as_ref(),
            TbsParts {
                serial: &serial,
                issuer: self.subject.clone(),
                subject,
                not_before,
                not_after,
                spki,
                extensions,
            },
        )?;
        Ok(IssuedCertificate {
            serial: SerialNumber::from_bytes(&serial).map_err(PkiError::encoding)?,
            der,
            not_before,
            not_after,
        })
    }
}

#[async_trait]
impl CertificateAuthority for LocalCa {
    async fn issue(&self, request: IssueRequest) -> Result<IssuedCertificate, CaError> {
        self.issue_certificate(&request).map_err(ca_error)
    }

    /// Signs the CRL with [`LocalCa::build_crl`]. Bad input (a `removeFromCRL`
    /// entry, a duplicate serial, an empty validity window) is
    /// [`CaError::Refused`]; a failing signer or RNG is [`CaError::Unavailable`].
    async fn sign_crl(&self, request: CrlRequest) -> Result<Vec<u8>, CaError> {
        self.build_crl(&request).map_err(ca_error)
    }

    fn ca_certificate_der(&self) -> Vec<u8> {
        self.cert_der.clone()
    }
}

/// Signer, RNG and encoder failures may pass on retry; everything else is the
/// input's fault.
fn ca_error(e: PkiError) -> CaError {
    match e {
        PkiError::Random | PkiError::Signing(_) | PkiError::Encoding(_) => {
            CaError::Unavailable(e.to_string())
        }
        other => CaError::Refused(other.to_string()),
    }
}

/// 16 random octets, top bit cleared (positive), first octet non-zero (minimal DER).
fn random_serial(rng: &SystemRandom) -> Result<[u8; SERIAL_LEN], PkiError> {
    for _ in 0..64 {
        let mut s = [0u8; SERIAL_LEN];
        rng.fill(&mut s).map_err(|_| PkiError::Random)?;
        s[0] &= 0x7f;
        if s[0] != 0 {
            return Ok(s);
        }
    }
    Err(PkiError::Random)
}

fn whole_seconds(t: OffsetDateTime) -> Result<OffsetDateTime, PkiError> {
    t.replace_nanosecond(0).map_err(PkiError::encoding)
}

fn to_x509_time(t: OffsetDateTime) -> Result<Time, PkiError> {
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| PkiError::InvalidValue {
        what: "validity".into(),
        problem: format!("{t} is before 1970"),
    })?;
    let g = GeneralizedTime::from_unix_duration(core::time::Duration::from_secs(secs)).map_err(
        |e| PkiError::InvalidValue {
            what: "validity".into(),
            problem: format!("{t}: {e}"),
        },
    )?;
    // The builder turns dates up to 2049 into UTCTime (RFC 5280 §4.1.2.5).
    Ok(Time::GeneralTime(g))
}

struct TbsParts<'a> {
    serial: &'a [u8],
    issuer: Name,
    subject: Name,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    spki: SubjectPublicKeyInfoOwned,
    extensions: Vec<Extension>,
}

/// Places exactly what we computed; nothing is added or checked by the profile.
struct FixedProfile {
    issuer: Name,
    subject: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for FixedProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

/// Adapts `&dyn Signer` to the RustCrypto traits `CertificateBuilder::finalize`
/// and `assemble` need (they only read the public key and the algorithm).
struct BuilderKey<'a>(&'a dyn Signer);

#[derive(Clone)]
struct SpkiBytes(Vec<u8>);

impl EncodePublicKey for SpkiBytes {
    fn to_public_key_der(&self) -> spki::Result<Document> {
        Ok(Document::try_from(self.0.as_slice())?)
    }
}

impl signature::Keypair for BuilderKey<'_> {
    type VerifyingKey = SpkiBytes;
    fn verifying_key(&self) -> SpkiBytes {
        SpkiBytes(self.0.public_key_spki_der())
    }
}

impl DynSignatureAlgorithmIdentifier for BuilderKey<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.0.signature_algorithm_identifier())
    }
}

fn sign_certificate(signer: &dyn Signer, parts: TbsParts<'_>) -> Result<Vec<u8>, PkiError> {
    let build = |e: x509_cert::builder::Error| PkiError::Encoding(format!("certificate: {e}"));
    let validity = Validity::new(
        to_x509_time(parts.not_before)?,
        to_x509_time(parts.not_after)?,
    );
    let serial = X509Serial::new(parts.serial).map_err(PkiError::encoding)?;
    let profile = FixedProfile {
        issuer: parts.issuer,
        subject: parts.subject,
        extensions: parts.extensions,
    };
    let mut builder =
        CertificateBuilder::new(profile, serial, validity, parts.spki).map_err(build)?;
    let key = BuilderKey(signer);
    let tbs = builder.finalize(&key).map_err(build)?;
    let signature = signer.sign(&tbs)?;
    let bits = BitString::from_bytes(&signature).map_err(PkiError::encoding)?;
    let cert = builder.assemble(bits, &key).map_err(build)?;
    cert.to_der().map_err(PkiError::encoding)
}
