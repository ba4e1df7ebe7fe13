//! Validated Russian identifiers and other value types.
//!
//! Every type here can only hold a valid value: the constructors check length,
//! alphabet and check digit (see `shared/domain/identifiers.md`) and return an
//! [`IdentifierError`] naming the field at fault. Fields are private, so a value
//! that exists was validated.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {problem}")]
pub struct IdentifierError {
    /// The identifier (field) at fault, e.g. `"inn"`.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: IdentifierProblem,
}

/// The kind of defect found in an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierProblem {
    /// Wrong number of characters.
    #[error("expected {expected} characters, got {actual}")]
    Length {
        /// The expected length (or the first allowed length).
        expected: usize,
        /// The length received.
        actual: usize,
    },
    /// A character outside the allowed alphabet.
    #[error("character not allowed at position {position}")]
    Alphabet {
        /// Zero-based position of the first bad character.
        position: usize,
    },
    /// The check digit does not match.
    #[error("check digit does not match")]
    Checksum,
    /// A structural rule (prefix, region, shape) is broken.
    #[error("malformed value")]
    Format,
}

fn err(field: &'static str, problem: IdentifierProblem) -> IdentifierError {
    IdentifierError { field, problem }
}

/// Parses exactly `len` ASCII digits into their values.
fn digits<const N: usize>(field: &'static str, s: &str) -> Result<[u8; N], IdentifierError> {
    let bytes = s.as_bytes();
    if bytes.len() != N {
        return Err(err(
            field,
            IdentifierProblem::Length {
                expected: N,
                actual: s.chars().count(),
            },
        ));
    }
    let mut out = [0u8; N];
    for (i, b) in bytes.iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(err(field, IdentifierProblem::Alphabet { position: i }));
        }
        out[i] = b - b'0';
    }
    Ok(out)
}

fn weighted(d: &[u8], weights: &[u32]) -> u32 {
    d.iter().zip(weights).map(|(&d, &w)| u32::from(d) * w).sum()
}

/// The decimal value of a digit slice (at most 18 digits).
fn as_number(d: &[u8]) -> u64 {
    d.iter().fold(0u64, |acc, &x| acc * 10 + u64::from(x))
}

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident, $field:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = IdentifierError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl $name {
            /// The canonical text of the value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The field name used in errors.
            pub const FIELD: &'static str = $field;
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdentifierError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// INN of a natural person or sole proprietor: 12 digits with two check digits.
    ///
    /// ```
    /// use utrust_core::domain::identifiers::Inn;
    /// assert!(Inn::parse("500100732259").is_ok());
    /// assert!(Inn::parse("617547302703").is_err());
    /// ```
    Inn,
    "inn"
);

impl Inn {
    /// Validates a 12-digit personal INN.
    ///
    /// # Errors
    /// [`IdentifierError`] with field `inn` on a wrong length, a non-digit or a
    /// wrong check digit.
    pub fn parse(s: &str) -> Result<Self, IdentifierError> {
        let d = digits::<12>(Self::FIELD, s)?;
        let c11 = weighted(&d[..10], &[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) % 11 % 10;
        let c12 = weighted(&d[..11], &[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) % 11 % 10;
        if u32::from(d[10]) != c11 || u32::from(d[11]) != c12 {
            return Err(err(Self::FIELD, IdentifierProblem::Checksum));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// INN of a legal entity: 10 digits with one check digit.
    ///
    /// ```
    /// use utrust_core::domain::identifiers::InnLe;
    /// assert!(InnLe::parse("7707083893").is_ok());
    /// assert!(InnLe::parse("7707083894").is_err());
    /// ```
    InnLe,
    "inn_le"
);

impl InnLe {
    /// Validates a 10-digit legal-entity INN.
    ///
    /// # Errors
    /// [`IdentifierError`] with field `inn_le` on a wrong length, a non-digit or a
    /// wrong check digit.
    pub fn parse(s: &str) -> Result<Self, IdentifierError> {
        let d = digits::<10>(Self::FIELD, s)?;
        let c = weighted(&d[..9], &[2, 4, 10, 3, 5, 9, 4, 6, 8]) % 11 % 10;
        if u32::from(d[9]) != c {
            return Err(err(Self::FIELD, IdentifierProblem::Checksum));
        }
        Ok(Self(s.to_owned()))
    }
}

/// Either kind of INN, as found on an organization or an account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AnyInn {
    /// A legal entity's 10-digit INN.
    LegalEntity(InnLe),
    /// A person's or sole proprietor's 12-digit INN.
    Person(Inn),
}

impl AnyInn {
    /// Accepts a 10- or 12-digit INN.
    ///
    /// # Errors
    /// [`IdentifierError`] with field `inn` when neither form is valid.
    pub fn parse(s: &str) -> Result<Self, IdentifierError> {
        match s.len() {
            10 => InnLe::parse(s)
                .map(Self::LegalEntity)
                .map_err(|e| IdentifierError {
                    field: Inn::FIELD,
                    ..e
                }),
            12 => Inn::parse(s).map(Self::Person),
            n => Err(err(
                Inn::FIELD,
                IdentifierProblem::Length {
                    expected: 10,
                    actual: n,
                },
            )),
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        match self {
            Self::LegalEntity(i) => i.as_str(),
            Self::Person(i) => i.as_str(),
        }
    }
}

impl TryFrom<String> for AnyInn {
    type Error = IdentifierError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AnyInn> for String {
    fn from(v: AnyInn) -> String {
        v.as_str().to_owned()
    }
}

impl fmt::Display for AnyInn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

string_newtype!(
    /// KPP (tax registration reason code): `^\d{4}[0-9A-Z]{2}\d{3}$`.
    ///
    /// ```
    /// use utrust_core::domain::identifiers::Kpp;
    /// assert!(Kpp::parse("7701AB001").is_ok());
    /// assert!(Kpp::parse("7701ab001").is_err());
    /// ```
    Kpp,
    "kpp"
);

impl Kpp {
    /// Validates a KPP.
    ///
    /// # Errors
    /// [`IdentifierError`] with field `kpp` on a wrong length or character.
    pub fn parse(s: &str) -> Result<Self, IdentifierError> {
        let b = s.as_bytes();
        if b.len() != 9 {
            return Err(err(
                Self::FIELD,
                IdentifierProblem::Length {
                    expected: 9,
                    actual: s.chars().count(),
                },
            ));
        }
        for (i, c) in b.iter().enumerate() {
            let ok = match i {
                4 | 5 => c.is_ascii_digit() || c.is_ascii_uppercase(),
                _ => c.is_ascii_digit(),
            };
            if !ok {
                return Err(err(
                    Self::FIELD,
                    IdentifierProblem::Alphabet { position: i },
                ));
            }
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// OGRN (primary state registration number of a legal entity): 13 digits.
    ///
    /// ```
    /// use utrust_core::domain::identifiers::Ogrn;
    /// assert!(Ogrn::parse("1027700132195").is_ok());
    /// assert!(Ogrn::parse("1027700132196").is_err());
    /// ```
    Ogrn,
    "ogrn"
);

impl Ogrn {
    /// Validates an OGRN: first digit 1 or 5 (4 for some state bodies), check digit
    /// = (first 12 digits mod 11) mod 10.
    ///
    /// # Errors
    /// [`IdentifierError`] with field `ogrn`.
    pub fn parse(s: &str) -> Result<Self, IdentifierError> {
        let d = digits::<13>(Self::FIELD, s)?;
        if !matches!(d[0], 1 | 5 | 4) {
            return Err(err(Self::FIELD, IdentifierProblem::Format));
        }
        if as_number(&d[..12]) % 11 % 10 != u64::from(d[12]) {
            return Err(err(Self::FIELD, IdentifierProblem::Checksum));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// OGRNIP (registration number of a sole proprietor): 15 digits starting with 3.
    ///
    /// ```
    /// use utrust_core::domain::identifiers::Ogrnip;
    /// assert!(Ogrnip::parse("304770200100005").is_ok());
    /// assert!(Ogrnip::parse("313242342342332").is_err());
    /// ```
    Ogrnip,
    "ogrnip"
);

impl Ogrnip {
    /// Validates an OGRNIP: first digit 3, check digit = (first 14 mod 13) mod 10.
    ///
    /// # Errors
    /// [`IdentifierError`] with field `ogrnip`.
    pub fn parse(s: &str) -> Result<Self, IdentifierError> {
        let d = digits::<15>(Self::FIELD, s)?;
        if d[0] != 3 {
            return Err(err(Self::FIELD, IdentifierProblem::Format));
        }
        if as_number(&d[..14]) % 13 % 10 != u64::from(d[14]) {
            return Err(err(Self::FIELD, IdentifierProblem::Checksum));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// SNILS (insurance account number): 11 digits, stored without separators.
    ///
    /// Accepts `11223344595` and the display form `112-233-445 95`.
    ///
    /// ```
    /// use utrust_core::domain::identifiers::Snils;
    /// assert_eq!(Snils::parse("112-233-445 95").unwrap().as_str(), "11223344595");
    /// assert!(Snils::parse("15278361414").is_err());
    /// ```
    Snils,
    "snils"
);

impl Snils {
    /// Validates a SNILS. Numbers up to 001-001-998 carry no check digit.
    ///
    /// # Errors
    /// [`IdentifierError`] with field `snils`.
    pub fn parse(s: &str) -> Result<Self, IdentifierError> {
        let compact: String = if s.len() == 14 && s.as_bytes().get(3) == Some(&b'-') {
            // Display form XXX-XXX-XXX YY.
            let b = s.as_bytes();
            if b[7] != b'-' || b[11] != b' ' {
                return Err(err(Self::FIELD, IdentifierProblem::Format));
            }
            s.chars().filter(|c| *c != '-' && *c != ' ').collect()
        } else {
            s.to_owned()
        };
        let d = digits::<11>(Self::FIELD, &compact)?;
        let number = as_number(&d[..9]);
        if number > 1_001_998 {
            let sum = weighted(&d[..9], &[9, 8, 7, 6, 5, 4, 3, 2, 1]);
            let check = match sum {
                s if s < 100 => s,
                100 | 101 => 0,
                s => {
                    let r = s % 101;
                    if r == 100 { 0 } else { r }
                }
            };
            if u64::from(check) != as_number(&d[9..]) {
                return Err(err(Self::FIELD, IdentifierProblem::Checksum));
            }
        }
        Ok(Self(compact))
    }

    /// The display form `XXX-XXX-XXX YY`.
    pub fn display_form(&self) -> String {
        let s = &self.0;
        format!("{}-{}-{} {}", &s[0..3], &s[3..6], &s[6..9], &s[9..11])
    }
}

/// A Russian internal passport: series (4 digits), number (6 digits), issuer code
/// `NNN-NNN`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PassportParts")]
pub struct PassportRf {
    series: String,
    number: String,
    issuer_code: String,
}

/// The unvalidated parts of a passport, as read from storage.
#[derive(Deserialize)]
struct PassportParts {
    series: String,
    number: String,
    issuer_code: String,
}

impl TryFrom<PassportParts> for PassportRf {
    type Error = IdentifierError;
    fn try_from(p: PassportParts) -> Result<Self, Self::Error> {
        Self::parse(&p.series, &p.number, &p.issuer_code)
    }
}

impl PassportRf {
    /// Field name used in errors.
    pub const FIELD: &'static str = "passport";

    /// Validates the parts of a passport.
    ///
    /// # Errors
    /// [`IdentifierError`] with field `passport.series`, `passport.number` or
    /// `passport.issuer_code`.
    pub fn parse(series: &str, number: &str, issuer_code: &str) -> Result<Self, IdentifierError> {
        let series_compact: String = series.chars().filter(|c| *c != ' ').collect();
        digits::<4>("passport.series", &series_compact)?;
        digits::<6>("passport.number", number)?;
        let ic = issuer_code.as_bytes();
        if ic.len() != 7 || ic[3] != b'-' {
            return Err(err("passport.issuer_code", IdentifierProblem::Format));
        }
        digits::<3>("passport.issuer_code", &issuer_code[..3])?;
        digits::<3>("passport.issuer_code", &issuer_code[4..])?;
        Ok(Self {
            series: series_compact,
            number: number.to_owned(),
            issuer_code: issuer_code.to_owned(),
        })
    }

    /// The 4-digit series.
    pub fn series(&self) -> &str {
        &self.series
    }
    /// The 6-digit number.
    pub fn number(&self) -> &str {
        &self.number
    }
    /// The issuing unit's code `NNN-NNN`.
    pub fn issuer_code(&self) -> &str {
        &self.issuer_code
    }
}

string_newtype!(
    /// An object identifier in dotted form, e.g. `1.2.643.100.113.1`.
    ///
    /// ```
    /// use utrust_core::domain::identifiers::Oid;
    /// assert!(Oid::parse("1.3.6.1.5.5.7.3.2").is_ok());
    /// assert!(Oid::parse("3.1").is_err());
    /// assert!(Oid::parse("1.02").is_err());
    /// ```
    Oid,
    "oid"
);

impl Oid {
    /// Validates a dotted OID: at least two arcs, first arc 0–2, second arc below 40
    /// under arcs 0 and 1, decimal arcs without leading zeros.
    ///
    /// # Errors
    /// [`IdentifierError`] with field `oid`.
    pub fn parse(s: &str) -> Result<Self, IdentifierError> {
        let f = Self::FIELD;
        let mut arcs = 0usize;
        let mut first = 0u64;
        let mut pos = 0usize;
        for arc in s.split('.') {
            if arc.is_empty() || arc.len() > 19 || (arc.len() > 1 && arc.starts_with('0')) {
                return Err(err(f, IdentifierProblem::Format));
            }
            if let Some(i) = arc.bytes().position(|b| !b.is_ascii_digit()) {
                return Err(err(f, IdentifierProblem::Alphabet { position: pos + i }));
            }
            let v: u64 = arc.parse().map_err(|_| err(f, IdentifierProblem::Format))?;
            match arcs {
                0 if v > 2 => return Err(err(f, IdentifierProblem::Format)),
                0 => first = v,
                1 if first < 2 && v >= 40 => return Err(err(f, IdentifierProblem::Format)),
                _ => {}
            }
            arcs += 1;
            pos += arc.len() + 1;
        }
        if arcs < 2 {
            return Err(err(f, IdentifierProblem::Format));
        }
        Ok(Self(s.to_owned()))
    }

    /// The arcs as numbers.
    pub fn arcs(&self) -> impl Iterator<Item = u64> + '_ {
        // Validated at construction: every arc parses.
        self.0.split('.').filter_map(|a| a.parse().ok())
    }
}

string_newtype!(
    /// An e-mail address (a pragmatic check: one `@`, non-empty parts, ASCII,
    /// a dot in the domain, no spaces). Certificates carry it as IA5String.
    ///
    /// ```
    /// use utrust_core::domain::identifiers::Email;
    /// assert!(Email::parse("ivanov@example.ru").is_ok());
    /// assert!(Email::parse("ivanov@").is_err());
    /// ```
    Email,
    "email"
);

impl Email {
    /// Validates an e-mail address.
    ///
    /// # Errors
    /// [`IdentifierError`] with field `email`.
    pub fn parse(s: &str) -> Result<Self, IdentifierError> {
        let f = Self::FIELD;
        if s.len() > 254 {
            return Err(err(
                f,
                IdentifierProblem::Length {
                    expected: 254,
                    actual: s.len(),
                },
            ));
        }
        if let Some(i) = s
            .bytes()
            .position(|b| !b.is_ascii_graphic() || b == b'<' || b == b'>' || b == b',')
        {
            return Err(err(f, IdentifierProblem::Alphabet { position: i }));
        }
        let mut parts = s.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err(f, IdentifierProblem::Format));
        };
        if local.is_empty()
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(err(f, IdentifierProblem::Format));
        }
        Ok(Self(s.to_owned()))
    }
}

/// A Russian region code (01–89, 90–95 as listed in `identifiers.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(u8);

impl TryFrom<String> for RegionCode {
    type Error = IdentifierError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RegionCode> for String {
    fn from(v: RegionCode) -> String {
        v.to_string()
    }
}

impl RegionCode {
    /// Validates a two-digit region code.
    ///
    /// # Errors
    /// [`IdentifierError`] with field `region`.
    pub fn parse(s: &str) -> Result<Self, IdentifierError> {
        let d = digits::<2>("region", s)?;
        let v = d[0] * 10 + d[1];
        if v == 0 || v > 95 {
            return Err(err("region", IdentifierProblem::Format));
        }
        Ok(Self(v))
    }

    /// The numeric code.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_from_identifiers_md() {
        for v in ["7707083893", "7802668116"] {
            assert!(InnLe::parse(v).is_ok(), "{v}");
        }
        for v in ["500100732259", "561100409545"] {
            assert!(Inn::parse(v).is_ok(), "{v}");
        }
        assert_eq!(
            InnLe::parse("7707083894").map_err(|e| e.problem),
            Err(IdentifierProblem::Checksum)
        );
        assert_eq!(
            Inn::parse("617547302703").map_err(|e| e.problem),
            Err(IdentifierProblem::Checksum)
        );
        for v in [
            "1027700132195",
            "1053600591197",
            "4057910142110",
            "1167746840843",
        ] {
            assert!(Ogrn::parse(v).is_ok(), "{v}");
        }
        for v in ["309565808600188", "304770200100005"] {
            assert!(Ogrnip::parse(v).is_ok(), "{v}");
        }
        assert!(Ogrnip::parse("313242342342332").is_err());
        for v in ["11223344595", "64270954807"] {
            assert!(Snils::parse(v).is_ok(), "{v}");
        }
        assert_eq!(
            Snils::parse("15278361414").map_err(|e| e.problem),
            Err(IdentifierProblem::Checksum)
        );
        assert!(Kpp::parse("770101001").is_ok());
        assert!(Kpp::parse("7701AB001").is_ok());
        assert!(Kpp::parse("7701ab001").is_err());
        assert!(Kpp::parse("77010100").is_err());
    }

    #[test]
    fn errors_name_the_field() {
        let e = Snils::parse("123").err();
        assert_eq!(e.map(|e| e.field), Some("snils"));
        let e = AnyInn::parse("7707083894").err();
        assert_eq!(e.map(|e| e.field), Some("inn"));
        let e = PassportRf::parse("4510", "12345", "770-001").err();
        assert_eq!(e.map(|e| e.field), Some("passport.number"));
    }

    #[test]
    fn snils_display_form_round_trips() {
        let s = Snils::parse("112-233-445 95").ok();
        assert_eq!(s.as_ref().map(Snils::as_str), Some("11223344595"));
        assert_eq!(
            s.map(|s| s.display_form()).as_deref(),
            Some("112-233-445 95")
        );
    }

    #[test]
    fn small_snils_are_not_checked() {
        assert!(Snils::parse("00100199800").is_ok());
    }
}

#[cfg(test)]
mod properties {
    //! Property tests: for any digit string, a parser accepts exactly the values
    //! whose check digits follow the rules (computed here independently, in the
    //! plain form of `identifiers.md`), and any change of one check digit or of the
    //! length is refused.
    use super::*;
    use proptest::prelude::*;

    fn digits_of(s: &str) -> Vec<u32> {
        s.bytes().map(|b| u32::from(b - b'0')).collect()
    }

    fn inn10_check(body: &str) -> u32 {
        let w = [2, 4, 10, 3, 5, 9, 4, 6, 8];
        digits_of(body)
            .iter()
            .zip(w)
            .map(|(d, w)| d * w)
            .sum::<u32>()
            % 11
            % 10
    }

    fn inn12_checks(body: &str) -> (u32, u32) {
        let d = digits_of(body);
        let w11 = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
        let c11 = d.iter().zip(w11).map(|(d, w)| d * w).sum::<u32>() % 11 % 10;
        let mut d2 = d.clone();
        d2.push(c11);
        let w12 = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
        let c12 = d2.iter().zip(w12).map(|(d, w)| d * w).sum::<u32>() % 11 % 10;
        (c11, c12)
    }

    fn snils_check(body: &str) -> u32 {
        let s: u32 = digits_of(body)
            .iter()
            .zip((1..=9).rev())
            .map(|(d, w)| d * w)
            .sum();
        let r = if s < 100 {
            s
        } else if s <= 101 {
            0
        } else {
            s % 101
        };
        if r == 100 { 0 } else { r }
    }

    fn bump(c: u32) -> u32 {
        (c + 1) % 10
    }

    proptest! {
        #[test]
        fn inn_le(body in "[0-9]{9}") {
            let c = inn10_check(&body);
            let v1 = format!("{body}{c}");
            prop_assert!(InnLe::parse(&v1).is_ok());
            let wrong = format!("{body}{}", bump(c));
            prop_assert_eq!(InnLe::parse(&wrong).map_err(|e| e.problem), Err(IdentifierProblem::Checksum));
            prop_assert!(InnLe::parse(&body).is_err());
        }

        #[test]
        fn inn_person(body in "[0-9]{10}") {
            let (c11, c12) = inn12_checks(&body);
            let v2 = format!("{body}{c11}{c12}");
            prop_assert!(Inn::parse(&v2).is_ok());
            let v3 = format!("{body}{c11}{}", bump(c12));
            prop_assert!(Inn::parse(&v3).is_err());
            let v4 = format!("{body}{}{c12}", bump(c11));
            prop_assert!(Inn::parse(&v4).is_err());
            let v5 = format!("{body}{c11}");
            prop_assert!(Inn::parse(&v5).is_err());
        }

        #[test]
        fn ogrn(first in prop::sample::select(vec!['1', '5']), rest in "[0-9]{11}") {
            let body = format!("{first}{rest}");
            let n: u64 = body.parse().unwrap_or(0);
            let c = n % 11 % 10;
            let v6 = format!("{body}{c}");
            prop_assert!(Ogrn::parse(&v6).is_ok());
            let v7 = format!("{body}{}", (c + 1) % 10);
            prop_assert!(Ogrn::parse(&v7).is_err());
            let v8 = format!("{body}{c}0");
            prop_assert!(Ogrn::parse(&v8).is_err());
        }

        #[test]
        fn ogrnip(rest in "[0-9]{13}") {
            let body = format!("3{rest}");
            let n: u64 = body.parse().unwrap_or(0);
            let c = n % 13 % 10;
            let v9 = format!("{body}{c}");
            prop_assert!(Ogrnip::parse(&v9).is_ok());
            let v10 = format!("{body}{}", (c + 1) % 10);
            prop_assert!(Ogrnip::parse(&v10).is_err());
            let v11 = format!("4{rest}{c}");
            prop_assert!(Ogrnip::parse(&v11).is_err());
        }

        #[test]
        fn snils(body in "[0-9]{9}") {
            prop_assume!(body.as_str() > "001001998");
            let c = snils_check(&body);
            let good = format!("{body}{c:02}");
            prop_assert!(Snils::parse(&good).is_ok());
            let wrong = format!("{body}{:02}", (c + 1) % 100);
            prop_assert!(Snils::parse(&wrong).is_err());
        }

        #[test]
        fn non_digits_are_refused(s in "[0-9]{4}[a-zA-Z ][0-9]{5}") {
            prop_assert!(InnLe::parse(&s).is_err());
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,24}") {
            let _ = Inn::parse(&s);
            let _ = InnLe::parse(&s);
            let _ = AnyInn::parse(&s);
            let _ = Kpp::parse(&s);
            let _ = Ogrn::parse(&s);
            let _ = Ogrnip::parse(&s);
            let _ = Snils::parse(&s);
            let _ = Oid::parse(&s);
            let _ = Email::parse(&s);
            let _ = RegionCode::parse(&s);
            let _ = PassportRf::parse(&s, &s, &s);
        }
    }
}
