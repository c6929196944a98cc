//! The token cache: one [`Slot`] per key ([`slot`]), what names a key
//! ([`key`]), and the bounded maps of exchanged-token slots
//! ([`exchanges`]).

mod exchanges;
mod key;
mod slot;

pub(crate) use exchanges::{ExchangeSlots, Exchanges, entries};
pub(crate) use key::{CacheKey, Grant, TokenId};
pub(crate) use slot::{Request, Slot};
