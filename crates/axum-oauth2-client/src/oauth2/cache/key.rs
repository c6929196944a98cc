//! What identifies a cached token ([`CacheKey`]) and which token a request
//! carried ([`TokenId`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::oauth2::cache::token::TokenData;

/// Which grant a cached token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Grant {
    ClientCredentials,
    TokenExchange,
}

/// What identifies a cached token. Its `Display` is safe for logs: the
/// subject is shown as the first bytes of its digest only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub(crate) provider: Arc<str>,
    pub(crate) grant: Grant,
    /// The first bytes of the exchange digest, for logs (the full digest
    /// is the map key; keeping it twice would cost every entry 26 bytes).
    pub(crate) subject: Option<[u8; 6]>,
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.grant, &self.subject) {
            (Grant::ClientCredentials, _) => write!(f, "{}/client_credentials", self.provider),
            (Grant::TokenExchange, Some(digest)) => {
                write!(f, "{}/token_exchange/sha256:", self.provider)?;
                digest.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            (Grant::TokenExchange, None) => write!(f, "{}/token_exchange", self.provider),
        }
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
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
        Self(token.id)
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
            provider: "p".into(),
            grant: Grant::TokenExchange,
            subject: Some([0xab; 6]),
        };
        assert_eq!(key.to_string(), "p/token_exchange/sha256:abababababab");
    }
}
