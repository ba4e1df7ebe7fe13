//! The operating system's random generator as the core's `Random` port, for
//! ids, serials and tokens.

use ring::rand::{SecureRandom, SystemRandom};
use utrust_core::ports::Random;

/// Random bytes from the OS (through *ring*'s `SystemRandom`).
#[derive(Debug, Clone)]
pub struct OsRandom(SystemRandom);

impl Default for OsRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl OsRandom {
    /// The OS generator.
    pub fn new() -> Self {
        Self(SystemRandom::new())
    }

    /// A random token of `n` bytes as lowercase hex.
    pub fn hex_token(&self, n: usize) -> String {
        let mut b = vec![0u8; n];
        self.fill(&mut b);
        utrust_core::domain::hex::encode(&b)
    }
}

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // SystemRandom fails only if the OS generator is unavailable, which
        // getrandom(2) never is on supported kernels. Should it happen, the buffer
        // is zeroed rather than left half-random: zero ids collide on the stores'
        // unique keys and a zero serial is refused, so the failure surfaces as an
        // error instead of a weak value.
        if self.0.fill(buf).is_err() {
            buf.fill(0);
        }
    }
}
