//! Why key material could not be loaded (RFC 9421 §3.3, §7.3).

use super::algorithm::Algorithm;
use super::key_type::KeyType;

/// Why key material could not be loaded. Never contains key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not a PEM block, a JWK or (for HMAC) base64, or it does not decode.
    #[error("malformed key: {reason}")]
    Malformed {
        /// What was wrong, without any key material.
        reason: String,
    },
    /// The key is of a type the algorithm cannot use.
    #[error("a {found} key cannot be used with {algorithm}")]
    TypeMismatch {
        /// The algorithm the key was loaded for.
        algorithm: Algorithm,
        /// The key type found.
        found: KeyType,
    },
    /// The key is well formed but of a kind this crate does not support.
    #[error("unsupported key: {reason}")]
    Unsupported {
        /// What is not supported.
        reason: String,
    },
    /// The key is too short for the algorithm.
    #[error("key too weak for {algorithm}: {reason}")]
    Weak {
        /// The algorithm the key was loaded for.
        algorithm: Algorithm,
        /// What is too small.
        reason: String,
    },
    /// A public key was given where a private key is needed.
    #[error("signing with {algorithm} needs a private key, but a public key was given")]
    PublicKeyForSigning {
        /// The algorithm the key was loaded for.
        algorithm: Algorithm,
    },
}

impl KeyError {
    /// A stable snake_case code for this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Malformed { .. } => "malformed_key",
            KeyError::TypeMismatch { .. } => "key_type_mismatch",
            KeyError::Unsupported { .. } => "unsupported_key",
            KeyError::Weak { .. } => "weak_key",
            KeyError::PublicKeyForSigning { .. } => "public_key_for_signing",
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        KeyError::Malformed {
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(reason: impl Into<String>) -> Self {
        KeyError::Unsupported {
            reason: reason.into(),
        }
    }
}
