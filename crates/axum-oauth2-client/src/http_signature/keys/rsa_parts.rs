//! RSA keys from their big-endian integers (RFC 8017 §3.1, §3.2), as PKCS#1
//! DER and RSA JWKs (RFC 7518 §6.3) carry them.
//!
//! The RSA test key of RFC 9421 Appendix B.1.1 (`test-key-rsa`) has primes
//! of unequal size (1088 and 960 bits), which generic constructors reject.

use rsa::BoxedUint;

use super::decoded::DecodedKey;
use super::error::KeyError;

/// Big-endian RSA private key components.
pub(super) struct RsaParts<'a> {
    pub(super) n: &'a [u8],
    pub(super) e: &'a [u8],
    pub(super) d: &'a [u8],
    pub(super) p: &'a [u8],
    pub(super) q: &'a [u8],
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn uint(bytes: &[u8], bits: u32) -> Result<BoxedUint, KeyError> {
    BoxedUint::from_be_slice(bytes, bits)
        .map_err(|_| KeyError::malformed("RSA integer out of range"))
}

fn bit_width(bytes: &[u8]) -> Result<u32, KeyError> {
    u32::try_from(bytes.len().max(1) * 8).map_err(|_| KeyError::malformed("RSA integer too large"))
}

pub(super) fn rsa_private_from_parts(parts: &RsaParts<'_>) -> Result<DecodedKey, KeyError> {
    let n = strip_zeros(parts.n);
    let e = strip_zeros(parts.e);
    let (d, p, q) = (
        strip_zeros(parts.d),
        strip_zeros(parts.p),
        strip_zeros(parts.q),
    );
    if n.len() > 2048 || e.is_empty() || d.len() > n.len() || p.len() > n.len() || q.len() > n.len()
    {
        return Err(KeyError::malformed(
            "RSA private key components are inconsistent",
        ));
    }
    let bits = bit_width(n)?;
    let primes = vec![uint(p, bits)?, uint(q, bits)?];
    let (n_uint, e_uint, d_uint) = (uint(n, bits)?, uint(e, bit_width(e)?)?, uint(d, bits)?);
    // Balance is read from the encoding's public lengths once, at load time:
    // keys whose primes differ in size (such as RFC 9421's test-key-rsa)
    // need the wide-prime constructor.
    let half = n.len().div_ceil(2);
    let key = if p.len() <= half && q.len() <= half {
        rsa::PrivateKey::from_components(n_uint, e_uint, d_uint, primes)
    } else {
        rsa::PrivateKey::from_components_with_wide_primes(n_uint, e_uint, d_uint, primes)
    }
    .map_err(|_| KeyError::malformed("RSA private key components do not form a valid key"))?;
    Ok(DecodedKey::RsaPrivate(Box::new(key)))
}

pub(super) fn rsa_public_from_parts(n: &[u8], e: &[u8]) -> Result<DecodedKey, KeyError> {
    let (n, e) = (strip_zeros(n), strip_zeros(e));
    if n.len() > 2048 || e.is_empty() {
        return Err(KeyError::malformed(
            "RSA public key components are out of range",
        ));
    }
    let key = rsa::PublicKey::new(uint(n, bit_width(n)?)?, uint(e, bit_width(e)?)?)
        .map_err(|_| KeyError::malformed("RSA public key is not valid"))?;
    Ok(DecodedKey::RsaPublic(Box::new(key)))
}
