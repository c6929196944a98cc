//! The `Authorization` header a cached token is sent with — `Bearer …`
//! (RFC 6750 §2.1) or, for a key-bound token, `DPoP …` (RFC 9449 §7.1) —
//! built once per token and shared by every request.
//!
//! Attaching a shared header is a reference-count increment, and dropping
//! the request a decrement. On one count, callers on different cores would
//! take turns owning its cache line on every call. A client credentials
//! token, which every request to its provider carries, is therefore kept as
//! one copy per core (up to [`MAX_COPIES`]), each with its own count on its
//! own cache line; a thread always attaches the same copy. An exchanged
//! token belongs to one subject and is kept once.
//!
//! The same thread index picks the copy of the token itself that
//! [`get_token`](crate::OAuth2Service::get_token) hands out (see
//! [`AccessToken`](super::token::AccessToken)): the per-core copies of a
//! header and of its token go together.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use reqwest::header::HeaderValue;
use zeroize::Zeroize;

use super::token::CoreToken;
use crate::oauth2::secret::Secret;

/// The most copies of one header: past this many cores, threads share.
pub(crate) const MAX_COPIES: usize = 16;

/// A token's `Authorization` header value(s), marked sensitive.
pub(crate) enum TokenHeader {
    /// One header that every thread shares.
    One(HeaderValue),
    /// Equal headers, each with its own reference count, and the token
    /// once per core, each copy carrying its header; thread `i` uses
    /// `headers[i]` and `tokens[i]` (see [`thread_index`]). Never empty, both of the
    /// same length. Two boxes side by side rather than one: a hit reads
    /// the header copy without a further pointer to follow.
    PerCore {
        headers: Box<[HeaderValue]>,
        tokens: Box<[Arc<CoreToken>]>,
    },
}

impl TokenHeader {
    /// `Bearer <token>`, or `None` when the token holds bytes a header
    /// cannot carry (the response parser refuses those first).
    pub(crate) fn bearer(token: &Secret) -> Option<Self> {
        header(b"Bearer ", token.expose_secret().as_bytes()).map(Self::One)
    }

    /// `DPoP <token>` (RFC 9449 §7.1), or `None` as for [`bearer`](Self::bearer).
    pub(crate) fn dpop(token: &Secret) -> Option<Self> {
        header(b"DPoP ", token.expose_secret().as_bytes()).map(Self::One)
    }

    /// The single header of `self` copied once per core, each copy on its
    /// own bytes with its count on its own cache line; `None` on one core
    /// (or for a header already spread).
    pub(crate) fn per_core_copies(&self) -> Option<Box<[HeaderValue]>> {
        let copies = copies();
        match self {
            // `header` was built from these bytes: each copy is too.
            Self::One(header) if copies > 1 => (0..copies)
                .map(|_| owned(OwnLine(HeaderBytes(header.as_bytes().into()))))
                .collect(),
            _ => None,
        }
    }

    /// The header to attach: this thread's copy.
    #[inline]
    pub(crate) fn get(&self) -> HeaderValue {
        match self {
            Self::One(header) => header.clone(),
            // Never empty, so the remainder is an index into it.
            Self::PerCore { headers, .. } => this_core(headers).clone(),
        }
    }

    /// This thread's copy of the token, when the token is kept per core.
    #[inline]
    pub(crate) fn core_token(&self) -> Option<&Arc<CoreToken>> {
        match self {
            Self::One(_) => None,
            Self::PerCore { tokens, .. } => Some(this_core(tokens)),
        }
    }

    /// The header's bytes, the scheme and its space included.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::One(header) => header.as_bytes(),
            Self::PerCore { headers, .. } => headers[0].as_bytes(),
        }
    }
}

/// `<scheme><token>` as a sensitive header value on its own bytes.
fn header(scheme: &[u8], token: &[u8]) -> Option<HeaderValue> {
    let mut value = Vec::with_capacity(scheme.len() + token.len());
    value.extend_from_slice(scheme);
    value.extend_from_slice(token);
    owned(HeaderBytes(value.into_boxed_slice()))
}

/// A sensitive header value on `owner`'s bytes.
fn owned(owner: impl AsRef<[u8]> + Send + 'static) -> Option<HeaderValue> {
    let mut header = HeaderValue::from_maybe_shared(Bytes::from_owner(owner)).ok()?;
    header.set_sensitive(true);
    Some(header)
}

/// The bytes of a header, owned by the `Bytes` that every request carrying
/// the header shares (`Bytes::from_owner` keeps its reference count in
/// front of the owner), and zeroed when the last holder lets go.
struct HeaderBytes(Box<[u8]>);

impl AsRef<[u8]> for HeaderBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for HeaderBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// [`HeaderBytes`] aligned to a cache line, which gives the reference
/// count in front of it a line of its own: writing it never evicts a
/// neighbouring allocation that other threads read. For the per-core
/// copies only; a single header stays compact (32 bytes of count and owner
/// instead of 128).
#[repr(align(64))]
struct OwnLine(HeaderBytes);

impl AsRef<[u8]> for OwnLine {
    fn as_ref(&self) -> &[u8] {
        self.0.as_ref()
    }
}

/// Copies per shared header: the cores available, at most [`MAX_COPIES`].
pub(crate) fn copies() -> usize {
    static COPIES: OnceLock<usize> = OnceLock::new();
    *COPIES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(MAX_COPIES)
    })
}

/// This thread's copy among `copies`, which holds [`copies()`] of them
/// (made by [`TokenHeader::per_core_copies`]); the first when it holds
/// fewer.
#[inline]
fn this_core<T>(copies: &[T]) -> &T {
    match copies.get(thread_index()) {
        Some(copy) => copy,
        None => &copies[0],
    }
}

/// This thread's copy number, below [`copies()`]: threads are numbered in
/// order of first use, so that as many threads as copies each get a copy
/// of their own. Reduced once per thread, so that a hit divides nothing.
#[inline]
pub(crate) fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    INDEX.with(|index| {
        let mut i = index.get();
        if i == usize::MAX {
            i = NEXT.fetch_add(1, Ordering::Relaxed) % copies();
            index.set(i);
        }
        i
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_copy_is_the_same_sensitive_header_on_its_own_bytes() {
        assert_eq!(
            std::mem::align_of::<OwnLine>(),
            64,
            "a count's line is its own"
        );
        let one = TokenHeader::bearer(&Secret::new("tok-1".to_owned())).expect("header");
        let Some(all) = one.per_core_copies() else {
            assert_eq!(copies(), 1, "one core keeps one header");
            return;
        };
        assert_eq!(all.len(), copies());
        let mut buffers: Vec<*const u8> = all.iter().map(|h| h.as_bytes().as_ptr()).collect();
        buffers.dedup();
        assert_eq!(buffers.len(), all.len(), "each copy has its own buffer");
        for header in all.iter() {
            assert_eq!(header, "Bearer tok-1");
            assert!(header.is_sensitive());
        }
    }

    #[test]
    fn a_thread_keeps_its_copy() {
        let spread = TokenHeader::PerCore {
            headers: (0..copies())
                .map(|_| {
                    owned(OwnLine(HeaderBytes(b"Bearer tok".to_vec().into()))).expect("header")
                })
                .collect::<Vec<_>>()
                .into_boxed_slice(),
            // Only the headers are looked at here.
            tokens: Box::new([]),
        };
        let TokenHeader::PerCore { headers: all, .. } = &spread else {
            unreachable!()
        };
        let buffers: Vec<usize> = all.iter().map(|h| h.as_bytes().as_ptr() as usize).collect();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    let first = spread.get().as_bytes().as_ptr() as usize;
                    assert!(buffers.contains(&first));
                    for _ in 0..10 {
                        assert_eq!(spread.get().as_bytes().as_ptr() as usize, first);
                    }
                    assert!(thread_index() < copies());
                    assert_eq!(first, buffers[thread_index()], "thread i uses copy i");
                });
            }
        });
    }

    #[test]
    fn a_token_a_header_cannot_carry_is_refused() {
        assert!(TokenHeader::bearer(&Secret::new("a\nb".to_owned())).is_none());
    }
}
