//! The token cache: one [`Slot`] per key ([`slot`]), what names a key
//! ([`key`]), the bounded maps of exchanged-token slots ([`exchanges`]),
//! and what a slot holds: a token ([`token`]) and its header ([`bearer`]).

pub(crate) mod bearer;
mod exchanges;
mod key;
mod slot;
pub(crate) mod token;

pub(crate) use exchanges::{ExchangeSlots, Exchanges, entries};
pub(crate) use key::{CacheKey, Grant, TokenId};
pub(crate) use slot::{Request, Slot};
