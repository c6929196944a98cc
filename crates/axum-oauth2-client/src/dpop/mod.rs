//! DPoP: demonstrating proof of possession (RFC 9449) — the building blocks
//! a client needs to send sender-constrained requests.
//!
//! - [`DpopKey`]: the key pair, its public JWK and its RFC 7638 thumbprint
//!   (`jkt`); loaded from PEM or JWK, or generated for the life of the
//!   process.
//! - [`DpopKey::proof_for`]: the proof JWT of one request (RFC 9449 §4.2),
//!   sent as the `DPoP` header, bound to an access token by `ath` when one
//!   is given.
//! - Inside the crate: the `DPoP-Nonce` header and the last nonce per origin
//!   (§8, §9), and the two ways a server asks for a nonce: a `DPoP`
//!   challenge with `error="use_dpop_nonce"` (§9) and a token endpoint's
//!   `use_dpop_nonce` error (§8).
//!
//! ```
//! use axum_oauth2_client::dpop::DpopKey;
//! use url::Url;
//!
//! let key = DpopKey::generate();
//! let url = Url::parse("https://idp.example.com/oauth2/token")?;
//! // A token request's proof: no access token yet, no nonce yet.
//! let proof = key.proof_for(&http::Method::POST, &url, None, None)?;
//! assert!(proof.expose_secret().starts_with("eyJ"));
//! // The token is bound to this thumbprint (`cnf.jkt`, RFC 9449 §6.1).
//! println!("jkt = {}", key.thumbprint());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod challenge;
mod key;
mod nonce;
mod proof;
mod thumbprint;

pub use key::DpopKey;

pub(crate) use challenge::{asks_for_nonce, is_use_dpop_nonce};
pub(crate) use nonce::NonceCache;
pub(crate) use proof::{DPOP, dpop_header};
