//! The token endpoint: the one place that requests a token
//! ([`request`]), how the client authenticates there ([`client_auth`]),
//! what it answers ([`response`]), how failures are retried ([`retry`])
//! and contained ([`breaker`]), and how an answer's body is read
//! ([`body`], shared with metadata discovery).

pub(crate) mod body;
pub(crate) mod breaker;
pub(crate) mod client_auth;
mod request;
pub(crate) mod response;
pub(crate) mod retry;

pub(crate) use request::{TokenEndpoint, intern_token_type, request_token};
