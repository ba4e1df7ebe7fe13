//! Certificate revocation lists signed by the [`LocalCa`].
//!
//! The registration office keeps the registry of certificate status; the CA
//! only signs what it is given. [`LocalCa::build_crl`] turns the core's
//! [`CrlRequest`] into an X.509 v2 CRL (RFC 5280 §5):
//!
//! - `issuer` is the CA certificate's subject, the very same encoded `Name`
//!   (relying parties match CRLs to certificates by comparing names);
//! - `signature` / `signatureAlgorithm` come from the CA's [`Signer`](crate::Signer);
//! - `thisUpdate` and `nextUpdate` are UTCTime through 2049 and GeneralizedTime
//!   from 2050 on (§5.1.2.4–5), truncated to whole seconds;
//! - `revokedCertificates` is sorted by serial number (numerically) and left out
//!   altogether when there is nothing to list, since an empty `SEQUENCE OF` is not
//!   allowed (§5.1.2.6); every entry carries a `reasonCode` entry extension, hold
//!   (`certificateHold`) included;
//! - `crlExtensions` are `cRLNumber` and `authorityKeyIdentifier` (the CA's subject
//!   key identifier), both non-critical (§5.2.1, §5.2.3).
//!
//! `removeFromCRL` belongs to delta CRLs only (§5.3.1) and is refused here, as
//! are duplicate serials and a `nextUpdate` not after `thisUpdate`.

use der::asn1::BitString;
use der::{DateTime, Encode};
use time::OffsetDateTime;
use utrust_core::domain::certificate::SerialNumber;
use utrust_core::domain::revocation::RevocationReason;
use utrust_core::ports::CrlRequest;
use x509_cert::Version;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::CrlNumber;
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::serial_number::SerialNumber as X509Serial;
use x509_cert::time::Time;

use crate::{LocalCa, PkiError, ext, oids};

impl LocalCa {
    /// Builds and signs an X.509 v2 CRL (RFC 5280 §5) for `request`. The result
    /// is DER; wrap it with [`to_pem`](crate::to_pem) and the label `X509 CRL`
    /// for PEM.
    ///
    /// - issuer: the CA certificate's subject, the same encoded `Name`;
    /// - signature algorithm: the CA signer's;
    /// - thisUpdate / nextUpdate / revocationDate: UTCTime through 2049,
    ///   GeneralizedTime from 2050, truncated to whole seconds;
    /// - revokedCertificates: sorted by serial (numerically), each with a
    ///   non-critical reasonCode (`certificateHold` included); the field is
    ///   omitted when there are no entries;
    /// - CRL extensions: cRLNumber = `request.number` and authorityKeyIdentifier
    ///   = the CA's subject key identifier, both non-critical.
    ///
    /// # Errors
    /// [`PkiError::InvalidValue`] for a `removeFromCRL` entry, a serial listed
    /// twice, a time before 1970 or beyond 9999, or a `nextUpdate` that is not
    /// after `thisUpdate`; [`PkiError::Signing`] when the signer fails;
    /// [`PkiError::Encoding`] on an internal encoder failure.
    pub fn build_crl(&self, request: &CrlRequest) -> Result<Vec<u8>, PkiError> {
        let this_update = crl_time("thisUpdate", request.this_update)?;
        let next_update = crl_time("nextUpdate", request.next_update)?;
        if next_update.to_unix_duration() <= this_update.to_unix_duration() {
            return Err(PkiError::InvalidValue {
                what: "nextUpdate".into(),
                problem: "not after thisUpdate".into(),
            });
        }

        let mut entries: Vec<(Vec<u8>, &utrust_core::ports::CrlEntry)> = request
            .entries
            .iter()
            .map(|e| (e.serial.to_bytes(), e))
            .collect();
        // Serials are positive and minimally encoded: numeric order is
        // (length, bytes).
        entries.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        if let Some(pair) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(PkiError::InvalidValue {
                what: "revokedCertificates".into(),
                problem: format!("serial {} listed twice", pair[0].1.serial.as_str()),
            });
        }
        let revoked = entries
            .into_iter()
            .map(|(_, e)| revoked_cert(&e.serial, e.revoked_at, e.reason))
            .collect::<Result<Vec<_>, _>>()?;

        let number = CrlNumber::try_from(request.number).map_err(PkiError::encoding)?;
        let crl_extensions = vec![
            ext::extension(oids::CRL_NUMBER, false, &number.0)?,
            ext::authority_key_identifier(&self.key_id)?,
        ];
        let tbs = TbsCertList {
            version: Version::V2,
            signature: self.signer.signature_algorithm_identifier(),
            issuer: self.subject.clone(),
            this_update,
            next_update: Some(next_update),
            revoked_certificates: if revoked.is_empty() {
                None
            } else {
                Some(revoked)
            },
            crl_extensions: Some(crl_extensions),
        };
        let tbs_der = tbs.to_der().map_err(PkiError::encoding)?;
        let signature = self.signer.sign(&tbs_der)?;
        let crl = CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: self.signer.signature_algorithm_identifier(),
            signature: BitString::from_bytes(&signature).map_err(PkiError::encoding)?,
        };
        crl.to_der().map_err(PkiError::encoding)
    }
}

fn revoked_cert(
    serial: &SerialNumber,
    revoked_at: OffsetDateTime,
    reason: RevocationReason,
) -> Result<RevokedCert, PkiError> {
    let reason_code = crl_reason(reason)?;
    Ok(RevokedCert {
        serial_number: X509Serial::new(&serial.to_bytes()).map_err(|e| PkiError::InvalidValue {
            what: "serial".into(),
            problem: format!("{}: {e}", serial.as_str()),
        })?,
        revocation_date: crl_time("revocationDate", revoked_at)?,
        crl_entry_extensions: Some(vec![ext::extension(oids::CRL_REASON, false, &reason_code)?]),
    })
}

/// The RFC 5280 reason; `removeFromCRL` is refused (delta CRLs only).
fn crl_reason(reason: RevocationReason) -> Result<CrlReason, PkiError> {
    Ok(match reason.code() {
        0 => CrlReason::Unspecified,
        1 => CrlReason::KeyCompromise,
        2 => CrlReason::CaCompromise,
        3 => CrlReason::AffiliationChanged,
        4 => CrlReason::Superseded,
        5 => CrlReason::CessationOfOperation,
        6 => CrlReason::CertificateHold,
        9 => CrlReason::PrivilegeWithdrawn,
        10 => CrlReason::AaCompromise,
        code => {
            return Err(PkiError::InvalidValue {
                what: "reasonCode".into(),
                problem: format!("{} ({code}) cannot appear in a base CRL", reason.as_str()),
            });
        }
    })
}

/// UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §5.1.2.4),
/// whole seconds.
fn crl_time(what: &str, t: OffsetDateTime) -> Result<Time, PkiError> {
    let invalid = |problem: String| PkiError::InvalidValue {
        what: what.into(),
        problem,
    };
    let secs =
        u64::try_from(t.unix_timestamp()).map_err(|_| invalid(format!("{t} is before 1970")))?;
    let dt = DateTime::from_unix_duration(core::time::Duration::from_secs(secs))
        .map_err(|e| invalid(format!("{t}: {e}")))?;
    // `From<DateTime>` picks UTCTime whenever the year allows it (≤ 2049).
    Ok(Time::from(dt))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn utc_time_through_2049_generalized_after() {
        let t = crl_time("t", datetime!(2049-12-31 23:59:59 UTC)).unwrap();
        assert!(matches!(t, Time::UtcTime(_)));
        assert_eq!(t.to_der().unwrap()[0], 0x17);
        let t = crl_time("t", datetime!(2050-01-01 00:00:00 UTC)).unwrap();
        assert!(matches!(t, Time::GeneralTime(_)));
        assert_eq!(t.to_der().unwrap()[0], 0x18);
    }

    #[test]
    fn subsecond_times_are_truncated() {
        let t = crl_time("t", datetime!(2030-05-06 07:08:09.999 UTC)).unwrap();
        assert_eq!(t.to_der().unwrap(), b"\x17\x0d300506070809Z");
    }

    #[test]
    fn before_1970_is_refused() {
        assert!(matches!(
            crl_time("t", datetime!(1969-12-31 23:59:59 UTC)),
            Err(PkiError::InvalidValue { .. })
        ));
    }

    #[test]
    fn reason_codes_are_enumerated() {
        for reason in RevocationReason::ALL {
            match crl_reason(reason) {
                Ok(r) => {
                    let der = ext::extension(oids::CRL_REASON, false, &r).unwrap();
                    assert_eq!(der.extn_value.as_bytes(), [0x0a, 0x01, reason.code()]);
                }
                Err(_) => assert_eq!(reason, RevocationReason::RemoveFromCrl),
            }
        }
    }
}
