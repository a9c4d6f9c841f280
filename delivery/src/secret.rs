//! A string that must never be printed: tokens, signing secrets, passwords.

use std::fmt;

use subtle::ConstantTimeEq;

/// Holds a secret. `Debug` and `Display` print `[redacted]`; read the value with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in constant time over the full length of both values (a length mismatch is detected
    /// without an early exit on the common prefix).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(candidate).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("hunter2-very-secret");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret}").contains("hunter2"));
    }

    #[test]
    fn matches_compares_whole_values() {
        let secret = Secret::new("abcdef");
        assert!(secret.matches(b"abcdef"));
        assert!(!secret.matches(b"abcde"));
        assert!(!secret.matches(b"abcdefg"));
        assert!(!secret.matches(b""));
        assert!(!secret.matches(b"abcdeF"));
    }
}
