//! HTTP Message Signatures (RFC 9421) for outgoing requests.
//!
//! [`Signer`] is the seam between the token manager and request signing:
//! [`OAuth2Service::fetch`](crate::OAuth2Service::fetch) builds the request,
//! sets the `Authorization` header and only then hands the request to the
//! signer, so that a signature can cover the access token (RFC 9421 §7.2.1
//! recommends covering every header the recipient relies on). When the
//! upstream answers 401 the request is rebuilt with a fresh token and signed
//! again.

mod signer;

pub use signer::{BoxFuture, SignError, Signer};
