//! [`StoredToken`]: what the shared store holds for one token, and its
//! compact serialisation (sealed by the store before it is written).
//!
//! Times are Unix milliseconds: replicas share no monotonic clock, so an
//! `Instant` means nothing to another process. A replica turns them back
//! into its own `Instant`s with its own wall clock, which makes the
//! replicas' clock skew part of every shared token's expiry (keep them on
//! NTP, and keep a refresh buffer well above the skew).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::Secret;

/// The length of a token's [`fingerprint`].
pub const FINGERPRINT_LEN: usize = 16;

/// Identifies a token without revealing it: the first 16 bytes of a
/// domain-separated SHA-256 over the token.
///
/// The store keeps it in clear beside the sealed value, so that
/// [`TokenStore::delete_if`](super::TokenStore::delete_if) can compare it
/// inside Redis. Access tokens are long random strings, so the hash tells
/// nothing about the token; it is bound to the value by the seal.
#[must_use]
pub fn fingerprint(token: &str) -> [u8; FINGERPRINT_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(b"axum-oauth2-client token fingerprint\0");
    hasher.update(token.as_bytes());
    let mut out = [0u8; FINGERPRINT_LEN];
    out.copy_from_slice(&hasher.finalize()[..FINGERPRINT_LEN]);
    out
}

/// How a token is presented upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TokenType {
    /// `Authorization: Bearer` (RFC 6750).
    Bearer,
    /// `Authorization: DPoP`, with a proof (RFC 9449).
    #[serde(rename = "DPoP")]
    DPoP,
    /// An exchanged token the server marked `N_A` (RFC 8693 §2.2.1): not
    /// an access token, never sent upstream.
    #[serde(rename = "N_A")]
    NotApplicable,
}

/// One token as the shared store holds it.
///
/// `Debug` shows the type, scope and times, never the token.
#[derive(Clone)]
pub struct StoredToken {
    token: Secret,
    token_type: TokenType,
    scope: Option<Box<str>>,
    issued_token_type: Option<Box<str>>,
    issued_at_ms: u64,
    expires_at_ms: u64,
    fingerprint: [u8; FINGERPRINT_LEN],
}

impl StoredToken {
    /// A token issued at `issued_at` (when it was requested) that expires
    /// at `expires_at`.
    #[must_use]
    pub fn new(
        token: Secret,
        token_type: TokenType,
        issued_at: SystemTime,
        expires_at: SystemTime,
    ) -> Self {
        Self {
            fingerprint: fingerprint(token.expose_secret()),
            token,
            token_type,
            scope: None,
            issued_token_type: None,
            issued_at_ms: unix_millis(issued_at),
            expires_at_ms: unix_millis(expires_at),
        }
    }

    /// The scope the token endpoint granted.
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<Box<str>>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The RFC 8693 `issued_token_type` of an exchanged token.
    #[must_use]
    pub fn with_issued_token_type(mut self, issued_token_type: impl Into<Box<str>>) -> Self {
        self.issued_token_type = Some(issued_token_type.into());
        self
    }

    /// The token. Keep it out of logs.
    #[must_use]
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// How the token is presented.
    #[must_use]
    pub fn token_type(&self) -> TokenType {
        self.token_type
    }

    /// The granted scope, when the server said.
    #[must_use]
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The `issued_token_type` of an exchanged token.
    #[must_use]
    pub fn issued_token_type(&self) -> Option<&str> {
        self.issued_token_type.as_deref()
    }

    /// When the token was requested, in Unix milliseconds.
    #[must_use]
    pub fn issued_at_millis(&self) -> u64 {
        self.issued_at_ms
    }

    /// When the token expires, in Unix milliseconds.
    #[must_use]
    pub fn expires_at_millis(&self) -> u64 {
        self.expires_at_ms
    }

    /// When the token was requested.
    #[must_use]
    pub fn issued_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.issued_at_ms)
    }

    /// When the token expires.
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.expires_at_ms)
    }

    /// Its whole lifetime, from request to expiry: what a replica schedules
    /// its refresh from, so that every replica schedules alike.
    #[must_use]
    pub fn lifetime(&self) -> Duration {
        Duration::from_millis(self.expires_at_ms.saturating_sub(self.issued_at_ms))
    }

    /// How long it stays valid after `now` (zero once expired): the TTL to
    /// store it with.
    #[must_use]
    pub fn remaining(&self, now: SystemTime) -> Duration {
        Duration::from_millis(self.expires_at_ms.saturating_sub(unix_millis(now)))
    }

    /// The token's [`fingerprint`].
    #[must_use]
    pub fn fingerprint(&self) -> &[u8; FINGERPRINT_LEN] {
        &self.fingerprint
    }

    /// The serialised form: compact JSON, in a buffer wiped when dropped.
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let wire = WireRef {
            tok: self.token.expose_secret(),
            typ: self.token_type,
            scp: self.scope.as_deref(),
            itt: self.issued_token_type.as_deref(),
            iat: self.issued_at_ms,
            exp: self.expires_at_ms,
        };
        // Sized up front, so that no reallocation leaves a copy of the
        // token behind in freed memory.
        let mut out = Zeroizing::new(Vec::with_capacity(
            wire.tok.len() + wire.scp.map_or(0, str::len) + wire.itt.map_or(0, str::len) + 128,
        ));
        // Writing plain fields to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &wire);
        out
    }

    /// Parses what [`encode`](Self::encode) wrote; `None` for anything
    /// else.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let wire: WireOwned = serde_json::from_slice(bytes).ok()?;
        let token = Zeroizing::new(wire.tok);
        if token.is_empty() {
            return None;
        }
        Some(Self {
            fingerprint: fingerprint(&token),
            token: Secret::new(token.as_str()),
            token_type: wire.typ,
            scope: wire.scp.map(String::into_boxed_str),
            issued_token_type: wire.itt.map(String::into_boxed_str),
            issued_at_ms: wire.iat,
            expires_at_ms: wire.exp,
        })
    }
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .field("issued_token_type", &self.issued_token_type)
            .field("issued_at_ms", &self.issued_at_ms)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// Unix milliseconds (0 before the epoch).
pub(crate) fn unix_millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Serialize)]
struct WireRef<'a> {
    tok: &'a str,
    typ: TokenType,
    #[serde(skip_serializing_if = "Option::is_none")]
    scp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    itt: Option<&'a str>,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct WireOwned {
    tok: String,
    typ: TokenType,
    #[serde(default)]
    scp: Option<String>,
    #[serde(default)]
    itt: Option<String>,
    iat: u64,
    exp: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> StoredToken {
        let t0 = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
        StoredToken::new(
            Secret::new("tok-SECRET-123"),
            TokenType::DPoP,
            t0,
            t0 + Duration::from_secs(3600),
        )
        .with_scope("read write")
        .with_issued_token_type("urn:ietf:params:oauth:token-type:access_token")
    }

    #[test]
    fn encode_and_decode_round_trip() {
        let t = token();
        let back = StoredToken::decode(&t.encode()).expect("decodes");
        assert_eq!(back.token().expose_secret(), "tok-SECRET-123");
        assert_eq!(back.token_type(), TokenType::DPoP);
        assert_eq!(back.scope(), Some("read write"));
        assert_eq!(
            back.issued_token_type(),
            Some("urn:ietf:params:oauth:token-type:access_token")
        );
        assert_eq!(back.issued_at_millis(), 1_700_000_000_000);
        assert_eq!(back.expires_at_millis(), 1_700_003_600_000);
        assert_eq!(back.lifetime(), Duration::from_secs(3600));
        assert_eq!(back.fingerprint(), t.fingerprint());
        assert_eq!(back.expires_at(), t.expires_at());
    }

    #[test]
    fn the_encoding_is_compact() {
        let t = StoredToken::new(
            Secret::new("x"),
            TokenType::NotApplicable,
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::from_millis(5),
        );
        assert_eq!(
            t.encode().as_slice(),
            br#"{"tok":"x","typ":"N_A","iat":0,"exp":5}"#
        );
    }

    #[test]
    fn anything_else_does_not_decode() {
        for bad in [
            &b""[..],
            b"{}",
            b"not json",
            br#"{"tok":"","typ":"Bearer","iat":0,"exp":1}"#,
        ] {
            assert!(StoredToken::decode(bad).is_none());
        }
        assert!(StoredToken::decode(br#"{"tok":"a","typ":"MAC","iat":0,"exp":1}"#).is_none());
    }

    #[test]
    fn fingerprints_differ_per_token_and_hide_it() {
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_eq!(token().fingerprint(), &fingerprint("tok-SECRET-123"));
    }

    #[test]
    fn remaining_life_counts_down_to_zero() {
        let t = token();
        let at = t.issued_at() + Duration::from_secs(600);
        assert_eq!(t.remaining(at), Duration::from_secs(3000));
        assert_eq!(
            t.remaining(t.expires_at() + Duration::from_secs(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn debug_never_shows_the_token() {
        let t = token();
        let shown = format!("{t:?} {t:#?}");
        assert!(!shown.contains("tok-SECRET-123"), "{shown}");
        assert!(shown.contains("read write"));
    }
}
