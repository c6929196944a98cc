//! [`StoreKey`]: where a shared token and its lease live, and the
//! [`Namespace`] every key starts with.
//!
//! A key is `<namespace>:tok:{<hex SHA-256>}` and its lease
//! `<namespace>:lease:{<same hex>}`: the braces are a Redis Cluster hash
//! tag, so a token and its lease live on one shard and can be read
//! together. The hash covers the provider's name and a request digest
//! (or the word `own`), each length-prefixed; the service's digest covers
//! the provider's identity and every field of the token request, the
//! thumbprint of a DPoP key the token is bound to included. No client id,
//! subject, token or other request value is ever part of a key: a key can
//! be listed by anyone who can `SCAN` the store, and tells them nothing
//! but that it exists.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::error::StoreError;

/// The default namespace.
pub const DEFAULT_NAMESPACE: &str = "oauth2";
/// The longest namespace accepted.
const MAX_NAMESPACE_LEN: usize = 64;

/// The prefix of every key: lets several services or environments share
/// one Redis without sharing tokens.
///
/// 1 to 64 printable ASCII characters, no space (`oauth2`, `orders-prod`,
/// `{oauth2}` for a Redis Cluster hash tag).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Namespace(Arc<str>);

impl Namespace {
    /// Checks `name` and makes it a namespace.
    pub fn new(name: &str) -> Result<Self, StoreError> {
        Self::parse("namespace", name)
    }

    /// Like [`new`](Self::new), naming `variable` in the error.
    pub(crate) fn parse(variable: &str, name: &str) -> Result<Self, StoreError> {
        if name.is_empty() {
            return Err(StoreError::invalid(variable, "must not be empty"));
        }
        if name.len() > MAX_NAMESPACE_LEN {
            return Err(StoreError::invalid(
                variable,
                format!("must be at most {MAX_NAMESPACE_LEN} characters"),
            ));
        }
        if !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(StoreError::invalid(
                variable,
                "must be printable ASCII without spaces",
            ));
        }
        Ok(Self(name.into()))
    }

    /// The namespace.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Self(DEFAULT_NAMESPACE.into())
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace({})", self.0)
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where one shared token lives, and its lease.
///
/// Built with [`StoreKey::builder`]; `Display` and `Debug` show the token
/// key, which holds nothing but the namespace and a hash.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StoreKey {
    token: Box<str>,
    lease: Box<str>,
}

impl StoreKey {
    /// A key for `provider`'s token in `namespace`: the provider's own
    /// token (client credentials, JWT bearer) unless
    /// [`request_digest`](StoreKeyBuilder::request_digest) is given.
    pub fn builder<'a>(namespace: &'a Namespace, provider: &'a str) -> StoreKeyBuilder<'a> {
        StoreKeyBuilder {
            namespace,
            provider,
            request_digest: None,
        }
    }

    /// The token's key: `<namespace>:tok:{<hex>}`.
    #[must_use]
    pub fn token_key(&self) -> &str {
        &self.token
    }

    /// The lease's key: `<namespace>:lease:{<hex>}`.
    #[must_use]
    pub fn lease_key(&self) -> &str {
        &self.lease
    }
}

impl fmt::Display for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.token)
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({})", self.token)
    }
}

/// Builds a [`StoreKey`] from what identifies a token.
#[must_use]
#[derive(Debug, Clone, Copy)]
pub struct StoreKeyBuilder<'a> {
    namespace: &'a Namespace,
    provider: &'a str,
    request_digest: Option<&'a [u8; 32]>,
}

impl<'a> StoreKeyBuilder<'a> {
    /// The SHA-256 digest of an exchanged token's request (the in-process
    /// cache's key for it): the request's values, a subject token among
    /// them, enter the key only through this digest.
    pub fn request_digest(mut self, digest: &'a [u8; 32]) -> Self {
        self.request_digest = Some(digest);
        self
    }

    /// The key.
    pub fn build(self) -> StoreKey {
        let mut hasher = Sha256::new();
        hasher.update(b"axum-oauth2-client store key v1\0");
        let mut part = |tag: u8, bytes: &[u8]| {
            hasher.update([tag]);
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        };
        part(b'p', self.provider.as_bytes());
        match self.request_digest {
            Some(digest) => part(b'd', digest),
            None => part(b'o', b"own"),
        }
        let hex = hex(&hasher.finalize());
        let namespace = self.namespace.as_str();
        StoreKey {
            token: format!("{namespace}:tok:{{{hex}}}").into(),
            lease: format!("{namespace}:lease:{{{hex}}}").into(),
        }
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_namespace_and_a_hash() {
        let ns = Namespace::new("orders-prod").expect("valid");
        let key = StoreKey::builder(&ns, "payments").build();
        let tag = key
            .token_key()
            .strip_prefix("orders-prod:tok:")
            .expect("prefix");
        let hex = tag
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .expect("a hash tag");
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key.lease_key(), format!("orders-prod:lease:{tag}"));
        assert_eq!(key.to_string(), key.token_key());
    }

    #[test]
    fn no_input_text_is_in_the_key() {
        let ns = Namespace::default();
        let digest: [u8; 32] = Sha256::digest(b"subject_token=subj-XYZ").into();
        let key = StoreKey::builder(&ns, "payments-provider")
            .request_digest(&digest)
            .build();
        for text in ["payments", "provider", "subj", "XYZ", "own"] {
            assert!(!key.token_key().contains(text), "{text} in {key}");
            assert!(!key.lease_key().contains(text), "{text} in {key:?}");
        }
    }

    #[test]
    fn every_part_shapes_the_key() {
        let ns = Namespace::default();
        let d1 = [1u8; 32];
        let d2 = [2u8; 32];
        let keys = [
            StoreKey::builder(&ns, "a").build(),
            StoreKey::builder(&ns, "b").build(),
            StoreKey::builder(&ns, "a").request_digest(&d1).build(),
            StoreKey::builder(&ns, "a").request_digest(&d2).build(),
            StoreKey::builder(&Namespace::new("other").expect("valid"), "a").build(),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(keys[0], StoreKey::builder(&ns, "a").build(), "stable");
    }

    #[test]
    fn namespaces_are_checked() {
        assert_eq!(Namespace::default().as_str(), "oauth2");
        assert!(Namespace::new("{oauth2}").is_ok());
        for bad in [
            "",
            "has space",
            "tab\there",
            "new\nline",
            "é",
            &"n".repeat(65),
        ] {
            let err = Namespace::new(bad).expect_err(bad);
            assert_eq!(err.code(), "store_invalid_config");
            if !bad.is_empty() {
                assert!(!err.to_string().contains(bad), "{err}");
            }
        }
    }
}
