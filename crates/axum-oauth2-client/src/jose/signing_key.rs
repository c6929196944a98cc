//! The private key behind a [`ClientKey`](super::ClientKey), bound to one
//! [`JwsAlgorithm`], and the JWS signature primitives of RFC 7518 §3 (and
//! RFC 8037 §3.1 for `EdDSA`).

use hmac::{Hmac, KeyInit, Mac};
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::EncodePublicKey;
use rsa::signature::{self, SignatureEncoding as _, Signer as _};
use rsa::traits::PublicKeyParts as _;
use sha2::{Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

use super::algorithm::JwsAlgorithm;
use super::error::KeyError;
use crate::http_signature::KeyType;
use crate::http_signature::keys::{DecodedKey, MIN_RSA_BITS};

type RsaV15<D> = Box<rsa::pkcs1v15::SigningKey<D>>;
type RsaPss<D> = Box<rsa::pss::SigningKey<D>>;

/// A private key (or shared secret) ready to sign with one algorithm.
pub(crate) enum SigningKey {
    Rs256(RsaV15<Sha256>),
    Rs384(RsaV15<Sha384>),
    Rs512(RsaV15<Sha512>),
    Ps256(RsaPss<Sha256>),
    Ps384(RsaPss<Sha384>),
    Ps512(RsaPss<Sha512>),
    Es256(p256::ecdsa::SigningKey),
    Es384(p384::ecdsa::SigningKey),
    EdDsa(Box<ed25519_dalek::SigningKey>),
    Hs256(Zeroizing<Vec<u8>>),
    Hs384(Zeroizing<Vec<u8>>),
    Hs512(Zeroizing<Vec<u8>>),
}

/// The algorithm a key implies when none is asked for: the curve decides
/// for EC and OKP keys; RSA keys sign `RS256` (the one RFC 7518 §3.1
/// recommends) and shared secrets `HS256` (the one it requires).
pub(crate) fn default_algorithm(key: &DecodedKey) -> JwsAlgorithm {
    match key.key_type() {
        KeyType::EcP256 => JwsAlgorithm::ES256,
        KeyType::EcP384 => JwsAlgorithm::ES384,
        KeyType::Ed25519 => JwsAlgorithm::EdDSA,
        KeyType::Symmetric => JwsAlgorithm::HS256,
        _ => JwsAlgorithm::RS256,
    }
}

impl SigningKey {
    /// Binds decoded key material to `algorithm`, refusing public keys,
    /// keys of another type and weak keys.
    pub(crate) fn new(algorithm: JwsAlgorithm, key: DecodedKey) -> Result<Self, KeyError> {
        use JwsAlgorithm as A;

        let found = key.key_type();
        if !key.is_private() {
            return Err(KeyError::PublicKey { found });
        }
        Ok(match (algorithm, key) {
            (A::RS256, DecodedKey::RsaPrivate(key)) => Self::Rs256(Box::new(
                rsa::pkcs1v15::SigningKey::new(*strong_rsa(algorithm, key)?),
            )),
            (A::RS384, DecodedKey::RsaPrivate(key)) => Self::Rs384(Box::new(
                rsa::pkcs1v15::SigningKey::new(*strong_rsa(algorithm, key)?),
            )),
            (A::RS512, DecodedKey::RsaPrivate(key)) => Self::Rs512(Box::new(
                rsa::pkcs1v15::SigningKey::new(*strong_rsa(algorithm, key)?),
            )),
            // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
            (A::PS256, DecodedKey::RsaPrivate(key)) => {
                Self::Ps256(Box::new(rsa::pss::SigningKey::new_with_salt_len(
                    *strong_rsa(algorithm, key)?,
                    algorithm.hash_len(),
                )))
            }
            (A::PS384, DecodedKey::RsaPrivate(key)) => {
                Self::Ps384(Box::new(rsa::pss::SigningKey::new_with_salt_len(
                    *strong_rsa(algorithm, key)?,
                    algorithm.hash_len(),
                )))
            }
            (A::PS512, DecodedKey::RsaPrivate(key)) => {
                Self::Ps512(Box::new(rsa::pss::SigningKey::new_with_salt_len(
                    *strong_rsa(algorithm, key)?,
                    algorithm.hash_len(),
                )))
            }
            (A::ES256, DecodedKey::P256Private(key)) => Self::Es256(key.into()),
            (A::ES384, DecodedKey::P384Private(key)) => Self::Es384(key.into()),
            (A::EdDSA, DecodedKey::Ed25519Private(key)) => Self::EdDsa(key),
            (A::HS256, DecodedKey::Symmetric(secret)) => {
                Self::Hs256(long_enough(algorithm, secret)?)
            }
            (A::HS384, DecodedKey::Symmetric(secret)) => {
                Self::Hs384(long_enough(algorithm, secret)?)
            }
            (A::HS512, DecodedKey::Symmetric(secret)) => {
                Self::Hs512(long_enough(algorithm, secret)?)
            }
            _ => return Err(KeyError::TypeMismatch { algorithm, found }),
        })
    }

    /// A fresh P-256 key for `ES256`, its scalar drawn from the thread-local
    /// CSPRNG (`rand::rng()`: ChaCha12 seeded from the operating system),
    /// for keys that live only as long as the process, such as DPoP keys
    /// (RFC 9449 §2).
    pub(crate) fn generate_es256() -> Self {
        let secret = p256::SecretKey::generate_from_rng(&mut rand::rng());
        Self::Es256(secret.into())
    }

    /// A private key read from PEM (PKCS#8, PKCS#1 or SEC1), bound to the
    /// algorithm it implies ([`default_algorithm`]): for a key whose use is
    /// not a JWS, such as a TLS client key, whose public half has to match a
    /// certificate. A JWK is refused: PEM is what TLS stacks read.
    pub(crate) fn from_private_pem(text: &str) -> Result<Self, KeyError> {
        if text.trim_start().starts_with('{') {
            return Err(crate::http_signature::KeyError::malformed(
                "expected a PEM private key, not a JWK",
            )
            .into());
        }
        let decoded = crate::http_signature::keys::parse_pem_or_jwk(text)?;
        Self::new(default_algorithm(&decoded), decoded)
    }

    /// The JWS Signature over `signing_input` (RFC 7515 §5.1 step 5): raw
    /// RSA signature bytes, ECDSA as fixed-width `R || S` (RFC 7518 §3.4,
    /// not DER), the 64-byte Ed25519 signature, or the HMAC output.
    pub(crate) fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(match self {
            Self::Rs256(key) => key.try_sign(signing_input)?.to_vec(),
            Self::Rs384(key) => key.try_sign(signing_input)?.to_vec(),
            Self::Rs512(key) => key.try_sign(signing_input)?.to_vec(),
            Self::Ps256(key) => key.try_sign(signing_input)?.to_vec(),
            Self::Ps384(key) => key.try_sign(signing_input)?.to_vec(),
            Self::Ps512(key) => key.try_sign(signing_input)?.to_vec(),
            Self::Es256(key) => {
                let sig: p256::ecdsa::Signature = key.try_sign(signing_input)?;
                sig.to_bytes().to_vec()
            }
            Self::Es384(key) => {
                let sig: p384::ecdsa::Signature = key.try_sign(signing_input)?;
                sig.to_bytes().to_vec()
            }
            Self::EdDsa(key) => key.try_sign(signing_input)?.to_bytes().to_vec(),
            Self::Hs256(secret) => mac::<Hmac<Sha256>>(secret, signing_input)?,
            Self::Hs384(secret) => mac::<Hmac<Sha384>>(secret, signing_input)?,
            Self::Hs512(secret) => mac::<Hmac<Sha512>>(secret, signing_input)?,
        })
    }

    /// The DER SubjectPublicKeyInfo of the public half (RFC 5280
    /// §4.1.2.7), or `None` for a shared secret.
    pub(crate) fn public_key_der(&self) -> Option<Vec<u8>> {
        let rsa_private: &rsa::PrivateKey = match self {
            Self::Rs256(key) => (**key).as_ref(),
            Self::Rs384(key) => (**key).as_ref(),
            Self::Rs512(key) => (**key).as_ref(),
            Self::Ps256(key) => (**key).as_ref(),
            Self::Ps384(key) => (**key).as_ref(),
            Self::Ps512(key) => (**key).as_ref(),
            Self::Es256(key) => return spki_der(key.verifying_key()),
            Self::Es384(key) => return spki_der(key.verifying_key()),
            Self::EdDsa(key) => return spki_der(&key.verifying_key()),
            Self::Hs256(_) | Self::Hs384(_) | Self::Hs512(_) => return None,
        };
        spki_der(rsa_private.as_public_key())
    }
}

/// The DER SubjectPublicKeyInfo of a decoded public key, encoded the way
/// [`SigningKey::public_key_der`] encodes it, so the two compare bytewise.
pub(crate) fn decoded_public_key_der(key: &DecodedKey) -> Option<Vec<u8>> {
    match key {
        DecodedKey::RsaPublic(key) => spki_der(&**key),
        DecodedKey::P256Public(key) => spki_der(&p256::ecdsa::VerifyingKey::from(*key)),
        DecodedKey::P384Public(key) => spki_der(&p384::ecdsa::VerifyingKey::from(*key)),
        DecodedKey::Ed25519Public(key) => spki_der(key),
        _ => None,
    }
}

fn spki_der(key: &impl EncodePublicKey) -> Option<Vec<u8>> {
    key.to_public_key_der()
        .ok()
        .map(|doc| doc.as_bytes().to_vec())
}

fn strong_rsa(
    algorithm: JwsAlgorithm,
    key: Box<rsa::PrivateKey>,
) -> Result<Box<rsa::PrivateKey>, KeyError> {
    let bits = key.as_public_key().size() * 8;
    if bits < MIN_RSA_BITS {
        return Err(KeyError::Weak {
            algorithm,
            reason: format!("RSA modulus is {bits} bits; at least {MIN_RSA_BITS} are required"),
        });
    }
    Ok(key)
}

/// RFC 7518 §3.2: "A key of the same size as the hash output ... or larger
/// MUST be used with this algorithm."
fn long_enough(
    algorithm: JwsAlgorithm,
    secret: Zeroizing<Vec<u8>>,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let needed = algorithm.hash_len();
    if secret.len() < needed {
        return Err(KeyError::Weak {
            algorithm,
            // The secret's length is not repeated: it narrows a guess.
            reason: format!("the shared secret is shorter than the {needed} bytes required"),
        });
    }
    Ok(secret)
}

fn mac<M: Mac + KeyInit>(secret: &[u8], input: &[u8]) -> Result<Vec<u8>, signature::Error> {
    let mut mac = <M as KeyInit>::new_from_slice(secret).map_err(|_| signature::Error::new())?;
    mac.update(input);
    Ok(mac.finalize().into_bytes().to_vec())
}
