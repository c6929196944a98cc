//! PEM and DER key decoding: PEM armour (RFC 7468), PKCS#8 (RFC 5958),
//! SPKI (RFC 5280), PKCS#1 (RFC 8017 App. A) and SEC1 (RFC 5915).
//!
//! The RSA test keys of RFC 9421 Appendix B.1 need two things that generic
//! decoders reject: `test-key-rsa-pss` is PKCS#8 under the RSASSA-PSS OID,
//! and `test-key-rsa` has primes of unequal size (1088 and 960 bits).

use base64::Engine as _;
use p256::pkcs8::der::Decode as _;
use p256::pkcs8::spki::SubjectPublicKeyInfoRef;
use p256::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, ObjectIdentifier, PrivateKeyInfoRef,
};
use zeroize::Zeroizing;

use super::decoded::DecodedKey;
use super::error::KeyError;
use super::rsa_parts::{RsaParts, rsa_private_from_parts, rsa_public_from_parts};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Decodes the first PEM block of `text` into key material.
pub(super) fn decode(text: &str) -> Result<DecodedKey, KeyError> {
    let (label, der) = parse_pem(text)?;
    match label {
        "PRIVATE KEY" => decode_pkcs8(&der),
        "PUBLIC KEY" => decode_spki(&der),
        "RSA PRIVATE KEY" => rsa_private_from_pkcs1(&der),
        "RSA PUBLIC KEY" => rsa_public_from_pkcs1(&der),
        "EC PRIVATE KEY" => decode_sec1(&der),
        "ENCRYPTED PRIVATE KEY" => Err(KeyError::unsupported(
            "encrypted private keys are not supported; decrypt the key first",
        )),
        other => Err(KeyError::unsupported(format!(
            "PEM label {other:?} is not a key type this crate reads"
        ))),
    }
}

/// Splits the first `-----BEGIN label-----` block into its label and DER bytes.
pub(crate) fn parse_pem(text: &str) -> Result<(&str, Zeroizing<Vec<u8>>), KeyError> {
    let mut lines = text.lines().map(str::trim);
    let label = lines
        .by_ref()
        .find_map(|line| {
            line.strip_prefix("-----BEGIN ")
                .and_then(|rest| rest.strip_suffix("-----"))
        })
        .ok_or_else(|| KeyError::malformed("no PEM BEGIN line"))?;
    if label.len() > 64 || !label.bytes().all(|b| b.is_ascii_uppercase() || b == b' ') {
        return Err(KeyError::malformed("PEM label is not valid"));
    }
    let mut body = Zeroizing::new(String::new());
    let mut ended = false;
    for line in lines {
        if let Some(rest) = line.strip_prefix("-----END ") {
            if rest.strip_suffix("-----") != Some(label) {
                return Err(KeyError::malformed("PEM END line does not match BEGIN"));
            }
            ended = true;
            break;
        }
        if line.contains(':') {
            // RFC 1421 headers only appear in legacy encrypted keys.
            return Err(KeyError::unsupported(
                "PEM headers (legacy encrypted keys) are not supported",
            ));
        }
        body.push_str(line);
    }
    if !ended {
        return Err(KeyError::malformed("PEM block has no END line"));
    }
    let der = base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
        .decode(body.as_bytes())
        .map_err(|_| KeyError::malformed("PEM body is not valid base64"))?;
    Ok((label, Zeroizing::new(der)))
}

fn decode_pkcs8(der: &[u8]) -> Result<DecodedKey, KeyError> {
    let info = PrivateKeyInfoRef::from_der(der)
        .map_err(|_| KeyError::malformed("PKCS#8 private key does not decode"))?;
    match info.algorithm.oid {
        // The PSS OID may carry parameters; RFC 9421 fixes hash and salt, so
        // they are not consulted.
        RSA_ENCRYPTION | RSASSA_PSS => rsa_private_from_pkcs1(info.private_key.as_bytes()),
        EC_PUBLIC_KEY => match info.algorithm.parameters_oid() {
            Ok(SECP256R1) => p256::SecretKey::from_pkcs8_der(der)
                .map(DecodedKey::P256Private)
                .map_err(|_| KeyError::malformed("P-256 private key does not decode")),
            Ok(SECP384R1) => p384::SecretKey::from_pkcs8_der(der)
                .map(DecodedKey::P384Private)
                .map_err(|_| KeyError::malformed("P-384 private key does not decode")),
            Ok(other) => Err(KeyError::unsupported(format!("elliptic curve {other}"))),
            Err(_) => Err(KeyError::malformed("EC key names no curve")),
        },
        ED25519 => ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map(|key| DecodedKey::Ed25519Private(Box::new(key)))
            .map_err(|_| KeyError::malformed("Ed25519 private key does not decode")),
        other => Err(KeyError::unsupported(format!("key algorithm {other}"))),
    }
}

/// Decodes a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), as a `PUBLIC
/// KEY` block or an X.509 certificate carries it.
pub(crate) fn decode_spki(der: &[u8]) -> Result<DecodedKey, KeyError> {
    let info = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|_| KeyError::malformed("public key (SPKI) does not decode"))?;
    match info.algorithm.oid {
        RSA_ENCRYPTION | RSASSA_PSS => {
            let bits = info.subject_public_key.as_bytes().ok_or_else(|| {
                KeyError::malformed("RSA public key bit string is not whole bytes")
            })?;
            rsa_public_from_pkcs1(bits)
        }
        EC_PUBLIC_KEY => match info.algorithm.parameters_oid() {
            Ok(SECP256R1) => p256::PublicKey::from_public_key_der(der)
                .map(DecodedKey::P256Public)
                .map_err(|_| KeyError::malformed("P-256 public key does not decode")),
            Ok(SECP384R1) => p384::PublicKey::from_public_key_der(der)
                .map(DecodedKey::P384Public)
                .map_err(|_| KeyError::malformed("P-384 public key does not decode")),
            Ok(other) => Err(KeyError::unsupported(format!("elliptic curve {other}"))),
            Err(_) => Err(KeyError::malformed("EC key names no curve")),
        },
        ED25519 => ed25519_dalek::VerifyingKey::from_public_key_der(der)
            .map(DecodedKey::Ed25519Public)
            .map_err(|_| KeyError::malformed("Ed25519 public key does not decode")),
        other => Err(KeyError::unsupported(format!("key algorithm {other}"))),
    }
}

fn decode_sec1(der: &[u8]) -> Result<DecodedKey, KeyError> {
    if let Ok(key) = p256::SecretKey::from_sec1_der(der) {
        return Ok(DecodedKey::P256Private(key));
    }
    p384::SecretKey::from_sec1_der(der)
        .map(DecodedKey::P384Private)
        .map_err(|_| KeyError::malformed("EC private key (SEC1) does not decode as P-256 or P-384"))
}

fn rsa_private_from_pkcs1(der: &[u8]) -> Result<DecodedKey, KeyError> {
    let key = rsa::pkcs1::RsaPrivateKeyRef::from_der(der)
        .map_err(|_| KeyError::malformed("RSA private key (PKCS#1) does not decode"))?;
    if key.version() != rsa::pkcs1::Version::TwoPrime {
        return Err(KeyError::unsupported("multi-prime RSA keys"));
    }
    rsa_private_from_parts(&RsaParts {
        n: key.modulus.as_bytes(),
        e: key.public_exponent.as_bytes(),
        d: key.private_exponent.as_bytes(),
        p: key.prime1.as_bytes(),
        q: key.prime2.as_bytes(),
    })
}

fn rsa_public_from_pkcs1(der: &[u8]) -> Result<DecodedKey, KeyError> {
    let key = rsa::pkcs1::RsaPublicKeyRef::from_der(der)
        .map_err(|_| KeyError::malformed("RSA public key (PKCS#1) does not decode"))?;
    rsa_public_from_parts(key.modulus.as_bytes(), key.public_exponent.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_never_panics() {
        for text in [
            "",
            "-----BEGIN PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\n-----END PUBLIC KEY-----",
            "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----",
            "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----",
        ] {
            assert!(decode(text).is_err(), "{text}");
        }
    }
}
