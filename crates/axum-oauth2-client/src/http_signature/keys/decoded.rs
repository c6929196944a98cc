//! Key material as decoded from PEM or JWK, before it is bound to an
//! algorithm, and the checks that refuse weak keys (RFC 9421 §3.3.1:
//! RSA moduli of at least 2048 bits; §3.3.3: HMAC secrets at least as long
//! as the SHA-256 output).

use rsa::traits::PublicKeyParts as _;
use zeroize::Zeroizing;

use super::algorithm::Algorithm;
use super::error::KeyError;
use super::key_type::KeyType;

/// Smallest RSA modulus accepted, in bits (for JWS too: RFC 7518 §3.3).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// Smallest HMAC secret accepted, in bytes (the output size of SHA-256).
const MIN_HMAC_KEY_LEN: usize = 32;

/// Key material as decoded from PEM or JWK, before it is bound to an algorithm.
pub(crate) enum DecodedKey {
    RsaPrivate(Box<rsa::PrivateKey>),
    RsaPublic(Box<rsa::PublicKey>),
    P256Private(p256::SecretKey),
    P256Public(p256::PublicKey),
    P384Private(p384::SecretKey),
    P384Public(p384::PublicKey),
    Ed25519Private(Box<ed25519_dalek::SigningKey>),
    Ed25519Public(ed25519_dalek::VerifyingKey),
    Symmetric(Zeroizing<Vec<u8>>),
}

impl DecodedKey {
    pub(crate) fn key_type(&self) -> KeyType {
        match self {
            DecodedKey::RsaPrivate(_) | DecodedKey::RsaPublic(_) => KeyType::Rsa,
            DecodedKey::P256Private(_) | DecodedKey::P256Public(_) => KeyType::EcP256,
            DecodedKey::P384Private(_) | DecodedKey::P384Public(_) => KeyType::EcP384,
            DecodedKey::Ed25519Private(_) | DecodedKey::Ed25519Public(_) => KeyType::Ed25519,
            DecodedKey::Symmetric(_) => KeyType::Symmetric,
        }
    }

    pub(crate) fn is_private(&self) -> bool {
        matches!(
            self,
            DecodedKey::RsaPrivate(_)
                | DecodedKey::P256Private(_)
                | DecodedKey::P384Private(_)
                | DecodedKey::Ed25519Private(_)
                | DecodedKey::Symmetric(_)
        )
    }
}

pub(super) fn check_rsa_size(algorithm: Algorithm, key: &rsa::PublicKey) -> Result<(), KeyError> {
    let bits = key.size() * 8;
    if bits < MIN_RSA_BITS {
        return Err(KeyError::Weak {
            algorithm,
            reason: format!("RSA modulus is {bits} bits; at least {MIN_RSA_BITS} are required"),
        });
    }
    Ok(())
}

pub(super) fn check_hmac_len(secret: &[u8]) -> Result<(), KeyError> {
    if secret.len() < MIN_HMAC_KEY_LEN {
        return Err(KeyError::Weak {
            algorithm: Algorithm::HmacSha256,
            reason: format!(
                "shared secret is {} bytes; at least {MIN_HMAC_KEY_LEN} are required",
                secret.len()
            ),
        });
    }
    Ok(())
}
