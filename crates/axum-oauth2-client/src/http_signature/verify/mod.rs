//! Verifying (RFC 9421 §3.2) under an application policy (§1.4, §7.2):
//! the [`Verifier`] and its [`VerifierBuilder`], the [`VerifyError`] it
//! answers with, keys from a [`KeyResolver`], nonce replay detection, and
//! the [`SignatureVerificationLayer`] for axum routers.

mod builder;
mod error;
mod layer;
pub(crate) mod policy;
mod replay;
mod resolver;
mod verified;
mod verifier;

pub use builder::VerifierBuilder;
pub use error::{VerifyError, VerifyErrorKind};
pub use layer::{SignatureVerification, SignatureVerificationLayer};
pub use resolver::{InMemoryKeyResolver, KeyResolver, KeyResolverError};
pub use verified::VerifiedSignature;
pub use verifier::Verifier;
