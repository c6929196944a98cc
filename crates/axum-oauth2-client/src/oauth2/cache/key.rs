//! What identifies a cached token ([`CacheKey`]) and which token a request
//! carried ([`TokenId`]).

use std::fmt;
use std::sync::atomic::AtomicU64;

use sha2::{Digest as _, Sha256};

use crate::oauth2::cache::token::TokenData;

/// Which grant a cached token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Grant {
    ClientCredentials,
    JwtBearer,
    TokenExchange,
}

impl Grant {
    /// The grant's name in logs.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::JwtBearer => "jwt_bearer",
            Self::TokenExchange => "token_exchange",
        }
    }
}

/// What identifies a cached token within its provider (8 bytes: the
/// provider's name is its owner's, lent for logs, see [`CacheKey::named`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub(crate) grant: Grant,
    /// The first bytes of the request digest of a keyed slot, for logs
    /// (the whole digest is in the token the keyed map holds and in the
    /// slot's home; a third copy would cost every slot 26 bytes more).
    pub(crate) subject: Option<[u8; 6]>,
}

impl CacheKey {
    /// The key under `provider`, for logs: safe to show, since the subject
    /// is shown as the first bytes of its digest only.
    pub(crate) fn named<'a>(&'a self, provider: &'a str) -> impl fmt::Display + 'a {
        KeyName {
            provider,
            key: self,
        }
    }
}

/// [`CacheKey::named`].
struct KeyName<'a> {
    provider: &'a str,
    key: &'a CacheKey,
}

impl fmt::Display for KeyName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (provider, grant) = (self.provider, self.key.grant.as_str());
        match &self.key.subject {
            None => write!(f, "{provider}/{grant}"),
            Some(digest) => {
                write!(f, "{provider}/{grant}/sha256:")?;
                digest.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// The key of a token that a request's own fields shape: a SHA-256 over
/// every form field sent (client authentication excluded), so that two
/// requests that differ in any parameter never share a token, and the
/// values (a subject token among them) are never a key.
pub(crate) fn digest<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    // Length-prefix every name and value so that no two field lists hash
    // alike.
    for (name, value) in fields {
        for part in [name, value] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hasher.finalize().into()
}

/// Which token a request carried, to drop exactly that one after a 401.
///
/// A number given to every token as it enters the cache: comparing it
/// needs no reference count, and unlike an address it is never reused by a
/// later token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenId(u64);

impl TokenId {
    pub(crate) fn of(token: &TokenData) -> Self {
        Self(token.id())
    }
}

/// The source of [`TokenId`]s.
pub(super) static NEXT_TOKEN_ID: AtomicU64 = AtomicU64::new(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_display_hides_the_subject() {
        let key = CacheKey {
            grant: Grant::TokenExchange,
            subject: Some([0xab; 6]),
        };
        assert_eq!(
            key.named("p").to_string(),
            "p/token_exchange/sha256:abababababab"
        );
    }

    fn lists() -> impl proptest::strategy::Strategy<Value = Vec<(String, String)>> {
        use proptest::prelude::*;
        let name = prop::sample::select(vec!["scope", "audience", "resource", "organization", "a"]);
        prop::collection::vec((name.prop_map(str::to_owned), "[a-c=&%]{0,3}"), 0..5)
    }

    proptest::proptest! {
        /// Two requests share a key exactly when they send the same fields:
        /// differing in any name, value, count or order gives another key.
        #[test]
        fn field_lists_share_a_digest_only_when_equal(a in lists(), b in lists()) {
            let fields = |l: &Vec<(String, String)>| {
                digest(l.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            };
            proptest::prop_assert_eq!(fields(&a) == fields(&b), a == b);
        }
    }

    #[test]
    fn the_digest_hides_the_values() {
        let key = digest([("subject_token", "subject-value")].into_iter());
        assert!(!key.windows(7).any(|w| w == b"subject"));
    }
}
