//! Key material (RFC 9421 §3.3, §7.3): the algorithms, keys decoded from
//! PEM or JWK, and the [`SigningKey`] and [`VerificationKey`] bound to one
//! algorithm each.
//!
//! The files depend on one another in one direction only: `key_type` ←
//! `error` ← `decoded` ← `rsa_parts` ← `pem`, `jwk` ← `parse` ←
//! `verification_key` ← `signing_key`.
//!
//! The JOSE keys ([`crate::jose`]) are read by the same decoder, through
//! `parse_pem_or_jwk`, `parse_pem` and `decode_spki`.

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
pub(crate) use decoded::{DecodedKey, MIN_RSA_BITS};
pub use error::KeyError;
pub use key_type::KeyType;
pub(crate) use parse::parse_pem_or_jwk;
pub(crate) use pem::{decode_spki, parse_pem};
pub use signing_key::SigningKey;
pub use verification_key::VerificationKey;
