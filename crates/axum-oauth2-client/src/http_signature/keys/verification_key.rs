//! Public keys and shared secrets for verifying (RFC 9421 §3.2, §3.3).
//!
//! A key is bound to one [`Algorithm`] when it is loaded (§7.3.6). Keys
//! load from PEM (SPKI, PKCS#1, or a private key whose public half is kept)
//! or from a JWK; a `hmac-sha256` secret may also be given as base64 text.
//! `Debug` shows no key bytes, and no [`KeyError`] contains key material.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, KeyInit as _, Mac as _};
use rsa::signature::Verifier as _;
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

use super::algorithm::Algorithm;
use super::decoded::{DecodedKey, check_hmac_len, check_rsa_size};
use super::error::KeyError;
use super::parse::parse;

/// RFC 9421 §3.3.1: the RSASSA-PSS salt is 64 bytes (not the hash length
/// default of some libraries, and not "maximum").
pub(super) const PSS_SALT_LEN: usize = 64;

/// The verifying half of a key, one variant per algorithm.
pub(super) enum VerifyInner {
    Hmac(Zeroizing<Vec<u8>>),
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    RsaPss(Box<rsa::pss::VerifyingKey<Sha512>>),
    RsaV15(Box<rsa::pkcs1v15::VerifyingKey<Sha256>>),
}

/// A public key (or shared secret) bound to one signature algorithm.
///
/// Cheap to clone. `Debug` shows the algorithm only.
#[derive(Clone)]
pub struct VerificationKey {
    algorithm: Algorithm,
    inner: Arc<VerifyInner>,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("algorithm", &self.algorithm.as_str())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl VerificationKey {
    /// Loads a verification key for `algorithm` from PEM, a JWK, or — for
    /// `hmac-sha256` only — a base64-encoded shared secret.
    ///
    /// Public keys (SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`, public JWKs)
    /// are the usual input; a private key is accepted too and its public half
    /// is kept.
    ///
    /// # Errors
    /// [`KeyError`] when the text does not decode, is of a type `algorithm`
    /// cannot use, or is too weak.
    pub fn from_pem_or_jwk(algorithm: Algorithm, text: &str) -> Result<Self, KeyError> {
        Self::from_decoded(algorithm, parse(algorithm, text)?)
    }

    /// An `hmac-sha256` key from raw secret bytes (at least 32).
    ///
    /// # Errors
    /// [`KeyError::Weak`] when the secret is shorter than 32 bytes.
    pub fn hmac_sha256(secret: &[u8]) -> Result<Self, KeyError> {
        Self::from_decoded(
            Algorithm::HmacSha256,
            DecodedKey::Symmetric(Zeroizing::new(secret.to_vec())),
        )
    }

    fn from_decoded(algorithm: Algorithm, key: DecodedKey) -> Result<Self, KeyError> {
        let found = key.key_type();
        let rsa_public = |key: DecodedKey| -> Option<rsa::PublicKey> {
            match key {
                DecodedKey::RsaPrivate(key) => Some(key.to_public_key()),
                DecodedKey::RsaPublic(key) => Some(*key),
                _ => None,
            }
        };
        let inner = match (algorithm, key) {
            (Algorithm::HmacSha256, DecodedKey::Symmetric(secret)) => {
                check_hmac_len(&secret)?;
                VerifyInner::Hmac(secret)
            }
            (Algorithm::Ed25519, DecodedKey::Ed25519Private(key)) => {
                VerifyInner::Ed25519(key.verifying_key())
            }
            (Algorithm::Ed25519, DecodedKey::Ed25519Public(key)) => VerifyInner::Ed25519(key),
            (Algorithm::EcdsaP256Sha256, DecodedKey::P256Private(key)) => {
                VerifyInner::P256(p256::ecdsa::VerifyingKey::from(key.public_key()))
            }
            (Algorithm::EcdsaP256Sha256, DecodedKey::P256Public(key)) => {
                VerifyInner::P256(p256::ecdsa::VerifyingKey::from(key))
            }
            (Algorithm::EcdsaP384Sha384, DecodedKey::P384Private(key)) => {
                VerifyInner::P384(p384::ecdsa::VerifyingKey::from(key.public_key()))
            }
            (Algorithm::EcdsaP384Sha384, DecodedKey::P384Public(key)) => {
                VerifyInner::P384(p384::ecdsa::VerifyingKey::from(key))
            }
            (
                Algorithm::RsaPssSha512,
                key @ (DecodedKey::RsaPrivate(_) | DecodedKey::RsaPublic(_)),
            ) => {
                let key = rsa_public(key).ok_or(KeyError::TypeMismatch { algorithm, found })?;
                check_rsa_size(algorithm, &key)?;
                VerifyInner::RsaPss(Box::new(rsa::pss::VerifyingKey::new_with_salt_len(
                    key,
                    PSS_SALT_LEN,
                )))
            }
            (
                Algorithm::RsaV15Sha256,
                key @ (DecodedKey::RsaPrivate(_) | DecodedKey::RsaPublic(_)),
            ) => {
                let key = rsa_public(key).ok_or(KeyError::TypeMismatch { algorithm, found })?;
                check_rsa_size(algorithm, &key)?;
                VerifyInner::RsaV15(Box::new(rsa::pkcs1v15::VerifyingKey::new(key)))
            }
            _ => return Err(KeyError::TypeMismatch { algorithm, found }),
        };
        Ok(Self {
            algorithm,
            inner: Arc::new(inner),
        })
    }

    /// A key of `algorithm` (the public half made by
    /// [`SigningKey::verification_key`](super::SigningKey::verification_key)).
    pub(super) fn new(algorithm: Algorithm, inner: VerifyInner) -> Self {
        Self {
            algorithm,
            inner: Arc::new(inner),
        }
    }

    /// The algorithm this key verifies.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Checks `signature` over the signature base `message` (RFC 9421 §3.2,
    /// `HTTP_VERIFY`). Malformed signatures simply fail.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &*self.inner {
            VerifyInner::Hmac(secret) => Hmac::<Sha256>::new_from_slice(secret)
                .map(|mut mac| {
                    mac.update(message);
                    // Constant-time comparison (RFC 9421 §3.3.3).
                    mac.verify_slice(signature).is_ok()
                })
                .unwrap_or(false),
            VerifyInner::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .map(|sig| key.verify_strict(message, &sig).is_ok())
                .unwrap_or(false),
            VerifyInner::P256(key) => p256::ecdsa::Signature::from_slice(signature)
                .map(|sig| key.verify(message, &sig).is_ok())
                .unwrap_or(false),
            VerifyInner::P384(key) => p384::ecdsa::Signature::from_slice(signature)
                .map(|sig| key.verify(message, &sig).is_ok())
                .unwrap_or(false),
            VerifyInner::RsaPss(key) => rsa::pss::Signature::try_from(signature)
                .map(|sig| key.verify(message, &sig).is_ok())
                .unwrap_or(false),
            VerifyInner::RsaV15(key) => rsa::pkcs1v15::Signature::try_from(signature)
                .map(|sig| key.verify(message, &sig).is_ok())
                .unwrap_or(false),
        }
    }
}
