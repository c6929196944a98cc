//! Key material (RFC 9421 §3.3, §7.3): the algorithms, keys decoded from
//! PEM or JWK, and the [`SigningKey`] and [`VerificationKey`] bound to one
//! algorithm each.
//!
//! The files depend on one another in one direction only: `key_type` ←
//! `error` ← `decoded` ← `rsa_parts` ← `pem`, `jwk` ← `parse` ←
//! `verification_key` ← `signing_key`.

mod algorithm;
mod decoded;
mod error;
mod jwk;
mod key_type;
mod parse;
mod pem;
mod rsa_parts;
mod signing_key;
mod verification_key;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use error::KeyError;
pub use key_type::KeyType;
pub use signing_key::SigningKey;
pub use verification_key::VerificationKey;
