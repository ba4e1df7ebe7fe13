//! [`Pin`]: a PIN that never prints and is wiped when dropped.

use core::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};

use crate::DeviceError;

/// A user or SO PIN (or any token secret).
///
/// Held in a [`secrecy::SecretString`]: the memory is zeroed on drop, `Debug`
/// prints `Pin([REDACTED])`, and there is no `Display`. Read it only with
/// [`Pin::expose_secret`], at the point where it is handed to a device or shown
/// once to its owner.
#[derive(Clone)]
pub struct Pin(SecretString);

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin([REDACTED])")
    }
}

impl Pin {
    /// Wraps a PIN.
    pub fn new(pin: impl Into<String>) -> Self {
        Self(SecretString::from(pin.into()))
    }

    /// A random PIN of `len` characters from `alphabet` (e.g. `"0123456789"`),
    /// drawn without modulo bias from the system random number generator.
    ///
    /// # Errors
    /// [`DeviceError::Unsupported`] for an empty alphabet, a zero length or an
    /// alphabet of more than 256 characters; [`DeviceError::Device`] if the
    /// generator fails.
    pub fn random(len: usize, alphabet: &str) -> Result<Self, DeviceError> {
        let chars: Vec<char> = alphabet.chars().collect();
        if chars.is_empty() || chars.len() > 256 || len == 0 {
            return Err(DeviceError::Unsupported(
                "random PIN: need a length > 0 and an alphabet of 1..=256 characters".into(),
            ));
        }
        let rng = SystemRandom::new();
        let n = chars.len();
        // Largest multiple of n that fits in a byte: reject above it (no bias).
        let limit = 256 - (256 % n);
        let mut out = String::with_capacity(len);
        let mut buf = zeroize::Zeroizing::new([0u8; 64]);
        while out.chars().count() < len {
            rng.fill(buf.as_mut())
                .map_err(|_| DeviceError::device("random", "system RNG failed"))?;
            for &b in buf.iter() {
                if usize::from(b) < limit {
                    if let Some(c) = chars.get(usize::from(b) % n) {
                        out.push(*c);
                    }
                    if out.chars().count() == len {
                        break;
                    }
                }
            }
        }
        Ok(Self::new(out))
    }

    /// A random PIN of `len` decimal digits.
    ///
    /// # Errors
    /// As [`Pin::random`].
    pub fn random_digits(len: usize) -> Result<Self, DeviceError> {
        Self::random(len, "0123456789")
    }

    /// The PIN text. Hand it to a device or show it once; never log it.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The PIN length in characters.
    pub fn len(&self) -> usize {
        self.0.expose_secret().chars().count()
    }

    /// Whether the PIN is empty.
    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }

    pub(crate) fn auth(&self) -> cryptoki::types::AuthPin {
        cryptoki::types::AuthPin::from(self.0.expose_secret().to_owned())
    }
}

impl From<&str> for Pin {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Pin {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}
