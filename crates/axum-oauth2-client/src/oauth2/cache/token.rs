//! [`AccessToken`]: an issued token with its expiry and refresh times.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;

#[cfg(test)]
use super::key::TokenId;
use super::token_header::TokenHeader;

/// An access token as the cache holds it.
///
/// Cloning is one atomic increment: the token lives in an `Arc` shared with
/// the cache. `Debug` shows the timing and scope, never the token.
///
/// A provider's own (client credentials) token, which every caller on
/// every core asks for, is handed out as this core's copy of it
/// ([`CoreToken`]): the copies are built once, when the token is stored,
/// and each has its reference count on cache lines of its own, so that
/// callers on different cores take and drop their tokens without writing
/// a shared line. (Owning copies of the fields instead would make every
/// token a hundred bytes to move, and copying its scope would allocate.)
/// An exchanged token belongs to one caller and is shared as it is.
#[derive(Clone)]
pub struct AccessToken(Held);

/// Which copy of a token an [`AccessToken`] holds.
#[derive(Clone)]
enum Held {
    /// The token as the cache stores it.
    Shared(Arc<TokenData>),
    /// One core's copy of a provider's own token.
    Core(Arc<CoreToken>),
}

/// One core's copy of a token kept per core (see [`AccessToken`]): the
/// same fields, and this core's header copy. Aligned to a cache line, so
/// that the reference count in front of it shares its line with nothing
/// another core reads or writes.
#[repr(align(64))]
pub(crate) struct CoreToken(pub(crate) TokenData);

/// What the cache stores for one issued token.
///
/// `repr(C)` fixes the order: fields a cache hit never reads come first
/// and fill the 48 bytes after the `Arc`'s two counts, so the fields it
/// reads (`refresh_at`, `header`) start at least 64 bytes after the strong
/// count and never share its cache line, which every [`AccessToken`] clone
/// and drop writes.
///
/// A keyed token is its map's entry: it carries the digest it is cached
/// under and its last use (see `cache::keyed`). Kept small, since the
/// cache may hold one per subject (128 bytes, 144 with the counts): the
/// expiry is an offset from `refresh_at`, the scope and the token type are
/// one pointer each (a registered token type shared by every token that
/// names it), and whether the token is an access token is a bit of its
/// number.
#[repr(C)]
pub(crate) struct TokenData {
    /// The request digest a keyed token is cached under (zeros for the
    /// provider's own token).
    pub(crate) digest: [u8; 32],
    /// The token's number, set when it enters the cache (see
    /// `cache::TokenId`), with [`NOT_ACCESS_TOKEN`] set for a token that
    /// may not be sent upstream.
    id: u64,
    /// `expires_at` in nanoseconds after `refresh_at` (which is never
    /// later): read only once the hit is past `refresh_at`.
    pub(crate) expires_after_refresh: u64,
    pub(crate) refresh_at: Instant,
    /// `Bearer <token>` (or `DPoP <token>`), marked sensitive: the token
    /// is kept only here. Shared ([`TokenHeader`]), so attaching it to a request is a
    /// reference-count increment, not a copy of a kilobyte-sized JWT; its
    /// bytes are wiped when the cache and the last request let go of them.
    pub(crate) header: TokenHeader,
    /// The scope the token endpoint granted, behind one pointer.
    pub(crate) scope: Option<Box<Box<str>>>,
    /// The RFC 8693 `issued_token_type`: the registered URIs are shared,
    /// not allocated per token.
    pub(crate) issued_token_type: Option<Arc<Box<str>>>,
    /// When a keyed token was last asked for, for eviction (a stamp from
    /// the service).
    pub(crate) last_used: AtomicU64,
}

/// The bit of [`TokenData`]'s number set for a token that may not be sent
/// to an upstream: an exchanged token the server marked `token_type: N_A`
/// (RFC 8693 §2.2.1: not an access token; an ID token or an assertion,
/// for [`get_token`](crate::OAuth2Service::get_token) only). Numbers never
/// come near it.
const NOT_ACCESS_TOKEN: u64 = 1 << 63;

impl TokenData {
    /// A token sent as `header`, valid until `expires_at` and refreshed
    /// from `refresh_at` (at most `expires_at`), with no scope or token
    /// type, and an access token.
    pub(crate) fn new(header: TokenHeader, expires_at: Instant, refresh_at: Instant) -> Self {
        let refresh_at = refresh_at.min(expires_at);
        Self {
            digest: [0; 32],
            id: 0,
            expires_after_refresh: u64::try_from((expires_at - refresh_at).as_nanos())
                .unwrap_or(u64::MAX),
            refresh_at,
            header,
            scope: None,
            issued_token_type: None,
            last_used: AtomicU64::new(0),
        }
    }

    /// The token with `scope`.
    pub(crate) fn with_scope(self, scope: Option<Box<str>>) -> Self {
        Self {
            scope: scope.map(Box::new),
            ..self
        }
    }

    /// The token with the `issued_token_type` of an exchange.
    pub(crate) fn with_issued_token_type(self, issued: Option<Arc<Box<str>>>) -> Self {
        Self {
            issued_token_type: issued,
            ..self
        }
    }

    /// The token, an access token or not (see [`NOT_ACCESS_TOKEN`]).
    pub(crate) fn with_access_token(mut self, access_token: bool) -> Self {
        self.id = if access_token {
            self.id & !NOT_ACCESS_TOKEN
        } else {
            self.id | NOT_ACCESS_TOKEN
        };
        self
    }

    /// Whether the token may be sent to an upstream (see
    /// [`NOT_ACCESS_TOKEN`]).
    #[inline]
    pub(crate) fn is_access_token(&self) -> bool {
        self.id & NOT_ACCESS_TOKEN == 0
    }

    /// The token's number (see `cache::TokenId`).
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.id & !NOT_ACCESS_TOKEN
    }

    /// Numbers the token as it enters the cache.
    pub(crate) fn set_id(&mut self, id: u64) {
        self.id = (id & !NOT_ACCESS_TOKEN) | (self.id & NOT_ACCESS_TOKEN);
    }

    /// The scope the token endpoint granted, when it said.
    pub(crate) fn scope(&self) -> Option<&str> {
        self.scope.as_deref().map(|scope| &**scope)
    }

    /// The RFC 8693 `issued_token_type` of an exchanged token.
    pub(crate) fn issued_token_type(&self) -> Option<&str> {
        self.issued_token_type.as_deref().map(|uri| &**uri)
    }

    /// Records a use at `stamp`. Read first: the stamps move with the
    /// coarse clock, so most hits on a busy key find theirs there and
    /// write no line other cores read.
    #[inline]
    pub(crate) fn touch(&self, stamp: u64) {
        if self.last_used.load(Ordering::Relaxed) != stamp {
            self.last_used.store(stamp, Ordering::Relaxed);
        }
    }

    /// Moves the refresh time to `refresh_at` (at most the expiry), the
    /// expiry staying where it was.
    pub(crate) fn set_refresh_at(&mut self, refresh_at: Instant) {
        let expires_at = self.expires_at();
        let refresh_at = refresh_at.min(expires_at);
        self.expires_after_refresh =
            u64::try_from((expires_at - refresh_at).as_nanos()).unwrap_or(u64::MAX);
        self.refresh_at = refresh_at;
    }

    /// When the token stops being valid.
    #[inline]
    pub(crate) fn expires_at(&self) -> Instant {
        self.refresh_at + Duration::from_nanos(self.expires_after_refresh)
    }

    /// The token with its header, and itself, kept once per core, for a
    /// token that every request to a provider carries (see
    /// [`TokenHeader`] and [`AccessToken`]). Unchanged on one core.
    pub(crate) fn per_core(self) -> Self {
        let Some(headers) = self.header.per_core_copies() else {
            return self;
        };
        let tokens = headers
            .iter()
            .map(|header| {
                Arc::new(CoreToken(Self {
                    digest: self.digest,
                    id: self.id,
                    expires_after_refresh: self.expires_after_refresh,
                    refresh_at: self.refresh_at,
                    header: TokenHeader::One(header.clone()),
                    scope: self.scope.clone(),
                    issued_token_type: self.issued_token_type.clone(),
                    last_used: AtomicU64::new(self.last_used.load(Ordering::Relaxed)),
                }))
            })
            .collect();
        Self {
            header: TokenHeader::PerCore { headers, tokens },
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
        now < self.expires_at()
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
    /// The caller's own hold on the cached `token`: this core's copy when
    /// the token is kept per core, else the token itself.
    #[inline]
    pub(crate) fn of(token: &Arc<TokenData>) -> Self {
        match token.header.core_token() {
            Some(copy) => Self(Held::Core(Arc::clone(copy))),
            None => Self(Held::Shared(Arc::clone(token))),
        }
    }

    #[inline]
    fn data(&self) -> &TokenData {
        match &self.0 {
            Held::Shared(token) => token,
            Held::Core(copy) => &copy.0,
        }
    }

    /// Which token this is (the copies of one token share it).
    #[cfg(test)]
    pub(crate) fn id(&self) -> TokenId {
        TokenId::of(self.data())
    }

    /// The token, for the `Authorization` header ([`authorization`](Self::authorization)
    /// has the whole value). Keep it out of logs.
    #[must_use]
    pub fn secret(&self) -> &str {
        self.data().secret()
    }

    /// When the token stops being valid (measured from when it was requested).
    #[must_use]
    pub fn expires_at(&self) -> Instant {
        self.data().expires_at()
    }

    /// When the cache starts refreshing it in the background.
    #[must_use]
    pub fn refresh_at(&self) -> Instant {
        self.data().refresh_at
    }

    /// The scope the token endpoint granted, when it said.
    #[must_use]
    pub fn scope(&self) -> Option<&str> {
        self.data().scope()
    }

    /// The RFC 8693 `issued_token_type` of an exchanged token.
    #[must_use]
    pub fn issued_token_type(&self) -> Option<&str> {
        self.data().issued_token_type()
    }

    /// An `Authorization` header value, marked sensitive: `Bearer …`, or
    /// `DPoP …` for a token bound to the provider's DPoP key (RFC 9449),
    /// which a request must send with a proof ([`is_dpop`](Self::is_dpop);
    /// [`OAuth2Service::fetch`](crate::OAuth2Service::fetch), `authorize`
    /// and the middlewares add it; elsewhere make it with
    /// [`OAuth2Service::dpop_key`](crate::OAuth2Service::dpop_key)).
    #[must_use]
    pub fn authorization(&self) -> HeaderValue {
        self.data().authorization()
    }

    /// Whether the token is bound to a DPoP key (`token_type: DPoP`).
    #[must_use]
    pub fn is_dpop(&self) -> bool {
        self.data().header.as_bytes().starts_with(b"DPoP ")
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.data();
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("scope", &data.scope())
            .field("issued_token_type", &data.issued_token_type())
            .field("expires_at", &data.expires_at())
            .field("refresh_at", &data.refresh_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth2::secret::Secret;

    fn data(value: &str) -> TokenData {
        let now = Instant::now();
        let mut data = TokenData::new(
            TokenHeader::bearer(&Secret::new(value)).expect("valid"),
            now + Duration::from_secs(10),
            now,
        )
        .with_scope(Some("read".into()));
        data.set_id(1);
        data
    }

    fn token(value: &str) -> AccessToken {
        AccessToken::of(&Arc::new(data(value)))
    }

    #[test]
    fn a_token_kept_per_core_hands_each_thread_its_own_copy() {
        let cached = Arc::new(data("tok-core").per_core());
        let TokenHeader::PerCore { tokens, .. } = &cached.header else {
            assert_eq!(super::super::token_header::copies(), 1, "one core");
            return;
        };
        assert_eq!(std::mem::align_of::<CoreToken>(), 64, "a line of its own");
        let copies: Vec<usize> = tokens.iter().map(|c| Arc::as_ptr(c) as usize).collect();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    let first = AccessToken::of(&cached);
                    let Held::Core(copy) = &first.0 else {
                        panic!("a per-core token is handed out as a copy")
                    };
                    let at = Arc::as_ptr(copy) as usize;
                    assert!(copies.contains(&at));
                    let again = AccessToken::of(&cached);
                    let Held::Core(copy) = &again.0 else {
                        unreachable!()
                    };
                    assert_eq!(Arc::as_ptr(copy) as usize, at, "a thread keeps its copy");
                    // Every copy is the same token.
                    assert_eq!(first.secret(), "tok-core");
                    assert_eq!(first.authorization(), "Bearer tok-core");
                    assert!(first.authorization().is_sensitive());
                    assert_eq!(first.scope(), Some("read"));
                    assert_eq!(first.expires_at(), cached.expires_at());
                    assert_eq!(first.refresh_at(), cached.refresh_at);
                    assert_eq!(first.id(), TokenId::of(&cached));
                    assert!(!format!("{first:?}").contains("tok-core"));
                });
            }
        });
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
        let first_read = offset_of!(TokenData, refresh_at).min(offset_of!(TokenData, header));
        assert!(
            16 + first_read >= 64,
            "hot fields start {first_read} bytes in"
        );
    }

    #[test]
    fn the_access_token_bit_is_kept_apart_from_the_number() {
        let now = Instant::now();
        let mut token = TokenData::new(
            TokenHeader::bearer(&Secret::new("t")).expect("valid"),
            now + Duration::from_secs(10),
            now,
        )
        .with_access_token(false);
        token.set_id(42);
        assert_eq!((token.id(), token.is_access_token()), (42, false));
        let token = token.with_access_token(true);
        assert_eq!((token.id(), token.is_access_token()), (42, true));
    }

    #[test]
    fn a_token_is_no_larger_than_it_was_measured() {
        assert_eq!(std::mem::size_of::<TokenData>(), 128);
    }

    #[test]
    fn the_expiry_is_kept_to_the_nanosecond() {
        let now = Instant::now();
        let expires_at = now + Duration::new(3600, 123_456_789);
        let token = TokenData::new(
            TokenHeader::bearer(&Secret::new("t")).expect("valid"),
            expires_at,
            now + Duration::from_secs(3540),
        );
        assert_eq!(token.expires_at(), expires_at);
        // A refresh time past the expiry is the expiry.
        let late = TokenData::new(
            TokenHeader::bearer(&Secret::new("t")).expect("valid"),
            now,
            now + Duration::from_secs(1),
        );
        assert_eq!((late.refresh_at, late.expires_at()), (now, now));
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
