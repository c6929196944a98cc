//! Server-provided nonces (RFC 9449 §8 for authorization servers, §9 for
//! resource servers): the `DPoP-Nonce` response header, and the last nonce
//! each origin gave, to put in the next proof sent there.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use http::{HeaderMap, HeaderName, HeaderValue};
use url::{Position, Url};

/// The response header that carries a nonce (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The longest nonce accepted, in bytes. RFC 9449 sets no limit; a nonce is
/// copied into every proof, so one from a hostile server must not make each
/// request large.
pub(crate) const MAX_NONCE_LEN: usize = 512;

/// Origins remembered by a [`NonceCache`] unless told otherwise.
pub(crate) const DEFAULT_ORIGINS: usize = 1024;

/// The nonce in a `DPoP-Nonce` header value, if it is one: `1*NQCHAR`
/// (RFC 9449 §8.1), where NQCHAR is `%x21 / %x23-5B / %x5D-7E` (visible
/// ASCII except `"` and `\`), at most [`MAX_NONCE_LEN`] bytes.
///
/// Anything else (empty, too long, spaces, quotes, backslashes, control or
/// non-ASCII bytes) is `None`: the caller ignores it.
pub(crate) fn parse_nonce(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NONCE_LEN || !bytes.iter().all(|&b| is_nqchar(b)) {
        return None;
    }
    value.to_str().ok()
}

const fn is_nqchar(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// The last nonce each origin (RFC 6454: scheme, host, port) gave, for the
/// next proof sent there (RFC 9449 §8.2, §9: a server may hand out a new
/// nonce in any response, and a client uses the latest).
///
/// Thread-safe; a read takes a shared lock and allocates nothing for an
/// `http(s)` URL without userinfo (the origin is a slice of the URL). At
/// most `capacity` origins are kept; beyond that, the origin whose nonce
/// was stored longest ago is forgotten. Only `http` and `https` URLs have
/// nonces kept: other schemes have opaque origins.
#[derive(Debug)]
pub(crate) struct NonceCache {
    entries: RwLock<Entries>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Entries {
    by_origin: HashMap<Box<str>, Entry>,
    /// Origins by the stamp of their last store, oldest first.
    by_age: BTreeMap<u64, Box<str>>,
    next_stamp: u64,
}

#[derive(Debug)]
struct Entry {
    nonce: Arc<str>,
    stamp: u64,
}

impl Default for NonceCache {
    fn default() -> Self {
        Self::new(DEFAULT_ORIGINS)
    }
}

impl NonceCache {
    /// A cache of at most `capacity` origins (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(Entries::default()),
            capacity: capacity.max(1),
        }
    }

    /// The last nonce `url`'s origin gave, if any.
    pub(crate) fn get(&self, url: &Url) -> Option<Arc<str>> {
        let origin = origin_key(url)?;
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .by_origin
            .get(&*origin)
            .map(|e| Arc::clone(&e.nonce))
    }

    /// Keeps the nonce of a response from `url`, if `headers` has one
    /// `DPoP-Nonce` that [`parse_nonce`] accepts. An invalid value, or
    /// several, is logged (without the value) and ignored, keeping the
    /// nonce stored before.
    pub(crate) fn update(&self, url: &Url, headers: &HeaderMap) {
        let mut values = headers.get_all(&DPOP_NONCE).iter();
        let Some(value) = values.next() else {
            return;
        };
        let Some(origin) = origin_key(url) else {
            return;
        };
        if values.next().is_some() {
            tracing::warn!(origin = %origin, "several DPoP-Nonce headers in one response; ignored");
            return;
        }
        let Some(nonce) = parse_nonce(value) else {
            tracing::warn!(
                origin = %origin,
                len = value.len(),
                "DPoP-Nonce is not 1 to {MAX_NONCE_LEN} NQCHARs (RFC 9449 §8.1); ignored"
            );
            return;
        };
        self.store(&origin, nonce);
    }

    fn store(&self, origin: &str, nonce: &str) {
        {
            // Servers repeat a nonce on many responses: most updates change
            // nothing and need no exclusive lock.
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if entries
                .by_origin
                .get(origin)
                .is_some_and(|e| *e.nonce == *nonce)
            {
                return;
            }
        }
        let mut guard = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let entries = &mut *guard;
        let stamp = entries.next_stamp;
        entries.next_stamp += 1;
        let nonce: Arc<str> = Arc::from(nonce);
        if let Some(entry) = entries.by_origin.get_mut(origin) {
            let key = entries.by_age.remove(&entry.stamp);
            entry.nonce = nonce;
            entry.stamp = stamp;
            entries
                .by_age
                .insert(stamp, key.unwrap_or_else(|| Box::from(origin)));
            return;
        }
        while entries.by_origin.len() >= self.capacity {
            let Some((_, oldest)) = entries.by_age.pop_first() else {
                break;
            };
            entries.by_origin.remove(&oldest);
        }
        entries
            .by_origin
            .insert(Box::from(origin), Entry { nonce, stamp });
        entries.by_age.insert(stamp, Box::from(origin));
    }
}

/// The ASCII serialisation of `url`'s origin (RFC 6454 §6.2: scheme, `://`,
/// host, and the port unless it is the scheme's default), for `http` and
/// `https` URLs only. [`Url`] has lower-cased the scheme and host and
/// dropped a default port already, so without userinfo the origin is the
/// URL up to its path.
fn origin_key(url: &Url) -> Option<Cow<'_, str>> {
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return None;
    }
    if url.username().is_empty() && url.password().is_none() {
        return Some(Cow::Borrowed(&url[..Position::BeforePath]));
    }
    let mut origin = String::with_capacity(url.as_str().len());
    origin.push_str(url.scheme());
    origin.push_str("://");
    origin.push_str(&url[Position::BeforeHost..Position::BeforePath]);
    Some(Cow::Owned(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                map.append(DPOP_NONCE, value);
            }
        }
        map
    }

    fn parsed(bytes: &[u8]) -> Option<String> {
        HeaderValue::from_bytes(bytes)
            .ok()
            .and_then(|v| parse_nonce(&v).map(str::to_owned))
    }

    #[test]
    fn nonce_grammar_is_one_or_more_nqchars() {
        assert_eq!(
            parsed(b"eyJ7S_zG.eyJH0-Z.HX4w-7v").as_deref(),
            Some("eyJ7S_zG.eyJH0-Z.HX4w-7v")
        );
        assert_eq!(parsed(b"!#[]~").as_deref(), Some("!#[]~"));
        let longest = "n".repeat(MAX_NONCE_LEN);
        assert_eq!(parsed(longest.as_bytes()), Some(longest));
    }

    #[test]
    fn empty_long_and_other_characters_are_not_nonces() {
        let too_long = "n".repeat(MAX_NONCE_LEN + 1);
        for bad in [
            &b""[..],
            too_long.as_bytes(),
            b"with space",
            b"quote\"d",
            b"back\\slash",
            b"tab\there",
            b"caf\xc3\xa9",
            b"\x7f",
        ] {
            assert_eq!(parsed(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn the_last_valid_nonce_per_origin_is_kept() {
        let cache = NonceCache::default();
        let api = url("https://api.example.com/v1/orders?x=1");
        assert_eq!(cache.get(&api), None);
        cache.update(&api, &headers(&[b"n1"]));
        assert_eq!(cache.get(&api).as_deref(), Some("n1"));
        // Same origin, another path; the scheme and host are case-blind and
        // the default port is the same origin.
        let same = url("HTTPS://API.example.com:443/other");
        assert_eq!(cache.get(&same).as_deref(), Some("n1"));
        cache.update(&same, &headers(&[b"n2"]));
        assert_eq!(cache.get(&api).as_deref(), Some("n2"));
        // Another port, scheme or host is another origin.
        for other in [
            "https://api.example.com:8443/",
            "http://api.example.com/",
            "https://idp.example.com/",
        ] {
            assert_eq!(cache.get(&url(other)), None, "{other}");
        }
        // Userinfo does not change the origin.
        assert_eq!(
            cache.get(&url("https://u:p@api.example.com/")).as_deref(),
            Some("n2")
        );
    }

    #[test]
    fn invalid_missing_or_repeated_nonces_keep_the_old_one() {
        let cache = NonceCache::default();
        let api = url("https://api.example.com/");
        cache.update(&api, &headers(&[b"good"]));
        cache.update(&api, &headers(&[b"bad nonce"]));
        cache.update(&api, &headers(&[]));
        cache.update(&api, &headers(&[b"a", b"b"]));
        cache.update(&api, &headers(&[b""]));
        assert_eq!(cache.get(&api).as_deref(), Some("good"));
    }

    #[test]
    fn non_http_urls_have_no_nonce() {
        let cache = NonceCache::default();
        let data = url("data:text/plain,x");
        cache.update(&data, &headers(&[b"n"]));
        assert_eq!(cache.get(&data), None);
    }

    #[test]
    fn the_oldest_origin_is_forgotten_beyond_the_capacity() {
        let cache = NonceCache::new(2);
        let (a, b, c) = (
            url("https://a.example/"),
            url("https://b.example/"),
            url("https://c.example/"),
        );
        cache.update(&a, &headers(&[b"a1"]));
        cache.update(&b, &headers(&[b"b1"]));
        // A new nonce for a makes b the oldest.
        cache.update(&a, &headers(&[b"a2"]));
        cache.update(&c, &headers(&[b"c1"]));
        assert_eq!(cache.get(&a).as_deref(), Some("a2"));
        assert_eq!(cache.get(&b), None);
        assert_eq!(cache.get(&c).as_deref(), Some("c1"));
        let entries = cache.entries.read().unwrap_or_else(PoisonError::into_inner);
        assert_eq!((entries.by_origin.len(), entries.by_age.len()), (2, 2));
    }

    #[test]
    fn a_repeated_nonce_is_not_stored_again() {
        let cache = NonceCache::new(4);
        let api = url("https://api.example.com/");
        cache.update(&api, &headers(&[b"n"]));
        let first = cache.get(&api);
        cache.update(&api, &headers(&[b"n"]));
        let second = cache.get(&api);
        assert!(matches!((&first, &second), (Some(a), Some(b)) if Arc::ptr_eq(a, b)));
    }

    #[test]
    fn the_cache_is_shared_across_threads() {
        let cache = Arc::new(NonceCache::new(64));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    for i in 0..100 {
                        let origin = url(&format!("https://h{}.example/", i % 80));
                        cache.update(&origin, &headers(&[format!("n{t}-{i}").as_bytes()]));
                        let _ = cache.get(&origin);
                    }
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().is_ok());
        }
        let entries = cache.entries.read().unwrap_or_else(PoisonError::into_inner);
        assert!(entries.by_origin.len() <= 64);
        assert_eq!(entries.by_origin.len(), entries.by_age.len());
    }
}
