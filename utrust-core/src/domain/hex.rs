//! Lowercase hexadecimal: how certificate serials, token key ids, digests and
//! token hashes are written everywhere in utrust (one encoder for all of them).
//!
//! ```
//! use utrust_core::domain::hex;
//! assert_eq!(hex::encode(&[0x00, 0x7f, 0xff]), "007fff");
//! assert_eq!(hex::decode("007fff"), Some(vec![0x00, 0x7f, 0xff]));
//! ```

use core::fmt::Write as _;

/// `bytes` as lowercase hex, two digits per byte.
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The bytes of an even-length hex string (either case); `None` for anything
/// else.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_round_trip_through_hex() {
        let id = vec![0x00, 0x7f, 0xff, 0x10];
        assert_eq!(encode(&id), "007fff10");
        assert_eq!(decode("007fff10"), Some(id));
        assert_eq!(decode("0g"), None);
        assert_eq!(decode("abc"), None);
    }
}
