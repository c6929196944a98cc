//! Signing (RFC 9421 §3.1, §4): the [`Signer`] seam the token manager
//! calls, its [`SignError`], and [`MessageSigner`], built from a
//! [`SigningKey`](super::SigningKey) or from configuration strings.

mod error;
mod message_signer;
mod signer;
mod signing_config;

pub use error::{SignError, SignErrorKind};
pub use message_signer::MessageSigner;
pub use signer::{BoxFuture, Signer};
pub use signing_config::SigningConfigError;
