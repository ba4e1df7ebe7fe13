//! Sealing of private keys for storage in a shared database.
//!
//! A sealed key is AES-256-GCM (*ring*) under a 256-bit key-encryption key (KEK)
//! that lives outside the database (an environment variable, a secrets file):
//!
//! ```text
//! sealed = version (1 octet, 0x01) ‖ nonce (12 octets) ‖ ciphertext ‖ tag (16 octets)
//! AAD    = version ‖ caller's aad
//! ```
//!
//! The nonce is drawn from [`SystemRandom`] for every seal; random 96-bit nonces
//! are safe for far more keys than a registration office will ever seal under one
//! KEK. The caller's `aad` binds the ciphertext to its context — pass e.g. the
//! row's identity, so a sealed key copied into another row does not open. The
//! version octet is authenticated too. A wrong KEK, a different AAD, a flipped bit
//! and a truncation all fail to open with [`PkiError::Unseal`]; AES-GCM cannot
//! tell a wrong key from tampering, so neither can we.
//!
//! ```
//! use utrust_pki::{open_key, parse_key_encryption_key, seal_key};
//!
//! # fn main() -> Result<(), utrust_pki::PkiError> {
//! let kek = parse_key_encryption_key(&"42".repeat(32))?;
//! let sealed = seal_key(&kek, b"PKCS#8 bytes", b"ca-key:1")?;
//! assert_eq!(open_key(&kek, &sealed, b"ca-key:1")?.as_slice(), b"PKCS#8 bytes");
//! assert!(open_key(&kek, &sealed, b"ca-key:2").is_err());
//! # Ok(())
//! # }
//! ```

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

use crate::PkiError;

/// The name of the sealing scheme, for storing next to sealed keys (so a later
/// scheme can be told apart): AES-256-GCM, format version 1.
pub const KEY_ENCRYPTION: &str = "aes-256-gcm-v1";

/// The format version octet that starts every sealed key.
const VERSION: u8 = 1;
/// Length of the GCM tag.
const TAG_LEN: usize = 16;
/// version ‖ nonce ‖ tag: the shortest sealed value (empty plaintext).
const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Why sealed bytes do not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsealError {
    /// Shorter than version, nonce and tag together.
    #[error("sealed key is truncated")]
    Truncated,
    /// The version octet is not one this build knows.
    #[error("unknown sealed key version {0}")]
    UnknownVersion(u8),
    /// Authentication failed: a wrong key-encryption key, a different AAD, or
    /// altered bytes.
    #[error("sealed key does not authenticate (wrong key, wrong context or tampered)")]
    Authentication,
}

fn aead_key(key_encryption_key: &[u8; 32]) -> Result<LessSafeKey, PkiError> {
    UnboundKey::new(&AES_256_GCM, key_encryption_key)
        .map(LessSafeKey::new)
        .map_err(|_| PkiError::Encoding("AES-256-GCM key setup failed".into()))
}

fn full_aad(aad: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + aad.len());
    v.push(VERSION);
    v.extend_from_slice(aad);
    v
}

/// Seals `plaintext` (a private key) under `key_encryption_key` with
/// AES-256-GCM, binding it to `aad` (pass the storage context, e.g. the row's
/// identity, so the sealed bytes do not open elsewhere).
///
/// The result is `0x01 (version) ‖ nonce (12 random octets) ‖ ciphertext ‖ tag
/// (16 octets)`; the authenticated data is `0x01 ‖ aad`. Store
/// [`KEY_ENCRYPTION`] next to it.
///
/// # Errors
/// [`PkiError::Random`] if no nonce can be drawn; [`PkiError::Encoding`] if
/// *ring* refuses to seal (a plaintext beyond GCM's size limit).
pub fn seal_key(
    key_encryption_key: &[u8; 32],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, PkiError> {
    let key = aead_key(key_encryption_key)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| PkiError::Random)?;
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    let mut in_out = Zeroizing::new(plaintext.to_vec());
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(full_aad(aad)),
        &mut *in_out,
    )
    .map_err(|_| PkiError::Encoding("AES-256-GCM sealing failed".into()))?;
    // Now ciphertext ‖ tag, no longer secret.
    out.extend_from_slice(&in_out);
    Ok(out)
}

/// Opens what [`seal_key`] sealed with the same key-encryption key and `aad`.
/// The plaintext is wiped from memory when the result is dropped.
///
/// # Errors
/// [`PkiError::Unseal`]: [`UnsealError::Truncated`],
/// [`UnsealError::UnknownVersion`], or [`UnsealError::Authentication`] for a wrong
/// key, a different `aad` or altered bytes.
pub fn open_key(
    key_encryption_key: &[u8; 32],
    sealed: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    let Some((&version, rest)) = sealed.split_first() else {
        return Err(PkiError::Unseal(UnsealError::Truncated));
    };
    if version != VERSION {
        return Err(PkiError::Unseal(UnsealError::UnknownVersion(version)));
    }
    if sealed.len() < OVERHEAD {
        return Err(PkiError::Unseal(UnsealError::Truncated));
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| PkiError::Unseal(UnsealError::Truncated))?;
    let key = aead_key(key_encryption_key)?;
    let mut in_out = Zeroizing::new(ciphertext.to_vec());
    let len = key
        .open_in_place(nonce, Aad::from(full_aad(aad)), &mut in_out)
        .map_err(|_| PkiError::Unseal(UnsealError::Authentication))?
        .len();
    in_out.truncate(len);
    Ok(in_out)
}

/// Reads a 256-bit key-encryption key from text: 64 hexadecimal digits, or
/// standard base64 (padding optional) of exactly 32 octets. Surrounding
/// whitespace is ignored. The error never repeats the text.
///
/// # Errors
/// [`PkiError::InvalidValue`] (what: `key-encryption key`) when the text is
/// neither form or does not decode to 32 octets.
pub fn parse_key_encryption_key(text: &str) -> Result<Zeroizing<[u8; 32]>, PkiError> {
    let text = text.trim().as_bytes();
    let mut key = Zeroizing::new([0u8; 32]);
    if text.len() == 64 && text.iter().all(u8::is_ascii_hexdigit) {
        for (out, pair) in key.iter_mut().zip(text.chunks_exact(2)) {
            *out = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
        }
        return Ok(key);
    }
    let mut decoded = Zeroizing::new(
        decode_base64(text)
            .ok_or_else(|| kek_error("expected 64 hex digits or base64 of 32 octets"))?,
    );
    if decoded.len() != 32 {
        let problem = format!("decodes to {} octets, expected 32", decoded.len());
        decoded.zeroize();
        return Err(kek_error(&problem));
    }
    key.copy_from_slice(&decoded);
    Ok(key)
}

fn kek_error(problem: &str) -> PkiError {
    PkiError::InvalidValue {
        what: "key-encryption key".into(),
        problem: problem.into(),
    }
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

fn base64_value(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Standard base64 (RFC 4648 §4), padding optional; `None` if malformed
/// (bad characters, a lone trailing sextet, non-zero padding bits).
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let body = match text {
        [rest @ .., b'=', b'='] | [rest @ .., b'='] if text.len().is_multiple_of(4) => rest,
        _ => text,
    };
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    for chunk in body.chunks(4) {
        let mut acc: u32 = 0;
        for &c in chunk {
            acc = (acc << 6) | base64_value(c)?;
        }
        let bytes = match chunk.len() {
            4 => 3,
            3 => {
                if acc & 0b11 != 0 {
                    return None;
                }
                acc >>= 2;
                2
            }
            _ => {
                if acc & 0b1111 != 0 {
                    return None;
                }
                acc >>= 4;
                1
            }
        };
        let be = acc.to_be_bytes();
        out.extend_from_slice(&be[4 - bytes..]);
        acc.zeroize();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    const KEK: [u8; 32] = [7u8; 32];
    const SECRET: &[u8] = b"-----BEGIN PRIVATE KEY----- not really";

    fn unseal_err(r: Result<Zeroizing<Vec<u8>>, PkiError>) -> UnsealError {
        match r {
            Err(PkiError::Unseal(e)) => e,
            other => panic!("expected an unseal error, got {other:?}"),
        }
    }

    #[test]
    fn round_trip() {
        for plaintext in [&b""[..], b"x", SECRET, &[0u8; 4096]] {
            let sealed = seal_key(&KEK, plaintext, b"row-1").unwrap();
            assert_eq!(sealed.len(), OVERHEAD + plaintext.len());
            assert_eq!(sealed[0], VERSION);
            assert_eq!(
                open_key(&KEK, &sealed, b"row-1").unwrap().as_slice(),
                plaintext
            );
        }
    }

    #[test]
    fn nonces_differ() {
        let a = seal_key(&KEK, SECRET, b"").unwrap();
        let b = seal_key(&KEK, SECRET, b"").unwrap();
        assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_key() {
        let sealed = seal_key(&KEK, SECRET, b"row-1").unwrap();
        let mut other = KEK;
        other[31] ^= 1;
        assert_eq!(
            unseal_err(open_key(&other, &sealed, b"row-1")),
            UnsealError::Authentication
        );
    }

    #[test]
    fn every_tampered_byte_is_detected() {
        let sealed = seal_key(&KEK, SECRET, b"row-1").unwrap();
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            let e = unseal_err(open_key(&KEK, &t, b"row-1"));
            if i == 0 {
                assert_eq!(e, UnsealError::UnknownVersion(VERSION ^ 1));
            } else {
                assert_eq!(e, UnsealError::Authentication, "byte {i}");
            }
        }
    }

    #[test]
    fn truncated() {
        let sealed = seal_key(&KEK, SECRET, b"row-1").unwrap();
        for len in 0..sealed.len() {
            let e = unseal_err(open_key(&KEK, &sealed[..len], b"row-1"));
            if len < OVERHEAD {
                assert_eq!(e, UnsealError::Truncated, "len {len}");
            } else {
                assert_eq!(e, UnsealError::Authentication, "len {len}");
            }
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(
            unseal_err(open_key(&KEK, &longer, b"row-1")),
            UnsealError::Authentication
        );
    }

    #[test]
    fn different_aad() {
        let sealed = seal_key(&KEK, SECRET, b"row-1").unwrap();
        for aad in [&b"row-2"[..], b"", b"row-1 "] {
            assert_eq!(
                unseal_err(open_key(&KEK, &sealed, aad)),
                UnsealError::Authentication
            );
        }
    }

    #[test]
    fn parse_hex_and_base64() {
        let hex: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
        let expected: [u8; 32] = core::array::from_fn(|i| i as u8);
        assert_eq!(*parse_key_encryption_key(&hex).unwrap(), expected);
        assert_eq!(
            *parse_key_encryption_key(&format!(" {}\n", hex.to_uppercase())).unwrap(),
            expected
        );
        // base64 of 00 01 .. 1f (python: base64.b64encode(bytes(range(32))))
        let b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        assert_eq!(*parse_key_encryption_key(b64).unwrap(), expected);
        assert_eq!(
            *parse_key_encryption_key(b64.trim_end_matches('=')).unwrap(),
            expected
        );
        let ones = "//////////////////////////////////////////8=";
        assert_eq!(*parse_key_encryption_key(ones).unwrap(), [0xff; 32]);
    }

    #[test]
    fn parse_rejects_other_text() {
        for bad in [
            "",
            "00",
            &"0".repeat(63),
            &"0".repeat(66),
            &"g".repeat(64),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", // 31 octets
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", // non-zero pad bits
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-_", // URL-safe alphabet
            "AAECAwQFBgcICQoLDA0ODxAREhMU FRYXGBkaGxwdHh8=",
        ] {
            match parse_key_encryption_key(bad) {
                Err(PkiError::InvalidValue { what, problem }) => {
                    assert_eq!(what, "key-encryption key");
                    assert!(bad.is_empty() || !problem.contains(bad), "{problem}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn base64_decoder_matches_known_vectors() {
        for (enc, dec) in [
            ("", &b""[..]),
            ("Zg==", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg==", b"foob"),
            ("Zm9vYmE=", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
            ("Zm9vYg", b"foob"),
        ] {
            assert_eq!(decode_base64(enc.as_bytes()).as_deref(), Some(dec), "{enc}");
        }
        for bad in ["Z", "Zg=", "Zh==", "Zm9vY", "Zm==Zm==", "=", "===="] {
            assert_eq!(decode_base64(bad.as_bytes()), None, "{bad}");
        }
    }
}
