//! Private keys and shared secrets for signing (RFC 9421 §3.1, §3.3).
//!
//! A key is bound to one [`Algorithm`] when it is loaded, so that the `alg`
//! parameter of a message can never switch a key to another algorithm
//! (§7.3.6). Keys load from PEM (PKCS#8, PKCS#1, SEC1) or from a JWK; a
//! `hmac-sha256` secret may also be given as base64 text. `Debug` shows no
//! key bytes, and no [`KeyError`] contains key material.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, KeyInit as _, Mac as _};
use rsa::signature::{self, SignatureEncoding as _, Signer as _};
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

use super::algorithm::Algorithm;
use super::decoded::{DecodedKey, check_hmac_len, check_rsa_size};
use super::error::KeyError;
use super::key_type::KeyType;
use super::parse::parse;
use super::verification_key::{PSS_SALT_LEN, VerificationKey, VerifyInner};

enum SigningInner {
    Hmac(Zeroizing<Vec<u8>>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    RsaPss(Box<rsa::pss::SigningKey<Sha512>>),
    RsaV15(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

/// A private key (or shared secret) bound to one signature algorithm.
///
/// Cheap to clone. `Debug` shows the algorithm only.
#[derive(Clone)]
pub struct SigningKey {
    algorithm: Algorithm,
    inner: Arc<SigningInner>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm.as_str())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl SigningKey {
    /// Loads a signing key for `algorithm` from PEM, a JWK, or — for
    /// `hmac-sha256` only — a base64-encoded shared secret.
    ///
    /// PEM may be PKCS#8 (`PRIVATE KEY`, including the RSASSA-PSS OID),
    /// PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`). A JWK must
    /// carry the private members (`d`, or `k` for `oct`).
    ///
    /// # Errors
    /// [`KeyError`] when the text does not decode, is a public key, is of a
    /// type `algorithm` cannot use, or is too weak (RSA below 2048 bits,
    /// HMAC secrets below 32 bytes).
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
        if !key.is_private() {
            return Err(match (algorithm, found) {
                (Algorithm::RsaPssSha512 | Algorithm::RsaV15Sha256, KeyType::Rsa)
                | (Algorithm::EcdsaP256Sha256, KeyType::EcP256)
                | (Algorithm::EcdsaP384Sha384, KeyType::EcP384)
                | (Algorithm::Ed25519, KeyType::Ed25519) => {
                    KeyError::PublicKeyForSigning { algorithm }
                }
                _ => KeyError::TypeMismatch { algorithm, found },
            });
        }
        let inner = match (algorithm, key) {
            (Algorithm::HmacSha256, DecodedKey::Symmetric(secret)) => {
                check_hmac_len(&secret)?;
                SigningInner::Hmac(secret)
            }
            (Algorithm::Ed25519, DecodedKey::Ed25519Private(key)) => SigningInner::Ed25519(key),
            (Algorithm::EcdsaP256Sha256, DecodedKey::P256Private(key)) => {
                SigningInner::P256(p256::ecdsa::SigningKey::from(key))
            }
            (Algorithm::EcdsaP384Sha384, DecodedKey::P384Private(key)) => {
                SigningInner::P384(p384::ecdsa::SigningKey::from(key))
            }
            (Algorithm::RsaPssSha512, DecodedKey::RsaPrivate(key)) => {
                check_rsa_size(algorithm, key.as_public_key())?;
                SigningInner::RsaPss(Box::new(rsa::pss::SigningKey::new_with_salt_len(
                    *key,
                    PSS_SALT_LEN,
                )))
            }
            (Algorithm::RsaV15Sha256, DecodedKey::RsaPrivate(key)) => {
                check_rsa_size(algorithm, key.as_public_key())?;
                SigningInner::RsaV15(Box::new(rsa::pkcs1v15::SigningKey::new(*key)))
            }
            _ => return Err(KeyError::TypeMismatch { algorithm, found }),
        };
        Ok(Self {
            algorithm,
            inner: Arc::new(inner),
        })
    }

    /// The algorithm this key signs with.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The matching verification key (the public half, or the same secret for HMAC).
    #[must_use]
    pub fn verification_key(&self) -> VerificationKey {
        let inner = match &*self.inner {
            SigningInner::Hmac(secret) => VerifyInner::Hmac(secret.clone()),
            SigningInner::Ed25519(key) => VerifyInner::Ed25519(key.verifying_key()),
            SigningInner::P256(key) => VerifyInner::P256(*key.verifying_key()),
            SigningInner::P384(key) => VerifyInner::P384(*key.verifying_key()),
            SigningInner::RsaPss(key) => {
                VerifyInner::RsaPss(Box::new(rsa::pss::VerifyingKey::new_with_salt_len(
                    AsRef::<rsa::PrivateKey>::as_ref(&**key).to_public_key(),
                    PSS_SALT_LEN,
                )))
            }
            SigningInner::RsaV15(key) => {
                VerifyInner::RsaV15(Box::new(rsa::pkcs1v15::VerifyingKey::new(
                    AsRef::<rsa::PrivateKey>::as_ref(&**key).to_public_key(),
                )))
            }
        };
        VerificationKey::new(self.algorithm, inner)
    }

    /// Signs the signature base `message` (RFC 9421 §3.1, `HTTP_SIGN`).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(match &*self.inner {
            SigningInner::Hmac(secret) => {
                let mut mac =
                    Hmac::<Sha256>::new_from_slice(secret).map_err(|_| signature::Error::new())?;
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
            SigningInner::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
            SigningInner::P256(key) => {
                let sig: p256::ecdsa::Signature = key.try_sign(message)?;
                sig.to_bytes().to_vec()
            }
            SigningInner::P384(key) => {
                let sig: p384::ecdsa::Signature = key.try_sign(message)?;
                sig.to_bytes().to_vec()
            }
            SigningInner::RsaPss(key) => key.try_sign(message)?.to_vec(),
            SigningInner::RsaV15(key) => key.try_sign(message)?.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n\
        -----END PRIVATE KEY-----\n";
    const SHARED_SECRET_B64: &str =
        "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";

    #[test]
    fn debug_output_never_shows_key_bytes() -> Result<(), KeyError> {
        let secret = [0xAB_u8; 48];
        let keys = [
            SigningKey::hmac_sha256(&secret)?,
            SigningKey::from_pem_or_jwk(Algorithm::Ed25519, ED25519_PEM)?,
        ];
        for key in keys {
            let shown = format!("{key:?} {:?}", key.verification_key());
            assert!(shown.contains("[redacted]"), "{shown}");
            assert!(!shown.to_ascii_lowercase().contains("ab, ab"), "{shown}");
            assert!(!shown.contains("171"), "{shown}");
            assert!(!shown.contains("MC4CAQ"), "{shown}");
            // The seed of the RFC 9421 B.1.4 key starts with 0x9f 0x83.
            assert!(!shown.contains("159, 131"), "{shown}");
        }
        Ok(())
    }

    #[test]
    fn hmac_keys_parse_from_base64_and_sign_verify() -> Result<(), Box<dyn std::error::Error>> {
        let key = SigningKey::from_pem_or_jwk(Algorithm::HmacSha256, SHARED_SECRET_B64)?;
        let sig = key.sign(b"base")?;
        assert!(key.verification_key().verify(b"base", &sig));
        assert!(!key.verification_key().verify(b"other", &sig));
        Ok(())
    }

    #[test]
    fn short_hmac_secrets_are_refused() {
        let err = SigningKey::hmac_sha256(b"short").err();
        assert_eq!(err.map(|e| e.code()), Some("weak_key"));
    }

    #[test]
    fn key_type_must_match_algorithm() {
        let err = SigningKey::from_pem_or_jwk(Algorithm::EcdsaP256Sha256, ED25519_PEM).err();
        assert_eq!(
            err,
            Some(KeyError::TypeMismatch {
                algorithm: Algorithm::EcdsaP256Sha256,
                found: KeyType::Ed25519
            })
        );
    }

    #[test]
    fn errors_do_not_echo_the_input() {
        let secretish =
            "-----BEGIN PRIVATE KEY-----\nQUJDREVGR0hJSktMTU5PUA==\n-----END PRIVATE KEY-----";
        let err = SigningKey::from_pem_or_jwk(Algorithm::Ed25519, secretish).err();
        let shown = err.map(|e| format!("{e} {e:?}")).unwrap_or_default();
        assert!(!shown.contains("QUJDREVG"), "{shown}");
        assert!(shown.contains("malformed key"), "{shown}");
    }
}
