//! PEM in and out.
//!
//! Requests arrive from browsers, `certreq.exe`, CryptoPro and OpenSSL, as PEM with
//! one of two labels or as bare DER; certificates and keys leave as PEM. These
//! helpers keep that text handling out of the ASN.1 code.

use crate::PkiError;

/// PEM label of a PKCS#10 request.
pub const CERTIFICATE_REQUEST: &str = "CERTIFICATE REQUEST";
/// The legacy label some tools (Netscape, `certreq`) write.
pub const NEW_CERTIFICATE_REQUEST: &str = "NEW CERTIFICATE REQUEST";
/// PEM label of a certificate.
pub const CERTIFICATE: &str = "CERTIFICATE";
/// PEM label of a PKCS#8 private key.
pub const PRIVATE_KEY: &str = "PRIVATE KEY";

/// Encodes DER as PEM with `label` (LF line endings, 64-column lines).
///
/// `label` must be a valid RFC 7468 label (use the constants of this module); for
/// an invalid label the result is empty.
///
/// ```
/// let pem = utrust_pki::to_pem("CERTIFICATE REQUEST", &[0x30, 0x00]);
/// assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
/// ```
pub fn to_pem(label: &str, der: &[u8]) -> String {
    // Only an invalid label can fail (documented above).
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap_or_default()
}

/// Returns the DER of `input`: decoded if it is PEM with one of `labels`,
/// as is if it looks like DER (starts with a SEQUENCE tag).
///
/// Whitespace around PEM and CRLF line endings are tolerated.
///
/// # Errors
/// [`PkiError::Malformed`] for bad PEM, an unexpected label, or input that is
/// neither PEM nor DER.
pub fn parse_pem_or_der(input: &[u8], labels: &[&str]) -> Result<Vec<u8>, PkiError> {
    let trimmed = input.trim_ascii();
    if trimmed.starts_with(b"-----BEGIN ") {
        // Windows tools write CRLF; the strict RFC 7468 decoder wants one style.
        // Zeroized: the text may be a private key.
        let mut text = zeroize::Zeroizing::new(
            trimmed
                .iter()
                .copied()
                .filter(|&b| b != b'\r')
                .collect::<Vec<u8>>(),
        );
        text.push(b'\n');
        let (label, der) = der::pem::decode_vec(&text).map_err(PkiError::malformed)?;
        if !labels.contains(&label) {
            return Err(PkiError::Malformed(format!(
                "unexpected PEM label {label:?}"
            )));
        }
        Ok(der)
    } else if input.first() == Some(&0x30) {
        Ok(input.to_vec())
    } else {
        Err(PkiError::Malformed("neither PEM nor DER".to_owned()))
    }
}
