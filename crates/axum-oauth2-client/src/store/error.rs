//! [`StoreError`]: why a call to the shared token store, or its
//! configuration, failed.

use std::time::Duration;

use super::key_file::KeyFileError;

/// The error of a boxed source: the backend's own error type stays out of
/// the public API.
type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a call to a [`TokenStore`](super::TokenStore) failed, or why its
/// configuration cannot be read.
///
/// No variant repeats a stored value, a key or a password: a configuration
/// error names the variable (and a Redis URL by scheme, host and port only).
///
/// A caller treats every runtime error ([`is_retryable`](Self::is_retryable))
/// the same way: as a miss of the shared tier. It goes on with its own
/// in-process cache and the token endpoint, and tries the store again on
/// its next call (the breaker makes that cheap while the store is down).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached, dropped the connection or refused
    /// the command (out of memory, a read-only replica, a wrong password).
    /// Code `store_unavailable`.
    #[error("the token store is unavailable")]
    Unavailable {
        /// The backend's error.
        #[source]
        source: Source,
    },
    /// The store did not answer within the call's time bound. Code
    /// `store_timeout`.
    #[error("the token store did not answer within {} ms", after.as_millis())]
    Timeout {
        /// The bound that was reached.
        after: Duration,
    },
    /// Recent calls failed; calls fail at once until the cool-down ends.
    /// Code `store_breaker_open`.
    #[error("the token store's circuit is open; next try in {} ms", retry_in.as_millis())]
    BreakerOpen {
        /// How long until a call is let through again.
        retry_in: Duration,
    },
    /// A configuration value is malformed or missing. Code
    /// `store_invalid_config`.
    #[error("{variable} {reason}")]
    InvalidConfig {
        /// The variable (or setting) at fault.
        variable: String,
        /// What is wrong with it; never the value.
        reason: String,
    },
    /// The encryption key file cannot be read or holds no valid key. Code
    /// `store_invalid_key_file`.
    #[error("{variable}: {source}")]
    KeyFile {
        /// The variable that names the file.
        variable: String,
        /// What is wrong with the file.
        #[source]
        source: KeyFileError,
    },
}

impl StoreError {
    /// A stable snake_case code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "store_unavailable",
            Self::Timeout { .. } => "store_timeout",
            Self::BreakerOpen { .. } => "store_breaker_open",
            Self::InvalidConfig { .. } => "store_invalid_config",
            Self::KeyFile { .. } => "store_invalid_key_file",
        }
    }

    /// Whether the same call may succeed later: true for the runtime
    /// failures (unavailable, timeout, open breaker), false for
    /// configuration errors.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::Timeout { .. } | Self::BreakerOpen { .. }
        )
    }

    /// Whether the call gave up on its time bound.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// The variable a configuration error is about.
    #[must_use]
    pub fn variable(&self) -> Option<&str> {
        match self {
            Self::InvalidConfig { variable, .. } | Self::KeyFile { variable, .. } => Some(variable),
            _ => None,
        }
    }

    pub(crate) fn unavailable(source: impl Into<Source>) -> Self {
        Self::Unavailable {
            source: source.into(),
        }
    }

    pub(crate) fn invalid(variable: &str, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            variable: variable.to_owned(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_runtime_errors_are_retryable() {
        let timeout = StoreError::Timeout {
            after: Duration::from_millis(50),
        };
        assert_eq!(timeout.code(), "store_timeout");
        assert!(timeout.is_retryable() && timeout.is_timeout());
        assert_eq!(
            timeout.to_string(),
            "the token store did not answer within 50 ms"
        );
        let open = StoreError::BreakerOpen {
            retry_in: Duration::from_secs(2),
        };
        assert_eq!(open.code(), "store_breaker_open");
        assert!(open.is_retryable());
        let config = StoreError::invalid("OAUTH2_CACHE_NAMESPACE", "must not be empty");
        assert_eq!(config.code(), "store_invalid_config");
        assert!(!config.is_retryable());
        assert_eq!(config.variable(), Some("OAUTH2_CACHE_NAMESPACE"));
        let down = StoreError::unavailable(std::io::Error::other("connection refused"));
        assert_eq!(down.code(), "store_unavailable");
        assert!(std::error::Error::source(&down).is_some());
    }
}
