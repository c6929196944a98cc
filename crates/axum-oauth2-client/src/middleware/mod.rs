//! The token manager in the user's own HTTP stack.
//!
//! * [`OAuth2Middleware`] (feature `reqwest-middleware`, on by default): a
//!   `reqwest-middleware` middleware for `ClientWithMiddleware`.
//! * [`OAuth2Layer`]: a tower layer for clients of `http::Request`s (hyper's
//!   client, or any tower `Service`) whose bodies can be cloned;
//!   [`OAuth2StreamingLayer`] for streaming bodies (gRPC through tonic),
//!   which are neither signed nor sent again.
//!
//! Both follow the rules of [`OAuth2Service::fetch`](crate::OAuth2Service::fetch),
//! from the same code: the URL must be one the provider may send its token
//! to (allowed origins, https off loopback), the token is attached
//! (marked sensitive) and the request signed by the provider's signer, and
//! a 401 from the URL that was sent drops the token, within the forced
//! refresh budget, and sends the request once more with a new one. An
//! exchanged token instead of the provider's own: put a
//! [`TokenExchangeOptions`](crate::TokenExchangeOptions) in the request's
//! extensions; the provider's grant with this request's own `audience`,
//! `resource` or `scope`: a [`TokenParams`](crate::TokenParams).

#[cfg(feature = "reqwest-middleware")]
mod client;
mod layer;
mod requested_token;
mod streaming_layer;

#[cfg(feature = "reqwest-middleware")]
pub use client::OAuth2Middleware;
pub use layer::{Authorized, BoxError, OAuth2Layer, Replay, Streaming};
pub use streaming_layer::{AuthorizedStream, OAuth2StreamingLayer};
