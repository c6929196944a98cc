//! JSON Web Key decoding (RFC 7517, key types of RFC 7518 §6 and RFC 8037).

use base64::Engine as _;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::decoded::DecodedKey;
use super::error::KeyError;
use super::rsa_parts::{RsaParts, rsa_private_from_parts, rsa_public_from_parts};

/// Decodes a single JWK object (`kty` `RSA`, `EC`, `OKP` or `oct`).
pub(super) fn decode(text: &str) -> Result<DecodedKey, KeyError> {
    // serde_json's messages quote no input, but they are not needed either.
    let value: Zeroizing<String> = Zeroizing::new(text.to_owned());
    let parsed: Value =
        serde_json::from_str(&value).map_err(|_| KeyError::malformed("JWK is not valid JSON"))?;
    let jwk = parsed
        .as_object()
        .ok_or_else(|| KeyError::malformed("JWK is not a JSON object"))?;
    let kty = text_member(jwk, "kty")?;
    match kty {
        "oct" => Ok(DecodedKey::Symmetric(member_bytes(jwk, "k")?)),
        "OKP" => decode_okp(jwk),
        "EC" => decode_ec(jwk),
        "RSA" => decode_rsa(jwk),
        _ => Err(KeyError::unsupported("JWK kty is not RSA, EC, OKP or oct")),
    }
}

fn text_member<'a>(jwk: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, KeyError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| KeyError::malformed(format!("JWK has no string member {name:?}")))
}

fn member_bytes(
    jwk: &Map<String, Value>,
    name: &'static str,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let text = text_member(jwk, name)?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT
        .decode(text)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::malformed(format!("JWK member {name:?} is not base64url")))
}

fn decode_okp(jwk: &Map<String, Value>) -> Result<DecodedKey, KeyError> {
    if text_member(jwk, "crv")? != "Ed25519" {
        return Err(KeyError::unsupported("OKP JWK curve is not Ed25519"));
    }
    if jwk.contains_key("d") {
        let d = member_bytes(jwk, "d")?;
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            d.as_slice()
                .try_into()
                .map_err(|_| KeyError::malformed("Ed25519 JWK \"d\" is not 32 bytes"))?,
        );
        return Ok(DecodedKey::Ed25519Private(Box::new(
            ed25519_dalek::SigningKey::from_bytes(&seed),
        )));
    }
    let x = member_bytes(jwk, "x")?;
    let x: [u8; 32] = x
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::malformed("Ed25519 JWK \"x\" is not 32 bytes"))?;
    ed25519_dalek::VerifyingKey::from_bytes(&x)
        .map(DecodedKey::Ed25519Public)
        .map_err(|_| KeyError::malformed("Ed25519 JWK \"x\" is not a curve point"))
}

fn decode_ec(jwk: &Map<String, Value>) -> Result<DecodedKey, KeyError> {
    let crv = text_member(jwk, "crv")?;
    let private = jwk.contains_key("d");
    let sec1_point = || -> Result<Vec<u8>, KeyError> {
        let (x, y) = (member_bytes(jwk, "x")?, member_bytes(jwk, "y")?);
        let mut point = Vec::with_capacity(1 + x.len() + y.len());
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Ok(point)
    };
    match (crv, private) {
        ("P-256", true) => p256::SecretKey::from_slice(&member_bytes(jwk, "d")?)
            .map(DecodedKey::P256Private)
            .map_err(|_| KeyError::malformed("P-256 JWK \"d\" is not a valid scalar")),
        ("P-256", false) => p256::PublicKey::from_sec1_bytes(&sec1_point()?)
            .map(DecodedKey::P256Public)
            .map_err(|_| KeyError::malformed("P-256 JWK \"x\"/\"y\" is not a curve point")),
        ("P-384", true) => p384::SecretKey::from_slice(&member_bytes(jwk, "d")?)
            .map(DecodedKey::P384Private)
            .map_err(|_| KeyError::malformed("P-384 JWK \"d\" is not a valid scalar")),
        ("P-384", false) => p384::PublicKey::from_sec1_bytes(&sec1_point()?)
            .map(DecodedKey::P384Public)
            .map_err(|_| KeyError::malformed("P-384 JWK \"x\"/\"y\" is not a curve point")),
        _ => Err(KeyError::unsupported("EC JWK curve is not P-256 or P-384")),
    }
}

fn decode_rsa(jwk: &Map<String, Value>) -> Result<DecodedKey, KeyError> {
    let (n, e) = (member_bytes(jwk, "n")?, member_bytes(jwk, "e")?);
    if !jwk.contains_key("d") {
        return rsa_public_from_parts(&n, &e);
    }
    if !(jwk.contains_key("p") && jwk.contains_key("q")) {
        return Err(KeyError::unsupported(
            "RSA private JWK without the primes \"p\" and \"q\"",
        ));
    }
    let (d, p, q) = (
        member_bytes(jwk, "d")?,
        member_bytes(jwk, "p")?,
        member_bytes(jwk, "q")?,
    );
    rsa_private_from_parts(&RsaParts {
        n: &n,
        e: &e,
        d: &d,
        p: &p,
        q: &q,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9421_ed25519_public_jwk_decodes() {
        let jwk = r#"{"kty":"OKP","crv":"Ed25519","kid":"test-key-ed25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"}"#;
        assert!(matches!(decode(jwk), Ok(DecodedKey::Ed25519Public(_))));
    }

    #[test]
    fn malformed_jwks_are_errors() {
        for jwk in [
            "{",
            "[]",
            r#"{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}"#,
            r#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}"#,
            r#"{"kty":"OKP","crv":"Ed25519","d":"AA"}"#,
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}"#,
            r#"{"kty":"oct","k":"***"}"#,
            r#"{"kty":1}"#,
        ] {
            assert!(decode(jwk).is_err(), "{jwk}");
        }
    }
}
