//! [`AtrTable`]: which device type an ATR belongs to.
//!
//! The table is configuration: built in code, or parsed from JSON
//! (`{"3B 95 …": "vicc"}` or `[{"atr": "3B 95 …", "device_type": "vicc"}]`) or
//! from TOML-style lines (`"3B 95 13 81 01 80 73 FF 01 00 0B" = "vicc"`). A
//! pattern byte `??` (or `XX`) matches any byte. The first matching entry wins.

use crate::DeviceError;

/// One pattern byte: a value or a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternByte {
    Exact(u8),
    Any,
}

/// One entry of an [`AtrTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtrEntry {
    pattern: Vec<PatternByte>,
    /// The device type (e.g. `rutoken-ecp`).
    pub device_type: String,
}

impl AtrEntry {
    /// An entry from a hex pattern (spaces, colons optional; `??`/`XX` wildcards).
    ///
    /// # Errors
    /// [`DeviceError::Unsupported`] for a malformed pattern.
    pub fn new(pattern: &str, device_type: impl Into<String>) -> Result<Self, DeviceError> {
        Ok(Self {
            pattern: parse_pattern(pattern)?,
            device_type: device_type.into(),
        })
    }

    /// Whether `atr` matches (same length, every non-wildcard byte equal).
    pub fn matches(&self, atr: &[u8]) -> bool {
        self.pattern.len() == atr.len()
            && self.pattern.iter().zip(atr).all(|(p, b)| match p {
                PatternByte::Exact(v) => v == b,
                PatternByte::Any => true,
            })
    }
}

/// ATR → device type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AtrTable {
    entries: Vec<AtrEntry>,
}

/// ATR of the vsmartcard `vicc` virtual card (tests).
pub const VICC_ATR: &str = "3B 95 13 81 01 80 73 FF 01 00 0B";

/// The built-in entries: the vicc test card and Rutoken ECP/DS models.
pub const BUILTIN_ATRS: &[(&str, &str)] = &[
    (VICC_ATR, "vsmartcard-vicc"),
    (
        "3B 8B 01 52 75 74 6F 6B 65 6E 20 45 43 50 A0",
        "rutoken-ecp",
    ),
    ("3B 8B 01 52 75 74 6F 6B 65 6E 20 44 53 20 C1", "rutoken-ds"),
    (
        "3B 9C 96 00 52 75 74 6F 6B 65 6E 45 43 50 73 63",
        "rutoken-ecp-sc",
    ),
    (
        "3B 9C 94 80 11 40 52 75 74 6F 6B 65 6E 45 43 50 73 63 C3",
        "rutoken-ecp-sc",
    ),
];

impl AtrTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in table ([`BUILTIN_ATRS`]).
    pub fn builtin() -> Self {
        let mut t = Self::new();
        for (atr, ty) in BUILTIN_ATRS {
            if let Ok(e) = AtrEntry::new(atr, *ty) {
                t.entries.push(e);
            }
        }
        t
    }

    /// Adds an entry (after the existing ones).
    ///
    /// # Errors
    /// As [`AtrEntry::new`].
    pub fn insert(&mut self, pattern: &str, device_type: &str) -> Result<(), DeviceError> {
        self.entries.push(AtrEntry::new(pattern, device_type)?);
        Ok(())
    }

    /// Appends every entry of `other` after this table's.
    pub fn extend(&mut self, other: AtrTable) {
        self.entries.extend(other.entries);
    }

    /// The entries in match order.
    pub fn entries(&self) -> &[AtrEntry] {
        &self.entries
    }

    /// The device type of `atr`, if an entry matches.
    pub fn device_type(&self, atr: &[u8]) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.matches(atr))
            .map(|e| e.device_type.as_str())
    }

    /// Parses a table from JSON (an object `{pattern: type}` or an array of
    /// `{"atr", "device_type"}`) or TOML-style `"pattern" = "type"` lines (`#`
    /// comments, blank lines and `[section]` headers ignored).
    ///
    /// # Errors
    /// [`DeviceError::Unsupported`] naming the bad line or value.
    pub fn parse(text: &str) -> Result<Self, DeviceError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            return Self::from_json(text);
        }
        if trimmed.starts_with('[') && serde_json::from_str::<serde_json::Value>(text).is_ok() {
            return Self::from_json(text);
        }
        let mut t = Self::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
                continue;
            }
            let bad = || DeviceError::Unsupported(format!("ATR table line {}: {line}", n + 1));
            let (k, v) = line.split_once('=').ok_or_else(bad)?;
            let k = unquote(k.trim()).ok_or_else(bad)?;
            let v = unquote(v.trim()).ok_or_else(bad)?;
            t.insert(k, v)?;
        }
        Ok(t)
    }

    /// Parses the JSON forms of [`AtrTable::parse`].
    ///
    /// # Errors
    /// [`DeviceError::Unsupported`].
    pub fn from_json(text: &str) -> Result<Self, DeviceError> {
        let bad = |m: String| DeviceError::Unsupported(format!("ATR table JSON: {m}"));
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut t = Self::new();
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let ty = v
                        .as_str()
                        .ok_or_else(|| bad(format!("{k}: not a string")))?;
                    t.insert(&k, ty)?;
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    let atr = item.get("atr").and_then(|x| x.as_str());
                    let ty = item.get("device_type").and_then(|x| x.as_str());
                    match (atr, ty) {
                        (Some(a), Some(d)) => t.insert(a, d)?,
                        _ => return Err(bad(format!("entry without atr/device_type: {item}"))),
                    }
                }
            }
            _ => return Err(bad("expected an object or an array".into())),
        }
        Ok(t)
    }
}

fn unquote(s: &str) -> Option<&str> {
    let s = s.split(" #").next().unwrap_or(s).trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .or(Some(s).filter(|x| !x.is_empty() && !x.contains('"')))
}

fn parse_pattern(p: &str) -> Result<Vec<PatternByte>, DeviceError> {
    let digits: String = p
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && *c != '-')
        .collect();
    let bad = || DeviceError::Unsupported(format!("bad ATR pattern {p:?}"));
    if digits.is_empty() || !digits.len().is_multiple_of(2) || digits.len() > 66 {
        return Err(bad());
    }
    let chars: Vec<char> = digits.chars().collect();
    chars
        .chunks(2)
        .map(|pair| match pair {
            ['?', '?'] | ['X', 'X'] | ['x', 'x'] => Ok(PatternByte::Any),
            [a, b] => {
                let hi = a.to_digit(16).ok_or_else(bad)?;
                let lo = b.to_digit(16).ok_or_else(bad)?;
                u8::try_from(hi * 16 + lo)
                    .map(PatternByte::Exact)
                    .map_err(|_| bad())
            }
            _ => Err(bad()),
        })
        .collect()
}

/// An ATR as upper-case hex bytes separated by spaces (`3B 95 13 …`).
pub fn atr_hex(atr: &[u8]) -> String {
    atr.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses an ATR written as hex (spaces or colons allowed, no wildcards).
///
/// # Errors
/// [`DeviceError::Unsupported`] for malformed hex.
pub fn parse_atr(hex: &str) -> Result<Vec<u8>, DeviceError> {
    parse_pattern(hex)?
        .into_iter()
        .map(|b| match b {
            PatternByte::Exact(v) => Ok(v),
            PatternByte::Any => Err(DeviceError::Unsupported(format!("wildcard in ATR {hex:?}"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_maps_vicc_and_rutoken() {
        let t = AtrTable::builtin();
        let vicc = parse_atr(VICC_ATR).unwrap_or_default();
        assert_eq!(t.device_type(&vicc), Some("vsmartcard-vicc"));
        let ecp = parse_atr("3B8B015275746F6B656E20454350A0").unwrap_or_default();
        assert_eq!(t.device_type(&ecp), Some("rutoken-ecp"));
        assert_eq!(t.device_type(&[0x3B, 0x00]), None);
        assert_eq!(atr_hex(&vicc), VICC_ATR);
    }

    #[test]
    fn parses_toml_lines_and_json() {
        let toml = "# readers\n[atr]\n\"3B 95 13 81 01 80 73 FF 01 00 ??\" = \"virtual\"\n'3B:02:14:50' = \"tiny\"\n";
        let t = AtrTable::parse(toml).unwrap_or_default();
        assert_eq!(t.entries().len(), 2);
        let vicc = parse_atr(VICC_ATR).unwrap_or_default();
        assert_eq!(t.device_type(&vicc), Some("virtual"));
        assert_eq!(t.device_type(&[0x3B, 0x02, 0x14, 0x50]), Some("tiny"));

        let j = AtrTable::parse(r#"{"3B 02 14 50": "tiny"}"#).unwrap_or_default();
        assert_eq!(j.device_type(&[0x3B, 0x02, 0x14, 0x50]), Some("tiny"));
        let a =
            AtrTable::parse(r#"[{"atr": "3B0214XX", "device_type": "any"}]"#).unwrap_or_default();
        assert_eq!(a.device_type(&[0x3B, 0x02, 0x14, 0x99]), Some("any"));

        assert!(AtrTable::parse("\"3B 0\" = \"x\"").is_err());
        assert!(AtrTable::parse("no equals sign").is_err());
        assert!(AtrTable::parse("[1, 2]").is_err());
    }
}
