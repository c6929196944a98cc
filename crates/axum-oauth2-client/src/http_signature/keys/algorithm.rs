//! Signature algorithms (RFC 9421 §3.3).

use std::fmt;
use std::str::FromStr;

/// An HTTP message signature algorithm from the registry of RFC 9421 §6.2.2.
///
/// The `alg` signature parameter carries [`Algorithm::as_str`]; keys are
/// bound to exactly one algorithm, so a verifier never lets the message pick
/// a weaker one (RFC 9421 §7.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `hmac-sha256`: HMAC using SHA-256 (§3.3.3).
    HmacSha256,
    /// `ed25519`: EdDSA using curve edwards25519 (§3.3.6).
    Ed25519,
    /// `ecdsa-p256-sha256`: ECDSA using curve P-256 and SHA-256 (§3.3.4).
    EcdsaP256Sha256,
    /// `ecdsa-p384-sha384`: ECDSA using curve P-384 and SHA-384 (§3.3.5).
    EcdsaP384Sha384,
    /// `rsa-pss-sha512`: RSASSA-PSS using SHA-512 with a 64-byte salt (§3.3.1).
    RsaPssSha512,
    /// `rsa-v1_5-sha256`: RSASSA-PKCS1-v1_5 using SHA-256 (§3.3.2).
    RsaV15Sha256,
}

impl Algorithm {
    /// Every supported algorithm, in registry order.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::RsaPssSha512,
        Algorithm::RsaV15Sha256,
        Algorithm::HmacSha256,
        Algorithm::EcdsaP256Sha256,
        Algorithm::EcdsaP384Sha384,
        Algorithm::Ed25519,
    ];

    /// The registered name, as carried in the `alg` parameter.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::Ed25519 => "ed25519",
            Algorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Algorithm::EcdsaP384Sha384 => "ecdsa-p384-sha384",
            Algorithm::RsaPssSha512 => "rsa-pss-sha512",
            Algorithm::RsaV15Sha256 => "rsa-v1_5-sha256",
        }
    }

    /// Whether the algorithm is a MAC over a shared secret (RFC 9421 §7.3.3).
    #[must_use]
    pub const fn is_symmetric(self) -> bool {
        matches!(self, Algorithm::HmacSha256)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name given is not a supported signature algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signature algorithm {name:?}; expected one of {expected}")]
pub struct UnknownAlgorithm {
    name: String,
    expected: &'static str,
}

impl UnknownAlgorithm {
    /// The stable snake_case code of this error: `unknown_algorithm`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        "unknown_algorithm"
    }

    /// The name that was not recognised.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Parses a registered name exactly (names are case-sensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|alg| alg.as_str() == s)
            .ok_or_else(|| UnknownAlgorithm {
                // Bounded so that a hostile `alg` parameter cannot blow up logs.
                name: s.chars().take(64).collect(),
                expected: "rsa-pss-sha512, rsa-v1_5-sha256, hmac-sha256, ecdsa-p256-sha256, \
                           ecdsa-p384-sha384, ed25519",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
        }
    }

    #[test]
    fn unknown_names_are_rejected_and_named() {
        let err = "rsa-sha1".parse::<Algorithm>().err();
        assert_eq!(err.as_ref().map(UnknownAlgorithm::name), Some("rsa-sha1"));
        assert_eq!(
            err.as_ref().map(UnknownAlgorithm::code),
            Some("unknown_algorithm")
        );
        assert!("RSA-PSS-SHA512".parse::<Algorithm>().is_err());
    }
}
