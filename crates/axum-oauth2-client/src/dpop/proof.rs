//! DPoP proof JWTs (RFC 9449 §4.2): the value of the `DPoP` request header,
//! signed afresh for every request.

use std::borrow::Cow;
use std::time::SystemTime;

use base64::Engine as _;
use http::HeaderName;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use url::{Position, Url};

use super::key::DpopKey;
use crate::jose::{JwsAlgorithm, JwsError};
use crate::oauth2::Secret;

const BASE64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The request header that carries a proof (RFC 9449 §4.1). Like every
/// header carrying a credential, it should be marked sensitive.
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");

/// The `typ` of a proof (RFC 9449 §4.2).
const TYP: &str = "dpop+jwt";

/// Random bytes in a `jti`: 128 bits, above the 96 RFC 9449 §11.1 asks
/// for so that a server can tell proofs apart.
const JTI_BYTES: usize = 16;

/// The JOSE header of a proof (RFC 9449 §4.2): `typ`, `alg` and the public
/// key as `jwk`.
#[derive(Serialize)]
struct Header<'a> {
    typ: &'static str,
    alg: &'static str,
    jwk: &'a Map<String, Value>,
}

/// The claims of a proof (RFC 9449 §4.2).
#[derive(Serialize)]
struct Claims<'a> {
    jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

/// The base64url protected header of every proof signed with `alg` by the
/// key whose public JWK is `jwk`.
pub(super) fn encoded_header(alg: JwsAlgorithm, jwk: &Map<String, Value>) -> String {
    let header = Header {
        typ: TYP,
        alg: alg.as_str(),
        jwk,
    };
    // A struct of strings and a JSON map always serialises.
    BASE64URL.encode(serde_json::to_vec(&header).unwrap_or_default())
}

/// A DPoP proof for a request of `htm` to `htu`, issued at `now`
/// (RFC 9449 §4.2):
///
/// - header `typ: "dpop+jwt"`, `alg`, `jwk` (the public key only);
/// - `jti`: 128 random bits, base64url, fresh for every proof;
/// - `htm`: the method, as sent (methods are case-sensitive, RFC 9110 §9.1);
/// - `htu`: the target URI without query and fragment ([`target_uri`]);
/// - `iat`: `now` in whole seconds since the Unix epoch;
/// - `ath`: with `access_token`, base64url(SHA-256(token)) ([`ath`]);
/// - `nonce`: with `nonce`, the server-provided nonce (§8, §9) as given.
///
/// # Errors
/// [`JwsError::InvalidTime`] when `now` is before the Unix epoch;
/// [`JwsError::Signing`] when the signature primitive fails.
pub(crate) fn proof(
    key: &DpopKey,
    htm: &http::Method,
    htu: &Url,
    access_token: Option<&str>,
    nonce: Option<&str>,
    now: SystemTime,
) -> Result<Secret, JwsError> {
    let iat = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| JwsError::InvalidTime {
            reason: "the time is before the Unix epoch",
        })?
        .as_secs();
    let jti = BASE64URL.encode(rand::random::<[u8; JTI_BYTES]>());
    let htu = target_uri(htu);
    let ath = access_token.map(ath);
    key.sign(&Claims {
        jti: &jti,
        htm: htm.as_str(),
        htu: &htu,
        iat,
        ath: ath.as_deref(),
        nonce,
    })
}

/// The `ath` claim for `token` (RFC 9449 §4.2): the base64url encoding
/// (no padding) of the SHA-256 hash of the ASCII access token value.
pub(crate) fn ath(token: &str) -> String {
    BASE64URL.encode(Sha256::digest(token.as_bytes()))
}

/// The `htu` of a request to `url` (RFC 9449 §4.2): the target URI without
/// query and fragment.
///
/// The normalisation RFC 9449 §4.3 expects a server to apply (RFC 3986
/// §6.2.2, §6.2.3) is the WHATWG parsing [`Url`] has already done: scheme
/// and host in lower case, internationalised names in their ASCII form,
/// the scheme's default port dropped, dot segments removed, an empty path
/// as `/`, percent-encoding of the path made uniform. The result is a slice
/// of the URL, not a copy, unless the URL has userinfo: that is dropped too,
/// as an `http(s)` target URI has none (RFC 9110 §4.2.4) and a credential
/// has no place in a signed token.
pub(crate) fn target_uri(url: &Url) -> Cow<'_, str> {
    if url.username().is_empty() && url.password().is_none() {
        return Cow::Borrowed(&url[..Position::AfterPath]);
    }
    let mut htu = String::with_capacity(url.as_str().len());
    htu.push_str(url.scheme());
    htu.push_str("://");
    htu.push_str(&url[Position::BeforeHost..Position::AfterPath]);
    Cow::Owned(htu)
}

/// A proof as the `DPoP` header's value. A proof is base64url and dots,
/// always a valid header value; marked sensitive, as it binds a request to
/// a token.
pub(crate) fn dpop_header(proof: &Secret) -> http::HeaderValue {
    let mut value = http::HeaderValue::from_str(proof.expose_secret())
        .unwrap_or_else(|_| http::HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use p256::pkcs8::DecodePublicKey as _;
    use rsa::signature::Verifier as _;
    use serde_json::json;

    use super::*;

    const P256: &str = include_str!("../jose/testdata/ec-p256.pem");
    const P256_PUB: &str = include_str!("../jose/testdata/ec-p256.pub.pem");
    const P384: &str = include_str!("../jose/testdata/ec-p384.pem");
    const RSA: &str = include_str!("../jose/testdata/rsa-2048.pem");
    const ED25519: &str = include_str!("../jose/testdata/ed25519.pem");

    struct Parts {
        header: Map<String, Value>,
        claims: Map<String, Value>,
        signing_input: String,
        signature: Vec<u8>,
    }

    fn b64(text: &str) -> Vec<u8> {
        BASE64URL.decode(text).unwrap_or_default()
    }

    fn parts(jwt: &Secret) -> Parts {
        let segments: Vec<&str> = jwt.expose_secret().split('.').collect();
        assert_eq!(segments.len(), 3);
        let json = |segment: &str| serde_json::from_slice(&b64(segment)).unwrap_or_default();
        Parts {
            header: json(segments[0]),
            claims: json(segments[1]),
            signing_input: format!("{}.{}", segments[0], segments[1]),
            signature: b64(segments[2]),
        }
    }

    fn load(text: &str, alg: Option<JwsAlgorithm>) -> DpopKey {
        DpopKey::from_pem_or_jwk(text, alg).unwrap_or_else(|e| panic!("{alg:?}: {e}"))
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn sign(key: &DpopKey, token: Option<&str>, nonce: Option<&str>) -> Parts {
        let target = url("https://api.example.com/v1/orders?page=2#top");
        let jwt = proof(
            key,
            &http::Method::POST,
            &target,
            token,
            nonce,
            at(1_700_000_000),
        );
        parts(&jwt.unwrap_or_else(|e| panic!("{e}")))
    }

    fn member<'a>(map: &'a Map<String, Value>, name: &str) -> &'a [u8] {
        map.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .as_bytes()
    }

    /// Verifies the signature with a verifying key built from the proof's
    /// own `jwk` header, independently of the signing code.
    fn verifies_with_its_jwk(parts: &Parts) -> bool {
        let jwk = parts.header.get("jwk").and_then(Value::as_object);
        let Some(jwk) = jwk else { return false };
        let coordinate = |name| b64(std::str::from_utf8(member(jwk, name)).unwrap_or_default());
        let input = parts.signing_input.as_bytes();
        let sig = parts.signature.as_slice();
        match parts.header.get("alg").and_then(Value::as_str) {
            Some("ES256") => {
                let point = [&[4][..], &coordinate("x"), &coordinate("y")].concat();
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point);
                let sig = p256::ecdsa::Signature::from_slice(sig);
                matches!((key, sig), (Ok(key), Ok(sig)) if key.verify(input, &sig).is_ok())
            }
            Some("ES384") => {
                let point = [&[4][..], &coordinate("x"), &coordinate("y")].concat();
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point);
                let sig = p384::ecdsa::Signature::from_slice(sig);
                matches!((key, sig), (Ok(key), Ok(sig)) if key.verify(input, &sig).is_ok())
            }
            Some("EdDSA") => {
                let x: Result<[u8; 32], _> = coordinate("x").try_into();
                let key = x.map(|x| ed25519_dalek::VerifyingKey::from_bytes(&x));
                let sig = ed25519_dalek::Signature::from_slice(sig);
                matches!((key, sig), (Ok(Ok(key)), Ok(sig)) if key.verify_strict(input, &sig).is_ok())
            }
            Some(alg @ ("RS256" | "PS256")) => {
                let (n, e) = (coordinate("n"), coordinate("e"));
                let uint = |bytes: &[u8]| {
                    let bits = u32::try_from(bytes.len() * 8).unwrap_or(0);
                    rsa::BoxedUint::from_be_slice(bytes, bits)
                };
                let public = match (uint(&n), uint(&e)) {
                    (Ok(n), Ok(e)) => rsa::PublicKey::new(n, e),
                    _ => return false,
                };
                let Ok(public) = public else { return false };
                if alg == "RS256" {
                    let key = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public);
                    rsa::pkcs1v15::Signature::try_from(sig)
                        .is_ok_and(|sig| key.verify(input, &sig).is_ok())
                } else {
                    let key = rsa::pss::VerifyingKey::<Sha256>::new_with_salt_len(public, 32);
                    rsa::pss::Signature::try_from(sig)
                        .is_ok_and(|sig| key.verify(input, &sig).is_ok())
                }
            }
            _ => false,
        }
    }

    #[test]
    fn header_and_claims_are_what_was_asked() {
        let key = load(P256, None);
        let parts = sign(&key, Some("token-1"), Some("nonce-1"));
        assert_eq!(
            Value::Object(parts.header.clone()),
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": Value::Object(key.public_jwk())})
        );
        let jti = parts
            .claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert_eq!(b64(jti).len(), JTI_BYTES);
        assert_eq!(
            Value::Object(parts.claims.clone()),
            json!({
                "jti": jti,
                "htm": "POST",
                "htu": "https://api.example.com/v1/orders",
                "iat": 1_700_000_000_u64,
                "ath": ath("token-1"),
                "nonce": "nonce-1",
            })
        );
    }

    #[test]
    fn ath_and_nonce_are_left_out_when_not_given() {
        let parts = sign(&DpopKey::generate(), None, None);
        let mut names: Vec<&str> = parts.claims.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["htm", "htu", "iat", "jti"]);
    }

    #[test]
    fn every_algorithm_verifies_with_the_jwk_it_carries() {
        for key in [
            load(P256, None),
            load(P384, None),
            load(RSA, Some(JwsAlgorithm::RS256)),
            load(RSA, Some(JwsAlgorithm::PS256)),
            load(ED25519, None),
            DpopKey::generate(),
        ] {
            let parts = sign(&key, Some("t"), None);
            assert!(verifies_with_its_jwk(&parts), "{:?}", key.algorithm());
            let mut tampered = parts;
            tampered.signing_input.push('x');
            assert!(!verifies_with_its_jwk(&tampered), "{:?}", key.algorithm());
        }
    }

    #[test]
    fn the_es256_signature_verifies_with_the_key_openssl_wrote() {
        let parts = sign(&load(P256, None), None, None);
        let key = p256::ecdsa::VerifyingKey::from_public_key_pem(P256_PUB);
        let key = key.unwrap_or_else(|e| panic!("{e}"));
        let sig = p256::ecdsa::Signature::from_slice(&parts.signature);
        assert!(sig.is_ok_and(|sig| key.verify(parts.signing_input.as_bytes(), &sig).is_ok()));
    }

    #[test]
    fn the_jwk_header_has_no_private_member() {
        for key in [load(P256, None), load(RSA, None), load(ED25519, None)] {
            let parts = sign(&key, None, None);
            let jwk = parts.header.get("jwk").and_then(Value::as_object);
            let jwk = jwk.cloned().unwrap_or_default();
            assert!(!jwk.is_empty());
            for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
                assert!(!jwk.contains_key(private), "{private}");
            }
        }
    }

    #[test]
    fn two_proofs_have_different_jti() {
        let key = DpopKey::generate();
        let jti = |parts: Parts| parts.claims.get("jti").cloned();
        let (a, b) = (jti(sign(&key, None, None)), jti(sign(&key, None, None)));
        assert!(a.is_some());
        assert_ne!(a, b);
    }

    #[test]
    fn htu_drops_query_fragment_and_userinfo_and_is_normalised() {
        let htu = |text: &str| target_uri(&url(text)).into_owned();
        assert_eq!(
            htu("https://api.example.com/v1/orders?page=2#top"),
            "https://api.example.com/v1/orders"
        );
        assert_eq!(
            htu("HTTPS://API.Example.COM:443/a/./b/../c"),
            "https://api.example.com/a/c"
        );
        assert_eq!(htu("http://example.com:80"), "http://example.com/");
        assert_eq!(
            htu("http://example.com:8080/x?"),
            "http://example.com:8080/x"
        );
        assert_eq!(
            htu("https://user:pass@example.com:8443/p?q#f"),
            "https://example.com:8443/p"
        );
        assert_eq!(htu("https://[::1]:9000/p"), "https://[::1]:9000/p");
        assert!(matches!(
            target_uri(&url("https://a.example/p?q")),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn ath_of_a_known_token() {
        // The access token of the example request in RFC 9449 §7.1, whose
        // proof carries this `ath`; checked with `printf %s … | openssl dgst
        // -sha256 -binary | basenc --base64url` (less the padding).
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
        assert_eq!(ath(""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    }

    #[test]
    fn a_time_before_the_epoch_is_refused() {
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        let target = url("https://a.example/");
        let err = proof(
            &DpopKey::generate(),
            &http::Method::GET,
            &target,
            None,
            None,
            before,
        );
        assert_eq!(err.err().map(|e| e.code()), Some("invalid_time"));
    }

    #[test]
    fn proofs_show_no_token_and_debug_is_redacted() {
        let key = DpopKey::generate();
        let target = url("https://a.example/");
        let jwt = key.proof_for(&http::Method::GET, &target, Some("secret-token"), None);
        let jwt = jwt.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{jwt:?}"), "Secret([redacted])");
        let parts = parts(&jwt);
        let text = format!("{:?}{:?}", parts.header, parts.claims);
        assert!(!text.contains("secret-token"), "{text}");
    }
}
