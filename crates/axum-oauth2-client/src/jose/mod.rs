//! JOSE for client authentication: JWTs signed as JWS compact
//! serializations (RFC 7515, algorithms of RFC 7518 and RFC 8037, claims
//! of RFC 7519) for the assertions of RFC 7523.
//!
//! - [`ClientKey`]: a private key or shared secret bound to one
//!   [`JwsAlgorithm`], with its `kid` and, optionally, the thumbprint of its
//!   X.509 certificate (`x5t#S256`).
//! - [`ClientAssertion`]: the claims of RFC 7523 §3, signed afresh (new
//!   `jti`) on every call, for `private_key_jwt` / `client_secret_jwt`
//!   client authentication (RFC 7523 §2.2, OIDC Core §9) and the JWT bearer
//!   grant (RFC 7523 §2.1).
//! - [`ServiceAccountKey`]: a Google service account key file.
//!
//! Key text is read by the same decoder as the RFC 9421 keys (PEM PKCS#8,
//! PKCS#1, SEC1, or a JWK). Signed JWTs are returned as
//! [`Secret`](crate::Secret)s, and no `Debug` output or error shows key
//! material.
//!
//! ```
//! use std::time::SystemTime;
//! use axum_oauth2_client::jose::{ClientAssertion, ClientKey, JwsAlgorithm};
//!
//! // client_secret_jwt with HS256: the secret is at least 32 bytes.
//! let key = ClientKey::hmac(b"an example client secret, 32+ bytes", JwsAlgorithm::HS256)?;
//! let assertion = ClientAssertion::new(
//!     "my-client",
//!     "my-client",
//!     vec!["https://idp.example.com/oauth2/token".to_owned()],
//! );
//! let jwt = assertion.sign(&key, SystemTime::now())?;
//! // Sent as client_assertion with client_assertion_type
//! // urn:ietf:params:oauth:client-assertion-type:jwt-bearer.
//! assert!(jwt.expose_secret().starts_with("eyJ"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod algorithm;
mod certificate;
mod client_assertion;
mod client_key;
mod error;
mod public_jwk;
mod service_account;
mod signing_key;

pub use algorithm::{JwsAlgorithm, UnknownJwsAlgorithm};
pub(crate) use certificate::Certificate;
pub use client_assertion::ClientAssertion;
pub use client_key::ClientKey;
pub use error::{JwsError, KeyError};
pub use service_account::{ServiceAccountError, ServiceAccountKey};
pub(crate) use signing_key::SigningKey;
