//! Key material for signing and verifying (RFC 9421 §3.3, §7.3).
//!
//! A key is bound to one [`Algorithm`] when it is loaded, so that the `alg`
//! parameter of a message can never switch a key to another algorithm
//! (§7.3.6). Keys load from PEM (PKCS#8, SPKI, PKCS#1, SEC1) or from a JWK;
//! a `hmac-sha256` secret may also be given as base64 text.
//!
//! Neither [`SigningKey`] nor [`VerificationKey`] shows key bytes in its
//! `Debug` output, and no [`KeyError`] contains key material.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};
use rsa::traits::PublicKeyParts as _;
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

use super::algorithm::Algorithm;
use super::signer::SignError;
use super::{jwk, pem};

/// RFC 9421 §3.3.1: the RSASSA-PSS salt is 64 bytes (not the hash length
/// default of some libraries, and not "maximum").
const PSS_SALT_LEN: usize = 64;
/// Smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;
/// Smallest HMAC secret accepted, in bytes (the output size of SHA-256).
const MIN_HMAC_KEY_LEN: usize = 32;

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

/// Why key material could not be loaded. Never contains key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not a PEM block, a JWK or (for HMAC) base64, or it does not decode.
    #[error("malformed key: {reason}")]
    Malformed {
        /// What was wrong, without any key material.
        reason: String,
    },
    /// The key is of a type the algorithm cannot use.
    #[error("a {found} key cannot be used with {algorithm}")]
    TypeMismatch {
        /// The algorithm the key was loaded for.
        algorithm: Algorithm,
        /// The key type found.
        found: KeyType,
    },
    /// The key is well formed but of a kind this crate does not support.
    #[error("unsupported key: {reason}")]
    Unsupported {
        /// What is not supported.
        reason: String,
    },
    /// The key is too short for the algorithm.
    #[error("key too weak for {algorithm}: {reason}")]
    Weak {
        /// The algorithm the key was loaded for.
        algorithm: Algorithm,
        /// What is too small.
        reason: String,
    },
    /// A public key was given where a private key is needed.
    #[error("signing with {algorithm} needs a private key, but a public key was given")]
    PublicKeyForSigning {
        /// The algorithm the key was loaded for.
        algorithm: Algorithm,
    },
}

impl KeyError {
    /// A stable snake_case code for this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Malformed { .. } => "malformed_key",
            KeyError::TypeMismatch { .. } => "key_type_mismatch",
            KeyError::Unsupported { .. } => "unsupported_key",
            KeyError::Weak { .. } => "weak_key",
            KeyError::PublicKeyForSigning { .. } => "public_key_for_signing",
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        KeyError::Malformed {
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(reason: impl Into<String>) -> Self {
        KeyError::Unsupported {
            reason: reason.into(),
        }
    }
}

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
    fn key_type(&self) -> KeyType {
        match self {
            DecodedKey::RsaPrivate(_) | DecodedKey::RsaPublic(_) => KeyType::Rsa,
            DecodedKey::P256Private(_) | DecodedKey::P256Public(_) => KeyType::EcP256,
            DecodedKey::P384Private(_) | DecodedKey::P384Public(_) => KeyType::EcP384,
            DecodedKey::Ed25519Private(_) | DecodedKey::Ed25519Public(_) => KeyType::Ed25519,
            DecodedKey::Symmetric(_) => KeyType::Symmetric,
        }
    }

    fn is_private(&self) -> bool {
        matches!(
            self,
            DecodedKey::RsaPrivate(_)
                | DecodedKey::P256Private(_)
                | DecodedKey::P384Private(_)
                | DecodedKey::Ed25519Private(_)
                | DecodedKey::Symmetric(_)
        )
    }

    /// Decodes PEM, a JWK, or (for HMAC only) a base64 secret.
    fn parse(algorithm: Algorithm, text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.starts_with('{') {
            jwk::decode(text)
        } else if text.contains("-----BEGIN ") {
            pem::decode(text)
        } else if algorithm.is_symmetric() {
            decode_base64_secret(text).map(DecodedKey::Symmetric)
        } else {
            Err(KeyError::malformed(
                "expected a PEM block (-----BEGIN ...) or a JWK object",
            ))
        }
    }
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

fn check_rsa_size(algorithm: Algorithm, key: &rsa::PublicKey) -> Result<(), KeyError> {
    let bits = key.size() * 8;
    if bits < MIN_RSA_BITS {
        return Err(KeyError::Weak {
            algorithm,
            reason: format!("RSA modulus is {bits} bits; at least {MIN_RSA_BITS} are required"),
        });
    }
    Ok(())
}

fn check_hmac_len(secret: &[u8]) -> Result<(), KeyError> {
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
        Self::from_decoded(algorithm, DecodedKey::parse(algorithm, text)?)
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
        VerificationKey {
            algorithm: self.algorithm,
            inner: Arc::new(inner),
        }
    }

    /// Signs the signature base `message` (RFC 9421 §3.1, `HTTP_SIGN`).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let failed = |e: rsa::signature::Error| {
            SignError::with_source(format!("{} signing failed", self.algorithm), e)
                .with_code("signing_failed")
        };
        Ok(match &*self.inner {
            SigningInner::Hmac(secret) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| {
                    SignError::new("hmac-sha256 key rejected").with_code("signing_failed")
                })?;
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
            SigningInner::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
            SigningInner::P256(key) => {
                let sig: p256::ecdsa::Signature = key.try_sign(message).map_err(failed)?;
                sig.to_bytes().to_vec()
            }
            SigningInner::P384(key) => {
                let sig: p384::ecdsa::Signature = key.try_sign(message).map_err(failed)?;
                sig.to_bytes().to_vec()
            }
            SigningInner::RsaPss(key) => key.try_sign(message).map_err(failed)?.to_vec(),
            SigningInner::RsaV15(key) => key.try_sign(message).map_err(failed)?.to_vec(),
        })
    }
}

enum VerifyInner {
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
        Self::from_decoded(algorithm, DecodedKey::parse(algorithm, text)?)
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
