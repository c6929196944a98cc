//! Reading key text: a JWK (RFC 7517), a PEM block (RFC 7468) or, for
//! `hmac-sha256` only, a base64 shared secret. The one entry point that
//! [`SigningKey`](super::SigningKey) and
//! [`VerificationKey`](super::VerificationKey) load through.

use base64::Engine as _;
use zeroize::Zeroizing;

use super::algorithm::Algorithm;
use super::decoded::DecodedKey;
use super::error::KeyError;
use super::{jwk, pem};

/// Decodes PEM, a JWK, or (for HMAC only) a base64 secret.
pub(super) fn parse(algorithm: Algorithm, text: &str) -> Result<DecodedKey, KeyError> {
    let trimmed = text.trim();
    if algorithm.is_symmetric() && !is_jwk(trimmed) && !is_pem(trimmed) {
        decode_base64_secret(trimmed).map(DecodedKey::Symmetric)
    } else {
        parse_pem_or_jwk(trimmed)
    }
}

/// Decodes a JWK object or the first PEM block of `text`, whatever the
/// algorithm it will serve (the JOSE keys load through here too).
pub(crate) fn parse_pem_or_jwk(text: &str) -> Result<DecodedKey, KeyError> {
    let text = text.trim();
    if is_jwk(text) {
        jwk::decode(text)
    } else if is_pem(text) {
        pem::decode(text)
    } else {
        Err(KeyError::malformed(
            "expected a PEM block (-----BEGIN ...) or a JWK object",
        ))
    }
}

fn is_jwk(text: &str) -> bool {
    text.starts_with('{')
}

fn is_pem(text: &str) -> bool {
    text.contains("-----BEGIN ")
}

/// Decodes a shared secret written as base64 (standard or URL-safe, padded or not).
fn decode_base64_secret(text: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    let standard = base64::engine::general_purpose::STANDARD_NO_PAD_INDIFFERENT;
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
    standard
        .decode(compact.as_bytes())
        .or_else(|_| url_safe.decode(compact.as_bytes()))
        .map(Zeroizing::new)
        .map_err(|_| KeyError::malformed("the shared secret is not valid base64"))
}
