//! The kind of key material found in PEM or JWK input (RFC 7518 §6 `kty`
//! and curves, RFC 8037 `OKP`), named in [`KeyError`](super::KeyError)s.

use std::fmt;

/// The kind of key found in PEM or JWK input, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// An RSA key.
    Rsa,
    /// An elliptic-curve key on P-256.
    EcP256,
    /// An elliptic-curve key on P-384.
    EcP384,
    /// An Ed25519 key.
    Ed25519,
    /// A shared secret.
    Symmetric,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Rsa => "RSA",
            KeyType::EcP256 => "EC P-256",
            KeyType::EcP384 => "EC P-384",
            KeyType::Ed25519 => "Ed25519",
            KeyType::Symmetric => "symmetric",
        })
    }
}
