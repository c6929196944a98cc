//! The token cache: one [`Slot`] per key ([`slot`]), what names a key
//! ([`key`]), the bounded maps of slots keyed by a request's digest ([`keyed`]),
//! and what a slot holds: a token ([`token`]) and its header ([`token_header`]).

mod key;
mod keyed;
mod slot;
pub(crate) mod token;
pub(crate) mod token_header;

pub(crate) use key::{CacheKey, Grant, TokenId, digest};
pub(crate) use keyed::{KeyedCache, KeyedSlots, entries};
pub(crate) use slot::{Owner, REFRESH_RETRY_DELAY, Request, Slot};
