//! The token cache: the provider's own [`Slot`] ([`slot`]), what names a
//! key ([`key`]), the bounded maps of tokens keyed by a request's digest,
//! with a slot for a key only while it needs one ([`keyed`]), where a
//! request's token is ([`place`]), and what is cached: a token
//! ([`token`]) and its header ([`token_header`]).

mod key;
mod keyed;
mod place;
mod slot;
#[cfg(test)]
mod test_requests;
pub(crate) mod token;
pub(crate) mod token_header;

pub(crate) use key::{CacheKey, Grant, TokenId, digest};
pub(crate) use keyed::{Keyed, KeyedCache};
pub(crate) use place::{KeyedPlace, Place};
pub(crate) use slot::{Owner, REFRESH_RETRY_DELAY, Request, Slot};
