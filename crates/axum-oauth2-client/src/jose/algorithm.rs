//! JWS signature algorithms (RFC 7518 §3.1; `EdDSA` from RFC 8037 §3.1).

use std::fmt;
use std::str::FromStr;

/// A JWS `alg` value (RFC 7515 §4.1.1) this crate can sign with.
///
/// A [`ClientKey`](super::ClientKey) is bound to exactly one algorithm when
/// it is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwsAlgorithm {
    /// `RS256`: RSASSA-PKCS1-v1_5 using SHA-256 (RFC 7518 §3.3).
    RS256,
    /// `RS384`: RSASSA-PKCS1-v1_5 using SHA-384 (RFC 7518 §3.3).
    RS384,
    /// `RS512`: RSASSA-PKCS1-v1_5 using SHA-512 (RFC 7518 §3.3).
    RS512,
    /// `PS256`: RSASSA-PSS using SHA-256, MGF1 with SHA-256 and a 32-byte
    /// salt (RFC 7518 §3.5).
    PS256,
    /// `PS384`: RSASSA-PSS using SHA-384, MGF1 with SHA-384 and a 48-byte
    /// salt (RFC 7518 §3.5).
    PS384,
    /// `PS512`: RSASSA-PSS using SHA-512, MGF1 with SHA-512 and a 64-byte
    /// salt (RFC 7518 §3.5).
    PS512,
    /// `ES256`: ECDSA using P-256 and SHA-256 (RFC 7518 §3.4).
    ES256,
    /// `ES384`: ECDSA using P-384 and SHA-384 (RFC 7518 §3.4).
    ES384,
    /// `EdDSA` with Ed25519 (RFC 8037 §3.1).
    EdDSA,
    /// `HS256`: HMAC using SHA-256 (RFC 7518 §3.2).
    HS256,
    /// `HS384`: HMAC using SHA-384 (RFC 7518 §3.2).
    HS384,
    /// `HS512`: HMAC using SHA-512 (RFC 7518 §3.2).
    HS512,
}

/// The names [`JwsAlgorithm::from_str`] accepts, for error messages.
const EXPECTED: &str = "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256, \
                        HS384, HS512";

/// The longest algorithm name an [`UnknownJwsAlgorithm`] repeats, in characters.
const MAX_NAME_SHOWN: usize = 32;

impl JwsAlgorithm {
    /// Every supported algorithm.
    pub const ALL: [JwsAlgorithm; 12] = [
        JwsAlgorithm::RS256,
        JwsAlgorithm::RS384,
        JwsAlgorithm::RS512,
        JwsAlgorithm::PS256,
        JwsAlgorithm::PS384,
        JwsAlgorithm::PS512,
        JwsAlgorithm::ES256,
        JwsAlgorithm::ES384,
        JwsAlgorithm::EdDSA,
        JwsAlgorithm::HS256,
        JwsAlgorithm::HS384,
        JwsAlgorithm::HS512,
    ];

    /// The registered JWA name, as carried in the `alg` header parameter
    /// (RFC 7518 §3.1, RFC 8037 §3.1).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            JwsAlgorithm::RS256 => "RS256",
            JwsAlgorithm::RS384 => "RS384",
            JwsAlgorithm::RS512 => "RS512",
            JwsAlgorithm::PS256 => "PS256",
            JwsAlgorithm::PS384 => "PS384",
            JwsAlgorithm::PS512 => "PS512",
            JwsAlgorithm::ES256 => "ES256",
            JwsAlgorithm::ES384 => "ES384",
            JwsAlgorithm::EdDSA => "EdDSA",
            JwsAlgorithm::HS256 => "HS256",
            JwsAlgorithm::HS384 => "HS384",
            JwsAlgorithm::HS512 => "HS512",
        }
    }

    /// Whether the algorithm is a MAC over a shared secret (`HS*`, RFC 7518
    /// §3.2), as used by `client_secret_jwt`.
    #[must_use]
    pub const fn is_symmetric(self) -> bool {
        matches!(
            self,
            JwsAlgorithm::HS256 | JwsAlgorithm::HS384 | JwsAlgorithm::HS512
        )
    }

    /// The output size of the algorithm's hash, in bytes: the minimum HMAC
    /// key length (RFC 7518 §3.2) and the PSS salt length (§3.5).
    pub(crate) const fn hash_len(self) -> usize {
        match self {
            JwsAlgorithm::RS256
            | JwsAlgorithm::PS256
            | JwsAlgorithm::ES256
            | JwsAlgorithm::HS256 => 32,
            JwsAlgorithm::RS384
            | JwsAlgorithm::PS384
            | JwsAlgorithm::ES384
            | JwsAlgorithm::HS384 => 48,
            // Ed25519 hashes with SHA-512 internally.
            JwsAlgorithm::RS512
            | JwsAlgorithm::PS512
            | JwsAlgorithm::EdDSA
            | JwsAlgorithm::HS512 => 64,
        }
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name given is not a JWS algorithm this crate signs with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown JWS algorithm {name:?}; expected one of {expected}")]
pub struct UnknownJwsAlgorithm {
    name: String,
    expected: &'static str,
}

impl UnknownJwsAlgorithm {
    /// The stable snake_case code of this error: `unknown_algorithm`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        "unknown_algorithm"
    }

    /// The name that was not recognised (at most 32 characters of it).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for JwsAlgorithm {
    type Err = UnknownJwsAlgorithm;

    /// Parses a JWA name exactly: names are case-sensitive (RFC 7515
    /// §4.1.1), so `rs256` and `EDDSA` are refused.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JwsAlgorithm::ALL
            .into_iter()
            .find(|alg| alg.as_str() == s)
            .ok_or_else(|| UnknownJwsAlgorithm {
                // Bounded: the name may come from a file or a JWK.
                name: s.chars().take(MAX_NAME_SHOWN).collect(),
                expected: EXPECTED,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str() {
        for alg in JwsAlgorithm::ALL {
            assert_eq!(alg.as_str().parse::<JwsAlgorithm>(), Ok(alg));
            assert_eq!(alg.to_string(), alg.as_str());
        }
    }

    #[test]
    fn names_are_case_sensitive() {
        for name in [
            "rs256", "EDDSA", "eddsa", "Hs256", " RS256", "RS256 ", "none", "",
        ] {
            assert!(name.parse::<JwsAlgorithm>().is_err(), "{name:?}");
        }
    }

    #[test]
    fn unknown_names_are_named_bounded_and_list_the_accepted_ones() {
        let err = "ES512".parse::<JwsAlgorithm>().err();
        assert_eq!(err.as_ref().map(UnknownJwsAlgorithm::name), Some("ES512"));
        assert_eq!(
            err.as_ref().map(UnknownJwsAlgorithm::code),
            Some("unknown_algorithm")
        );
        let shown = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(shown.contains("\"ES512\""), "{shown}");
        assert!(
            shown.contains("PS256") && shown.contains("EdDSA"),
            "{shown}"
        );

        let long = "A".repeat(10_000);
        let err = long.parse::<JwsAlgorithm>().err();
        assert_eq!(err.as_ref().map(|e| e.name().len()), Some(MAX_NAME_SHOWN));
    }

    #[test]
    fn only_hmac_is_symmetric() {
        let symmetric: Vec<_> = JwsAlgorithm::ALL
            .into_iter()
            .filter(|alg| alg.is_symmetric())
            .collect();
        assert_eq!(
            symmetric,
            [
                JwsAlgorithm::HS256,
                JwsAlgorithm::HS384,
                JwsAlgorithm::HS512
            ]
        );
    }

    #[test]
    fn expected_list_names_every_algorithm() {
        for alg in JwsAlgorithm::ALL {
            assert!(EXPECTED.split(", ").any(|name| name == alg.as_str()));
        }
        assert_eq!(EXPECTED.split(", ").count(), JwsAlgorithm::ALL.len());
    }
}
