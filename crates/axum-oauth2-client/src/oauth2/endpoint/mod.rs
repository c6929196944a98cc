//! The token endpoint: the one place that requests a token
//! ([`request`]), what it answers ([`response`]), and how failures are
//! retried ([`retry`]) and contained ([`breaker`]).

pub(crate) mod breaker;
mod request;
pub(crate) mod response;
pub(crate) mod retry;

pub(crate) use request::{TokenEndpoint, request_token};
