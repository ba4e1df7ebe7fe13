//! [`Secret`]: a PIN or a secret answer held in memory only as long as needed.
//!
//! It prints as `***` in `Debug`, has no `Display` and no `Serialize`, and its
//! bytes are overwritten with zeros when it is dropped. Read it with
//! [`Secret::expose`] at the one place that needs the clear text (the token,
//! the password hasher).

use zeroize::Zeroize;

/// A secret string (PIN, secret answer), zeroised on drop.
///
/// ```
/// use utrust_core::domain::secret::Secret;
/// let pin = Secret::new("12345678");
/// assert_eq!(format!("{pin:?}"), "***");
/// assert_eq!(pin.expose(), "12345678");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret (the caller's copy should be dropped or zeroised).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The clear text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Number of characters.
    pub fn chars(&self) -> usize {
        self.0.chars().count()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::new("87654321");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.chars(), 8);
    }
}
