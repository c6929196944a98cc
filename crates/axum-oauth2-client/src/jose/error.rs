//! Why a JOSE key could not be loaded ([`KeyError`]) and why a JWT could not
//! be made ([`JwsError`]). Neither ever contains key bytes, key text, claim
//! values or a JWT.

use super::algorithm::{JwsAlgorithm, UnknownJwsAlgorithm};
use crate::http_signature::KeyType;

/// Why a [`ClientKey`](super::ClientKey) could not be loaded or extended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key text is not a PEM block or a JWK, or it does not decode. The
    /// code is that of the decoder (`malformed_key`, `unsupported_key`).
    #[error(transparent)]
    Decode(#[from] crate::http_signature::KeyError),
    /// A JWK's `alg` member names no algorithm this crate signs with.
    #[error("the JWK \"alg\" member is not usable: {0}")]
    UnknownAlgorithm(#[source] UnknownJwsAlgorithm),
    /// The algorithm asked for differs from the one the JWK declares in its
    /// `alg` member (RFC 7517 §4.4).
    #[error("the JWK is declared for {declared}, not {requested}")]
    JwkAlgorithmConflict {
        /// The algorithm asked for.
        requested: JwsAlgorithm,
        /// The algorithm in the JWK.
        declared: JwsAlgorithm,
    },
    /// The key is of a type the algorithm cannot use (RFC 7518 §3.1).
    #[error("a {found} key cannot be used with {algorithm}")]
    TypeMismatch {
        /// The algorithm the key was loaded for.
        algorithm: JwsAlgorithm,
        /// The key type found.
        found: KeyType,
    },
    /// The key is too small: an RSA modulus below 2048 bits (RFC 7518
    /// §3.3, §3.5) or an HMAC key shorter than the hash output (§3.2).
    #[error("key too weak for {algorithm}: {reason}")]
    Weak {
        /// The algorithm the key was loaded for.
        algorithm: JwsAlgorithm,
        /// What is too small.
        reason: String,
    },
    /// A public key was given; signing needs the private key.
    #[error("signing needs a private key, but a {found} public key was given")]
    PublicKey {
        /// The key type found.
        found: KeyType,
    },
    /// A shared-secret (`HS*`) algorithm was asked for, or implied by an
    /// `oct` key, where only a public-key algorithm will do: DPoP proofs are
    /// verified with the public key they carry (RFC 9449 §4.2, §4.3).
    #[error("{algorithm} is a shared-secret algorithm; a public-key algorithm is required")]
    SymmetricAlgorithm {
        /// The algorithm asked for or implied.
        algorithm: JwsAlgorithm,
    },
    /// The certificate is not a PEM `CERTIFICATE` block holding a DER X.509
    /// certificate (RFC 5280 §4.1).
    #[error("malformed certificate: {reason}")]
    MalformedCertificate {
        /// What was wrong, without any certificate bytes.
        reason: &'static str,
    },
    /// The certificate's subject public key is not the public half of this
    /// key (a shared secret matches no certificate).
    #[error("the certificate is not for this key")]
    CertificateMismatch,
}

impl KeyError {
    /// A stable snake_case code for this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Decode(inner) => inner.code(),
            KeyError::UnknownAlgorithm(inner) => inner.code(),
            KeyError::JwkAlgorithmConflict { .. } => "jwk_algorithm_conflict",
            KeyError::TypeMismatch { .. } => "key_type_mismatch",
            KeyError::Weak { .. } => "weak_key",
            KeyError::PublicKey { .. } => "public_key_for_signing",
            KeyError::SymmetricAlgorithm { .. } => "symmetric_algorithm",
            KeyError::MalformedCertificate { .. } => "malformed_certificate",
            KeyError::CertificateMismatch => "certificate_mismatch",
        }
    }
}

/// Why a JWT could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// The signature primitive failed.
    #[error("the {algorithm} signature could not be computed")]
    Signing {
        /// The algorithm of the key.
        algorithm: JwsAlgorithm,
    },
    /// The claims could not be serialised as JSON.
    #[error("the claims could not be serialised as JSON")]
    Encoding,
    /// An extra claim would replace one the assertion sets itself (`iss`,
    /// `sub`, `aud`, `iat`, `nbf`, `exp`, `jti`; RFC 7523 §3).
    #[error("the extra claim {name:?} is set by the assertion itself")]
    ReservedClaim {
        /// The claim name.
        name: String,
    },
    /// The assertion names no audience (RFC 7523 §3 requires `aud`).
    #[error("the assertion has no audience")]
    MissingAudience,
    /// The time given is before the Unix epoch, or the expiry overflows.
    #[error("invalid assertion time: {reason}")]
    InvalidTime {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl JwsError {
    /// A stable snake_case code for this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            JwsError::Signing { .. } => "signing_failed",
            JwsError::Encoding => "claims_encoding",
            JwsError::ReservedClaim { .. } => "reserved_claim",
            JwsError::MissingAudience => "missing_audience",
            JwsError::InvalidTime { .. } => "invalid_time",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_snake_case() {
        let errors = [
            KeyError::CertificateMismatch.code(),
            KeyError::MalformedCertificate { reason: "x" }.code(),
            KeyError::PublicKey {
                found: KeyType::Rsa,
            }
            .code(),
            KeyError::Decode(crate::http_signature::KeyError::malformed("x")).code(),
            KeyError::SymmetricAlgorithm {
                algorithm: JwsAlgorithm::HS256,
            }
            .code(),
            JwsError::MissingAudience.code(),
            JwsError::Encoding.code(),
        ];
        assert_eq!(
            errors,
            [
                "certificate_mismatch",
                "malformed_certificate",
                "public_key_for_signing",
                "malformed_key",
                "symmetric_algorithm",
                "missing_audience",
                "claims_encoding",
            ]
        );
    }
}
