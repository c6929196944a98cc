//! [`AccessToken`]: an issued token with its expiry and refresh times.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;

use super::token_header::TokenHeader;

/// An access token as the cache holds it.
///
/// Cloning is one atomic increment: the token lives in an `Arc` shared with
/// the cache. `Debug` shows the timing and scope, never the token.
#[derive(Clone)]
pub struct AccessToken(pub(crate) Arc<TokenData>);

/// What the cache stores for one issued token.
///
/// `repr(C)` fixes the order: the fields a cache hit never reads come
/// first and fill the 48 bytes after the `Arc`'s two counts, so the fields
/// it reads (`refresh_at`, `expires_at`, `header`) start at least 64 bytes
/// after the strong count and never share its cache line, which every
/// [`AccessToken`] clone and drop writes.
#[repr(C)]
pub(crate) struct TokenData {
    /// Set when the token enters the cache (see `cache::TokenId`).
    pub(crate) id: u64,
    pub(crate) scope: Option<Box<str>>,
    /// The registered token type URIs are borrowed, not allocated per token.
    pub(crate) issued_token_type: Option<Cow<'static, str>>,
    pub(crate) refresh_at: Instant,
    pub(crate) expires_at: Instant,
    /// `Bearer <token>` (or `DPoP <token>`), marked sensitive: the token
    /// is kept only here. Shared ([`TokenHeader`]), so attaching it to a request is a
    /// reference-count increment, not a copy of a kilobyte-sized JWT; its
    /// bytes are wiped when the cache and the last request let go of them.
    pub(crate) header: TokenHeader,
    /// Whether the token may be sent to an upstream: false for an
    /// exchanged token the server marked `token_type: N_A` (RFC 8693
    /// §2.2.1: not an access token; an ID token or an assertion, for
    /// [`get_token`](crate::OAuth2Service::get_token) only).
    pub(crate) access_token: bool,
}

impl TokenData {
    /// The token with its header kept once per core, for a token that
    /// every request to a provider carries (see [`TokenHeader`]).
    pub(crate) fn per_core(self) -> Self {
        Self {
            header: self.header.per_core(),
            ..self
        }
    }

    /// The `Authorization` value to attach (`Bearer …` or `DPoP …`),
    /// marked sensitive.
    #[inline]
    pub(crate) fn authorization(&self) -> HeaderValue {
        self.header.get()
    }

    /// The token itself: the header after its scheme and space.
    pub(crate) fn secret(&self) -> &str {
        let bytes = self.header.as_bytes();
        let start = bytes
            .iter()
            .position(|b| *b == b' ')
            .map_or(bytes.len(), |i| i + 1);
        std::str::from_utf8(&bytes[start..]).unwrap_or_default()
    }

    /// Whether the token may still be sent at `now`.
    #[inline]
    pub(crate) fn is_valid(&self, now: Instant) -> bool {
        now < self.expires_at
    }
}

/// When to refresh a token that lives `lifetime` from `sent_at`.
///
/// `refresh_at = expires_at - buffer`; for a lifetime shorter than twice the
/// buffer the buffer shrinks to half the lifetime, so a short-lived token is
/// still used for a while before it is refreshed. `jitter` (in `0..1`)
/// moves the refresh up to a tenth of the buffer earlier, so that replicas
/// that got their tokens together do not all refresh in the same second.
pub(crate) fn schedule(
    sent_at: Instant,
    lifetime: Duration,
    buffer: Duration,
    jitter: f64,
) -> (Instant, Instant) {
    let expires_at = sent_at + lifetime;
    let buffer = buffer.min(lifetime / 2);
    let early = buffer.mul_f64(0.1 * jitter.clamp(0.0, 1.0));
    (expires_at, expires_at - buffer - early)
}

impl AccessToken {
    /// The token, for the `Authorization` header ([`authorization`](Self::authorization)
    /// has the whole value). Keep it out of logs.
    #[must_use]
    pub fn secret(&self) -> &str {
        self.0.secret()
    }

    /// When the token stops being valid (measured from when it was requested).
    #[must_use]
    pub fn expires_at(&self) -> Instant {
        self.0.expires_at
    }

    /// When the cache starts refreshing it in the background.
    #[must_use]
    pub fn refresh_at(&self) -> Instant {
        self.0.refresh_at
    }

    /// The scope the token endpoint granted, when it said.
    #[must_use]
    pub fn scope(&self) -> Option<&str> {
        self.0.scope.as_deref()
    }

    /// The RFC 8693 `issued_token_type` of an exchanged token.
    #[must_use]
    pub fn issued_token_type(&self) -> Option<&str> {
        self.0.issued_token_type.as_deref()
    }

    /// An `Authorization` header value, marked sensitive: `Bearer …`, or
    /// `DPoP …` for a token bound to the provider's DPoP key (RFC 9449),
    /// which a request must send with a proof ([`is_dpop`](Self::is_dpop);
    /// [`OAuth2Service::fetch`](crate::OAuth2Service::fetch), `authorize`
    /// and the middlewares add it; elsewhere make it with
    /// [`OAuth2Service::dpop_key`](crate::OAuth2Service::dpop_key)).
    #[must_use]
    pub fn authorization(&self) -> HeaderValue {
        self.0.authorization()
    }

    /// Whether the token is bound to a DPoP key (`token_type: DPoP`).
    #[must_use]
    pub fn is_dpop(&self) -> bool {
        self.0.header.as_bytes().starts_with(b"DPoP ")
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("scope", &self.0.scope)
            .field("issued_token_type", &self.0.issued_token_type)
            .field("expires_at", &self.0.expires_at)
            .field("refresh_at", &self.0.refresh_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth2::secret::Secret;

    fn token(value: &str) -> AccessToken {
        let now = Instant::now();
        AccessToken(Arc::new(TokenData {
            id: 1,
            header: TokenHeader::bearer(&Secret::new(value)).expect("valid"),
            scope: Some("read".into()),
            issued_token_type: None,
            expires_at: now,
            refresh_at: now,
            access_token: true,
        }))
    }

    #[test]
    fn debug_never_shows_the_token() {
        let t = token("tok-ABC123");
        let shown = format!("{t:?} {t:#?} {:?}", t.authorization());
        assert!(!shown.contains("tok-ABC123"), "{shown}");
        assert_eq!(t.secret(), "tok-ABC123");
        assert!(t.authorization().is_sensitive());
        assert_eq!(t.authorization(), "Bearer tok-ABC123");
    }

    #[test]
    fn what_a_hit_reads_is_a_cache_line_away_from_what_it_writes() {
        use std::mem::offset_of;
        // An `Arc`'s two counts precede the data: 16 bytes.
        let first_read = offset_of!(TokenData, refresh_at)
            .min(offset_of!(TokenData, expires_at))
            .min(offset_of!(TokenData, header));
        assert!(
            16 + first_read >= 64,
            "hot fields start {first_read} bytes in"
        );
    }

    #[test]
    fn refresh_buffer_applies_to_long_lived_tokens() {
        let t0 = Instant::now();
        let (exp, refresh) = schedule(t0, Duration::from_secs(3600), Duration::from_secs(60), 0.0);
        assert_eq!(exp - t0, Duration::from_secs(3600));
        assert_eq!(refresh - t0, Duration::from_secs(3540));
        let (_, jittered) = schedule(
            t0,
            Duration::from_secs(3600),
            Duration::from_secs(60),
            0.999,
        );
        assert!(jittered < refresh && refresh - jittered <= Duration::from_secs(6));
    }

    #[test]
    fn short_lifetimes_refresh_at_half_life() {
        let t0 = Instant::now();
        let (exp, refresh) = schedule(t0, Duration::from_secs(30), Duration::from_secs(60), 0.0);
        assert_eq!(exp - t0, Duration::from_secs(30));
        assert_eq!(refresh - t0, Duration::from_secs(15));
        let (exp, refresh) = schedule(t0, Duration::ZERO, Duration::from_secs(60), 1.0);
        assert_eq!((exp, refresh), (t0, t0));
    }
}
