//! Key lookup by `keyid` for verification (RFC 9421 §3.2 step 6, §7.3.1).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::http_signature::keys::VerificationKey;
use crate::http_signature::sign::BoxFuture;

/// Finds the verification key for a `keyid`.
///
/// Object safe (`Arc<dyn KeyResolver>`) and asynchronous, so a resolver may
/// consult a database or a JWKS endpoint; a synchronous resolver returns
/// `Box::pin(std::future::ready(..))`. `Ok(None)` means the key is unknown
/// (the request is refused with 401); `Err` means the lookup itself failed
/// (503).
pub trait KeyResolver: Send + Sync + fmt::Debug {
    /// Looks up `key_id`.
    fn resolve<'a>(
        &'a self,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<VerificationKey>, KeyResolverError>>;
}

impl<T: KeyResolver + ?Sized> KeyResolver for Arc<T> {
    fn resolve<'a>(
        &'a self,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<VerificationKey>, KeyResolverError>> {
        (**self).resolve(key_id)
    }
}

/// A key lookup failed (the backing store is unreachable, …).
#[derive(Debug, thiserror::Error)]
#[error("key lookup failed: {message}")]
pub struct KeyResolverError {
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl KeyResolverError {
    /// A lookup failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A lookup failure caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The stable snake_case code of this error: `key_lookup_failed`, as
    /// [`VerifyErrorKind::KeyLookupFailed`](super::VerifyErrorKind::KeyLookupFailed).
    #[must_use]
    pub fn code(&self) -> &'static str {
        "key_lookup_failed"
    }
}

/// A fixed set of keys held in memory.
///
/// ```
/// use axum_oauth2_client::http_signature::{Algorithm, InMemoryKeyResolver, VerificationKey};
///
/// let key = VerificationKey::from_pem_or_jwk(
///     Algorithm::Ed25519,
///     "-----BEGIN PUBLIC KEY-----\n\
///      MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n\
///      -----END PUBLIC KEY-----",
/// )?;
/// let resolver = InMemoryKeyResolver::new().with_key("test-key-ed25519", key);
/// assert_eq!(resolver.len(), 1);
/// # Ok::<(), axum_oauth2_client::http_signature::KeyError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct InMemoryKeyResolver {
    keys: HashMap<String, VerificationKey>,
}

impl InMemoryKeyResolver {
    /// An empty resolver.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the key for `key_id`.
    #[must_use]
    pub fn with_key(mut self, key_id: impl Into<String>, key: VerificationKey) -> Self {
        self.insert(key_id, key);
        self
    }

    /// Adds (or replaces) the key for `key_id`.
    pub fn insert(&mut self, key_id: impl Into<String>, key: VerificationKey) {
        self.keys.insert(key_id.into(), key);
    }

    /// How many keys are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no keys are held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl KeyResolver for InMemoryKeyResolver {
    fn resolve<'a>(
        &'a self,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<VerificationKey>, KeyResolverError>> {
        Box::pin(std::future::ready(Ok(self.keys.get(key_id).cloned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_failures_keep_their_source_and_code() {
        let err = KeyResolverError::with_source("key store", std::fmt::Error);
        assert_eq!(err.code(), "key_lookup_failed");
        assert_eq!(err.to_string(), "key lookup failed: key store");
        assert!(StdError::source(&err).is_some());
    }
}
