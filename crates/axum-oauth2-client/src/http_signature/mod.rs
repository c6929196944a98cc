//! HTTP Message Signatures (RFC 9421) for outgoing and incoming requests.
//!
//! [`Signer`] is the seam between the token manager and request signing:
//! [`OAuth2Service::fetch`](crate::OAuth2Service::fetch) builds the request,
//! sets the `Authorization` header and only then hands the request to the
//! signer, so that a signature can cover the access token (RFC 9421 §7.2.1
//! recommends covering every header the recipient relies on). When the
//! upstream answers 401 the request is rebuilt with a fresh token and signed
//! again.
//!
//! - Signing: [`MessageSigner`] (implements [`Signer`]), usually built with
//!   [`MessageSigner::from_config`].
//! - Verifying: [`Verifier`], directly or as [`SignatureVerificationLayer`]
//!   on an axum router, with keys from a [`KeyResolver`] such as
//!   [`InMemoryKeyResolver`].
//! - Algorithms (§3.3): `rsa-pss-sha512`, `rsa-v1_5-sha256`, `hmac-sha256`,
//!   `ecdsa-p256-sha256`, `ecdsa-p384-sha384`, `ed25519`.
//! - Bodies are covered through `Content-Digest` (RFC 9530, `sha-256` and
//!   `sha-512`).
//!
//! ```
//! use axum_oauth2_client::http_signature::{
//!     Algorithm, UnixClock, InMemoryKeyResolver, MessageSigner, VerificationKey, Verifier,
//! };
//!
//! let secret = "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";
//! let signer = MessageSigner::from_config("hmac-sha256", secret, Some("shared"), None)?;
//! let mut request = http::Request::post("https://api.example.com/v1/orders")
//!     .header("content-type", "application/json")
//!     .body(bytes::Bytes::from_static(b"{}"))?;
//! signer.sign_http_request(&mut request)?;
//!
//! let key = VerificationKey::from_pem_or_jwk(Algorithm::HmacSha256, secret)?;
//! let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("shared", key)).build();
//! let verified = tokio_test::block_on(verifier.verify(&request))?;
//! assert_eq!(verified.key_id(), "shared");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod keys;
mod sign;
mod unix_clock;
mod verify;
mod wire;

pub use keys::{Algorithm, KeyError, KeyType, SigningKey, UnknownAlgorithm, VerificationKey};
pub use sign::{BoxFuture, MessageSigner, SignError, SignErrorKind, Signer, SigningConfigError};
pub use unix_clock::UnixClock;
pub use verify::{
    InMemoryKeyResolver, KeyResolver, KeyResolverError, SignatureVerification,
    SignatureVerificationLayer, VerifiedSignature, Verifier, VerifierBuilder, VerifyError,
    VerifyErrorKind,
};
pub use wire::{ComponentError, ComponentId, DigestAlgorithm};
