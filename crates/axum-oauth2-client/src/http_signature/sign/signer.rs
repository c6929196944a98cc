//! The [`Signer`] trait: how a request is signed just before it is sent.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

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

/// Why a request could not be signed.
///
/// The message names what was wrong (a missing covered component, an
/// unreadable key, …) and never contains key material.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SignError {
    message: String,
    code: &'static str,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl SignError {
    /// A signing error with a message that names what went wrong.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: "signing_failed",
            source: None,
        }
    }

    /// A signing error caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            code: "signing_failed",
            source: Some(source.into()),
        }
    }

    /// Replaces the stable code (default `signing_failed`), e.g.
    /// `missing_component` or `unsupported_body`.
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// A stable snake_case code for this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code
    }
}
