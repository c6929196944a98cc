//! [`Secret`]: a string that never shows itself in `Debug` or `Display`.

use std::fmt;

use zeroize::Zeroize;

/// A secret string: a client secret, a subject token, an actor token.
///
/// `Debug` prints `Secret([redacted])` and there is deliberately no
/// `Display`, so a secret cannot reach a log line or an error message by
/// accident. The value is read with [`Secret::expose_secret`], which makes
/// every use visible in review, and its memory is zeroed when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps `value` as a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The secret value. Callers must keep it out of logs and errors.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("s3cr3t-value");
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(secret.expose_secret(), "s3cr3t-value");
    }
}
