//! The public half of a signing key as a JWK (RFC 7517 §4): `kty`, `crv`,
//! `x`, `y` for EC keys (RFC 7518 §6.2.1), `kty`, `n`, `e` for RSA keys
//! (RFC 7518 §6.3.1) and `kty`, `crv`, `x` for Ed25519 keys (RFC 8037 §2).
//! No private member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `k`) is ever written.

use base64::Engine as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Map, Value};

use super::signing_key::SigningKey;

const BASE64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The public JWK of `key`, or `None` for a shared secret (an `oct` key has
/// no public half).
///
/// EC coordinates are written at the full width of the field (32 bytes for
/// P-256, 48 for P-384; RFC 7518 §6.2.1.2), RSA integers without leading
/// zero octets (RFC 7518 §6.3.1.1, "Base64urlUInt").
pub(crate) fn public_jwk(key: &SigningKey) -> Option<Map<String, Value>> {
    let rsa_private: &rsa::PrivateKey = match key {
        SigningKey::Rs256(key) => (**key).as_ref(),
        SigningKey::Rs384(key) => (**key).as_ref(),
        SigningKey::Rs512(key) => (**key).as_ref(),
        SigningKey::Ps256(key) => (**key).as_ref(),
        SigningKey::Ps384(key) => (**key).as_ref(),
        SigningKey::Ps512(key) => (**key).as_ref(),
        SigningKey::Es256(key) => {
            let point = key.verifying_key().to_sec1_point(false);
            return ec("P-256", point.x()?, point.y()?);
        }
        SigningKey::Es384(key) => {
            let point = key.verifying_key().to_sec1_point(false);
            return ec("P-384", point.x()?, point.y()?);
        }
        SigningKey::EdDsa(key) => {
            let mut jwk = Map::with_capacity(3);
            jwk.insert("kty".to_owned(), Value::from("OKP"));
            jwk.insert("crv".to_owned(), Value::from("Ed25519"));
            jwk.insert(
                "x".to_owned(),
                Value::from(BASE64URL.encode(key.verifying_key().as_bytes())),
            );
            return Some(jwk);
        }
        SigningKey::Hs256(_) | SigningKey::Hs384(_) | SigningKey::Hs512(_) => return None,
    };
    let public = rsa_private.as_public_key();
    let mut jwk = Map::with_capacity(3);
    jwk.insert("kty".to_owned(), Value::from("RSA"));
    jwk.insert(
        "n".to_owned(),
        Value::from(BASE64URL.encode(public.n_bytes())),
    );
    jwk.insert(
        "e".to_owned(),
        Value::from(BASE64URL.encode(public.e_bytes())),
    );
    Some(jwk)
}

fn ec(crv: &'static str, x: &[u8], y: &[u8]) -> Option<Map<String, Value>> {
    let mut jwk = Map::with_capacity(4);
    jwk.insert("kty".to_owned(), Value::from("EC"));
    jwk.insert("crv".to_owned(), Value::from(crv));
    jwk.insert("x".to_owned(), Value::from(BASE64URL.encode(x)));
    jwk.insert("y".to_owned(), Value::from(BASE64URL.encode(y)));
    Some(jwk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_signature::keys::parse_pem_or_jwk;
    use crate::jose::JwsAlgorithm;

    fn signing_key(pem: &str, alg: JwsAlgorithm) -> SigningKey {
        parse_pem_or_jwk(pem)
            .map_err(super::super::KeyError::from)
            .and_then(|decoded| SigningKey::new(alg, decoded))
            .unwrap_or_else(|e| panic!("{alg}: {e}"))
    }

    fn members(jwk: &Map<String, Value>) -> Vec<&str> {
        jwk.keys().map(String::as_str).collect()
    }

    /// The public JWK decodes back, through the crate's JWK decoder, to a
    /// public key whose DER is that of the private key's public half.
    fn round_trips(key: &SigningKey) -> bool {
        let Some(jwk) = public_jwk(key) else {
            return false;
        };
        let text = Value::Object(jwk).to_string();
        parse_pem_or_jwk(&text).is_ok_and(|decoded| {
            !decoded.is_private()
                && super::super::signing_key::decoded_public_key_der(&decoded)
                    == key.public_key_der()
        })
    }

    #[test]
    fn each_key_type_writes_only_its_public_members() {
        let cases = [
            (
                include_str!("testdata/ec-p256.pem"),
                JwsAlgorithm::ES256,
                vec!["crv", "kty", "x", "y"],
            ),
            (
                include_str!("testdata/ec-p384.pem"),
                JwsAlgorithm::ES384,
                vec!["crv", "kty", "x", "y"],
            ),
            (
                include_str!("testdata/rsa-2048.pem"),
                JwsAlgorithm::PS256,
                vec!["e", "kty", "n"],
            ),
            (
                include_str!("testdata/ed25519.pem"),
                JwsAlgorithm::EdDSA,
                vec!["crv", "kty", "x"],
            ),
        ];
        for (pem, alg, expected) in cases {
            let key = signing_key(pem, alg);
            let jwk = public_jwk(&key).unwrap_or_default();
            let mut names = members(&jwk);
            names.sort_unstable();
            assert_eq!(names, expected, "{alg}");
            assert!(round_trips(&key), "{alg}");
        }
    }

    #[test]
    fn ec_coordinates_are_full_width_and_rsa_exponent_is_minimal() {
        let b64 = |jwk: &Map<String, Value>, name: &str| {
            let text = jwk.get(name).and_then(Value::as_str).unwrap_or_default();
            BASE64URL.decode(text).unwrap_or_default().len()
        };
        let p256 = public_jwk(&SigningKey::generate_es256()).unwrap_or_default();
        assert_eq!((b64(&p256, "x"), b64(&p256, "y")), (32, 32));
        let p384 = signing_key(include_str!("testdata/ec-p384.pem"), JwsAlgorithm::ES384);
        let p384 = public_jwk(&p384).unwrap_or_default();
        assert_eq!((b64(&p384, "x"), b64(&p384, "y")), (48, 48));
        let rsa = signing_key(include_str!("testdata/rsa-2048.pem"), JwsAlgorithm::RS256);
        let rsa = public_jwk(&rsa).unwrap_or_default();
        assert_eq!(rsa.get("e"), Some(&Value::from("AQAB")));
        assert_eq!(b64(&rsa, "n"), 256);
    }

    #[test]
    fn a_shared_secret_has_no_public_jwk() {
        let key = SigningKey::new(
            JwsAlgorithm::HS256,
            crate::http_signature::keys::DecodedKey::Symmetric(zeroize::Zeroizing::new(vec![
                7;
                32
            ])),
        );
        assert!(key.is_ok_and(|key| public_jwk(&key).is_none()));
    }

    #[test]
    fn generated_keys_differ_and_round_trip() {
        let (a, b) = (SigningKey::generate_es256(), SigningKey::generate_es256());
        assert!(round_trips(&a) && round_trips(&b));
        assert_ne!(a.public_key_der(), b.public_key_der());
    }
}
