//! The [`Signer`] trait: how a request is signed just before it is sent
//! (RFC 9421 §3.1), after every header it may cover is set.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::error::SignError;

/// A boxed, sendable future, the return type of [`Signer::sign`].
///
/// The trait returns a boxed future rather than using `async fn` so that it
/// stays object safe: signers are shared as `Arc<dyn Signer>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Signs an outgoing request in place.
///
/// The signer runs last, after every header of the request is set
/// (including `Authorization: Bearer …`), and may add headers such as
/// `Content-Digest`, `Signature-Input` and `Signature` (RFC 9421 §4). It is
/// called again for the retry that follows a 401, on the rebuilt request.
///
/// Implementations must be cheap to share (`Arc<dyn Signer>`) and must never
/// put key material in their `Debug` output or in a [`SignError`].
pub trait Signer: Send + Sync + fmt::Debug {
    /// Signs `request`, adding whatever headers the signature scheme needs.
    fn sign<'a>(
        &'a self,
        request: &'a mut reqwest::Request,
    ) -> BoxFuture<'a, Result<(), SignError>>;
}
