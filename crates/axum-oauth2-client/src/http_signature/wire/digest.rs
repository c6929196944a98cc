//! The `Content-Digest` field (RFC 9530 §2) with `sha-256` and `sha-512`.
//!
//! A signature covers the body by covering `content-digest` (RFC 9421
//! §7.2.8); the verifier then checks that the digest matches the body.

use base64::Engine as _;
use http::header::HeaderName;
use sha2::{Digest as _, Sha256, Sha512};
use subtle::ConstantTimeEq as _;

/// The `Content-Digest` field name.
pub(crate) static CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");

/// A `Content-Digest` hash algorithm (RFC 9530 §5, "Hash Algorithms for
/// HTTP Digest Fields" registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// `sha-256` (the default).
    #[default]
    Sha256,
    /// `sha-512`.
    Sha512,
}

impl DigestAlgorithm {
    /// The registered key, e.g. `sha-256`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha-256",
            DigestAlgorithm::Sha512 => "sha-512",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        match key {
            "sha-256" => Some(DigestAlgorithm::Sha256),
            "sha-512" => Some(DigestAlgorithm::Sha512),
            _ => None,
        }
    }

    fn digest(self, body: &[u8]) -> Vec<u8> {
        match self {
            DigestAlgorithm::Sha256 => Sha256::digest(body).to_vec(),
            DigestAlgorithm::Sha512 => Sha512::digest(body).to_vec(),
        }
    }
}

/// The `Content-Digest` value for `body`, e.g. `sha-256=:X48E…=:`.
pub(crate) fn content_digest(algorithm: DigestAlgorithm, body: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(algorithm.digest(body));
    format!("{}=:{encoded}:", algorithm.as_str())
}

/// Why a `Content-Digest` check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DigestError {
    /// No `Content-Digest` field.
    Missing,
    /// The field is not a dictionary of byte sequences.
    Malformed,
    /// None of the digests uses `sha-256` or `sha-512`.
    Unsupported,
    /// A supported digest does not match the body.
    Mismatch(DigestAlgorithm),
}

/// Checks every supported digest of a parsed `Content-Digest` against
/// `body`; at least one must be present and all present must match.
pub(crate) fn check_content_digest(dict: &sfv::Dictionary, body: &[u8]) -> Result<(), DigestError> {
    let mut checked = false;
    for (key, entry) in dict {
        let Some(algorithm) = DigestAlgorithm::from_key(key.as_str()) else {
            continue;
        };
        let sfv::ListEntry::Item(item) = entry else {
            return Err(DigestError::Malformed);
        };
        let expected = item
            .bare_item
            .as_byte_sequence()
            .ok_or(DigestError::Malformed)?;
        if !bool::from(algorithm.digest(body).ct_eq(expected)) {
            return Err(DigestError::Mismatch(algorithm));
        }
        checked = true;
    }
    if checked {
        Ok(())
    } else {
        Err(DigestError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::super::params::parse_dictionary;
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn check(headers: &HeaderMap, body: &[u8]) -> Result<(), DigestError> {
        let dict = parse_dictionary(headers, &CONTENT_DIGEST)
            .map_err(|_| DigestError::Malformed)?
            .ok_or(DigestError::Missing)?;
        check_content_digest(&dict, body)
    }

    #[test]
    fn rfc9530_examples() {
        // RFC 9530 §2 / RFC 9421 §2.4 body {"hello": "world"}.
        let body = br#"{"hello": "world"}"#;
        assert_eq!(
            content_digest(DigestAlgorithm::Sha256, body),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
        assert_eq!(
            content_digest(DigestAlgorithm::Sha512, body),
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
        );
    }

    #[test]
    fn checks_match_mismatch_and_unsupported() {
        let body = b"payload";
        let mut headers = HeaderMap::new();
        assert_eq!(check(&headers, body), Err(DigestError::Missing));
        let good = content_digest(DigestAlgorithm::Sha512, body);
        headers.insert(
            &CONTENT_DIGEST,
            HeaderValue::from_str(&good).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(check(&headers, body), Ok(()));
        assert_eq!(
            check(&headers, b"tampered"),
            Err(DigestError::Mismatch(DigestAlgorithm::Sha512))
        );
        headers.insert(&CONTENT_DIGEST, HeaderValue::from_static("md5=:AAAA:"));
        assert_eq!(check(&headers, body), Err(DigestError::Unsupported));
        headers.insert(&CONTENT_DIGEST, HeaderValue::from_static("sha-256=1"));
        assert_eq!(check(&headers, body), Err(DigestError::Malformed));
        headers.insert(&CONTENT_DIGEST, HeaderValue::from_static("(((("));
        assert_eq!(check(&headers, body), Err(DigestError::Malformed));
    }
}
