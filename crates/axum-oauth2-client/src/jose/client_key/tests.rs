//! Every algorithm signs and is verified by an independent path: the
//! RustCrypto verifying keys built from the public keys openssl wrote, and,
//! where the algorithm is the same, the crate's RFC 9421 verifier.

use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use rsa::signature::Verifier as _;
use serde_json::json;
use sha2::{Sha256, Sha384, Sha512};

use super::*;
use crate::http_signature::{Algorithm, VerificationKey};

const RSA: &str = include_str!("../testdata/rsa-2048.pem");
const RSA_PUB: &str = include_str!("../testdata/rsa-2048.pub.pem");
const RSA_CERT: &str = include_str!("../testdata/rsa-2048.cert.pem");
const RSA_1024: &str = include_str!("../testdata/rsa-1024.pem");
const OTHER_RSA_CERT: &str = include_str!("../testdata/rsa-other.cert.pem");
const P256: &str = include_str!("../testdata/ec-p256.pem");
const P256_PUB: &str = include_str!("../testdata/ec-p256.pub.pem");
const P256_CERT: &str = include_str!("../testdata/ec-p256.cert.pem");
const P384: &str = include_str!("../testdata/ec-p384.pem");
const P384_PUB: &str = include_str!("../testdata/ec-p384.pub.pem");
const ED25519: &str = include_str!("../testdata/ed25519.pem");
const ED25519_PUB: &str = include_str!("../testdata/ed25519.pub.pem");

/// Thumbprints of the certificates, computed with
/// `openssl x509 -outform DER | openssl dgst -sha256|-sha1 -binary`, base64url.
const RSA_CERT_X5T_S256: &str = "LHhsQJ-I68-QjTOtRs6vhK8A1LeMGYSQnCqicnuWLFk";
const RSA_CERT_X5T: &str = "NlnddWYs3c2zLzhONOc8F4r8Neo";
const P256_CERT_X5T_S256: &str = "hSsg1bLH2XBY0FcKdghZ6UyuTGwYUZ22XtrdB7Up6RQ";

/// 40 base64 characters from the middle of each private key, which no
/// output may contain.
fn fragments() -> Vec<&'static str> {
    [RSA, P256, P384, ED25519]
        .into_iter()
        .map(|pem| {
            let body = pem.lines().nth(1).unwrap_or_default();
            &body[body.len().saturating_sub(40)..]
        })
        .collect()
}

fn b64(text: &str) -> Vec<u8> {
    BASE64URL.decode(text).unwrap_or_default()
}

/// The decoded parts of a compact JWS.
struct Parts {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

fn parts(jwt: &Secret) -> Parts {
    let jwt = jwt.expose_secret();
    let segments: Vec<&str> = jwt.split('.').collect();
    assert_eq!(segments.len(), 3, "{jwt}");
    let json = |segment: &str| serde_json::from_slice(&b64(segment)).unwrap_or_default();
    Parts {
        header: json(segments[0]),
        claims: json(segments[1]),
        signing_input: format!("{}.{}", segments[0], segments[1]),
        signature: b64(segments[2]),
    }
}

fn header_of(key: &ClientKey) -> Map<String, Value> {
    serde_json::from_slice(&b64(&key.header)).unwrap_or_default()
}

fn claims() -> Map<String, Value> {
    let value = json!({"iss": "client-1", "sub": "client-1", "aud": "https://idp/token", "exp": 2});
    value.as_object().cloned().unwrap_or_default()
}

fn load(text: &str, alg: JwsAlgorithm) -> ClientKey {
    ClientKey::from_pem_or_jwk(text, Some(alg))
        .unwrap_or_else(|e| panic!("{alg}: {e}"))
        .key_id("k1")
}

/// Signs the test claims and checks the header and payload that came back.
fn sign(key: &ClientKey) -> Parts {
    let jwt = key
        .sign_jwt(&claims())
        .unwrap_or_else(|e| panic!("{}: {e}", key.algorithm()));
    let parts = parts(&jwt);
    assert_eq!(
        Value::Object(parts.header.clone()),
        json!({"alg": key.algorithm().as_str(), "typ": "JWT", "kid": "k1"})
    );
    assert_eq!(parts.claims, claims());
    parts
}

fn rsa_public() -> rsa::PublicKey {
    rsa::PublicKey::from_public_key_pem(RSA_PUB).unwrap_or_else(|e| panic!("{e}"))
}

fn verify_9421(algorithm: Algorithm, public: &str, parts: &Parts) -> bool {
    VerificationKey::from_pem_or_jwk(algorithm, public)
        .map(|key| key.verify(parts.signing_input.as_bytes(), &parts.signature))
        .unwrap_or(false)
}

#[test]
fn rs256_rs384_rs512_are_pkcs1_v1_5_signatures() {
    let public = rsa_public();
    let check = |alg, verified: &dyn Fn(&Parts) -> bool| {
        let parts = sign(&load(RSA, alg));
        assert_eq!(parts.signature.len(), 256, "{alg}");
        assert!(verified(&parts), "{alg}");
    };
    check(JwsAlgorithm::RS256, &|p| {
        let sig = rsa::pkcs1v15::Signature::try_from(p.signature.as_slice());
        let key = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public.clone());
        sig.is_ok_and(|sig| key.verify(p.signing_input.as_bytes(), &sig).is_ok())
            && verify_9421(Algorithm::RsaV15Sha256, RSA_PUB, p)
    });
    check(JwsAlgorithm::RS384, &|p| {
        let sig = rsa::pkcs1v15::Signature::try_from(p.signature.as_slice());
        let key = rsa::pkcs1v15::VerifyingKey::<Sha384>::new(public.clone());
        sig.is_ok_and(|sig| key.verify(p.signing_input.as_bytes(), &sig).is_ok())
    });
    check(JwsAlgorithm::RS512, &|p| {
        let sig = rsa::pkcs1v15::Signature::try_from(p.signature.as_slice());
        let key = rsa::pkcs1v15::VerifyingKey::<Sha512>::new(public.clone());
        sig.is_ok_and(|sig| key.verify(p.signing_input.as_bytes(), &sig).is_ok())
    });
}

#[test]
fn ps256_is_pss_with_sha256_and_a_32_byte_salt() {
    let parts = sign(&load(RSA, JwsAlgorithm::PS256));
    let sig = rsa::pss::Signature::try_from(parts.signature.as_slice());
    let sig = sig.unwrap_or_else(|e| panic!("{e}"));
    let input = parts.signing_input.as_bytes();
    let salted = |len| rsa::pss::VerifyingKey::<Sha256>::new_with_salt_len(rsa_public(), len);
    assert!(salted(32).verify(input, &sig).is_ok());
    assert!(salted(64).verify(input, &sig).is_err());
    let sha512 = rsa::pss::VerifyingKey::<Sha512>::new_with_salt_len(rsa_public(), 32);
    assert!(sha512.verify(input, &sig).is_err());
}

#[test]
fn ps384_and_ps512_salt_with_the_hash_length() {
    let parts = sign(&load(RSA, JwsAlgorithm::PS384));
    let sig = rsa::pss::Signature::try_from(parts.signature.as_slice());
    let key = rsa::pss::VerifyingKey::<Sha384>::new_with_salt_len(rsa_public(), 48);
    assert!(sig.is_ok_and(|sig| key.verify(parts.signing_input.as_bytes(), &sig).is_ok()));

    let parts = sign(&load(RSA, JwsAlgorithm::PS512));
    let sig = rsa::pss::Signature::try_from(parts.signature.as_slice());
    let key = rsa::pss::VerifyingKey::<Sha512>::new_with_salt_len(rsa_public(), 64);
    assert!(sig.is_ok_and(|sig| key.verify(parts.signing_input.as_bytes(), &sig).is_ok()));
}

#[test]
fn es256_is_a_64_byte_r_s_signature_on_p256() {
    let parts = sign(&load(P256, JwsAlgorithm::ES256));
    assert_eq!(parts.signature.len(), 64);
    let key = p256::ecdsa::VerifyingKey::from_public_key_pem(P256_PUB);
    let key = key.unwrap_or_else(|e| panic!("{e}"));
    let sig = p256::ecdsa::Signature::from_slice(&parts.signature);
    assert!(sig.is_ok_and(|sig| key.verify(parts.signing_input.as_bytes(), &sig).is_ok()));
    assert!(verify_9421(Algorithm::EcdsaP256Sha256, P256_PUB, &parts));
}

#[test]
fn es384_is_a_96_byte_r_s_signature_on_p384() {
    let parts = sign(&load(P384, JwsAlgorithm::ES384));
    assert_eq!(parts.signature.len(), 96);
    let key = p384::ecdsa::VerifyingKey::from_public_key_pem(P384_PUB);
    let key = key.unwrap_or_else(|e| panic!("{e}"));
    let sig = p384::ecdsa::Signature::from_slice(&parts.signature);
    assert!(sig.is_ok_and(|sig| key.verify(parts.signing_input.as_bytes(), &sig).is_ok()));
    assert!(verify_9421(Algorithm::EcdsaP384Sha384, P384_PUB, &parts));
}

#[test]
fn eddsa_is_an_ed25519_signature() {
    let parts = sign(&load(ED25519, JwsAlgorithm::EdDSA));
    assert_eq!(parts.signature.len(), 64);
    let key = ed25519_dalek::VerifyingKey::from_public_key_pem(ED25519_PUB);
    let key = key.unwrap_or_else(|e| panic!("{e}"));
    let sig = ed25519_dalek::Signature::from_slice(&parts.signature);
    assert!(sig.is_ok_and(|sig| {
        key.verify_strict(parts.signing_input.as_bytes(), &sig)
            .is_ok()
    }));
    assert!(verify_9421(Algorithm::Ed25519, ED25519_PUB, &parts));
}

#[test]
fn hs256_hs384_hs512_are_hmacs_of_the_signing_input() {
    let secret = [0x6b_u8; 64];
    for alg in [
        JwsAlgorithm::HS256,
        JwsAlgorithm::HS384,
        JwsAlgorithm::HS512,
    ] {
        let key = ClientKey::hmac(&secret, alg)
            .unwrap_or_else(|e| panic!("{e}"))
            .key_id("k1");
        let parts = sign(&key);
        let input = parts.signing_input.as_bytes();
        let expected = match alg {
            JwsAlgorithm::HS256 => Hmac::<Sha256>::new_from_slice(&secret)
                .map(|mac| mac.chain_update(input).finalize().into_bytes().to_vec()),
            JwsAlgorithm::HS384 => Hmac::<Sha384>::new_from_slice(&secret)
                .map(|mac| mac.chain_update(input).finalize().into_bytes().to_vec()),
            _ => Hmac::<Sha512>::new_from_slice(&secret)
                .map(|mac| mac.chain_update(input).finalize().into_bytes().to_vec()),
        };
        assert_eq!(expected.ok(), Some(parts.signature.clone()), "{alg}");
        assert_eq!(parts.signature.len(), alg.hash_len());
        if alg == JwsAlgorithm::HS256 {
            let key = VerificationKey::hmac_sha256(&secret).unwrap_or_else(|e| panic!("{e}"));
            assert!(key.verify(input, &parts.signature));
        }
    }
}

#[test]
fn the_key_decides_the_algorithm_when_none_is_given() -> Result<(), KeyError> {
    for (text, alg) in [
        (P256, JwsAlgorithm::ES256),
        (P384, JwsAlgorithm::ES384),
        (ED25519, JwsAlgorithm::EdDSA),
        (RSA, JwsAlgorithm::RS256),
    ] {
        let key = ClientKey::from_pem_or_jwk(text, None)?;
        assert_eq!(key.algorithm(), alg);
        assert_eq!(key.kid(), None);
        assert_eq!(
            header_of(&key),
            json!({"alg": alg.as_str(), "typ": "JWT"})
                .as_object()
                .cloned()
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn ed25519_jwk(extra: &str) -> String {
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(ED25519).unwrap_or_else(|e| panic!("{e}"));
    format!(
        r#"{{"kty":"OKP","crv":"Ed25519","d":"{}","x":"{}"{extra}}}"#,
        BASE64URL.encode(key.to_bytes()),
        BASE64URL.encode(key.verifying_key().to_bytes()),
    )
}

#[test]
fn a_jwk_gives_its_kid_and_alg() -> Result<(), KeyError> {
    let key = ClientKey::from_pem_or_jwk(&ed25519_jwk(r#","kid":"ed-1","alg":"EdDSA""#), None)?;
    assert_eq!(
        (key.algorithm(), key.kid()),
        (JwsAlgorithm::EdDSA, Some("ed-1"))
    );
    let key = key.key_id("override");
    assert_eq!(key.kid(), Some("override"));
    assert_eq!(header_of(&key)["kid"], "override");

    let oct = format!(
        r#"{{"kty":"oct","k":"{}","alg":"HS512","kid":"shared"}}"#,
        BASE64URL.encode([9_u8; 64])
    );
    let key = ClientKey::from_pem_or_jwk(&oct, None)?;
    assert_eq!(
        (key.algorithm(), key.kid()),
        (JwsAlgorithm::HS512, Some("shared"))
    );
    let oct = format!(r#"{{"kty":"oct","k":"{}"}}"#, BASE64URL.encode([9_u8; 32]));
    assert_eq!(
        ClientKey::from_pem_or_jwk(&oct, None)?.algorithm(),
        JwsAlgorithm::HS256
    );
    Ok(())
}

#[test]
fn a_jwk_alg_that_disagrees_or_is_unknown_is_refused() {
    let err =
        ClientKey::from_pem_or_jwk(&ed25519_jwk(r#","alg":"EdDSA""#), Some(JwsAlgorithm::ES256))
            .err();
    assert_eq!(
        err,
        Some(KeyError::JwkAlgorithmConflict {
            requested: JwsAlgorithm::ES256,
            declared: JwsAlgorithm::EdDSA
        })
    );
    let err = ClientKey::from_pem_or_jwk(&ed25519_jwk(r#","alg":"Ed448""#), None).err();
    assert_eq!(err.map(|e| e.code()), Some("unknown_algorithm"));
    let err = ClientKey::from_pem_or_jwk(&ed25519_jwk(r#","kid":7"#), None).err();
    assert_eq!(err.map(|e| e.code()), Some("malformed_key"));
}

#[test]
fn a_key_that_does_not_fit_the_algorithm_is_refused() {
    use crate::http_signature::KeyType;
    let cases = [
        (P256, JwsAlgorithm::RS256, KeyType::EcP256),
        (P256, JwsAlgorithm::ES384, KeyType::EcP256),
        (P384, JwsAlgorithm::ES256, KeyType::EcP384),
        (ED25519, JwsAlgorithm::HS256, KeyType::Ed25519),
        (RSA, JwsAlgorithm::ES256, KeyType::Rsa),
        (RSA, JwsAlgorithm::EdDSA, KeyType::Rsa),
    ];
    for (text, algorithm, found) in cases {
        let err = ClientKey::from_pem_or_jwk(text, Some(algorithm)).err();
        assert_eq!(err, Some(KeyError::TypeMismatch { algorithm, found }));
    }
    let err = ClientKey::hmac(&[1; 64], JwsAlgorithm::RS256).err();
    assert_eq!(err.map(|e| e.code()), Some("key_type_mismatch"));
}

#[test]
fn weak_keys_and_public_keys_are_refused() {
    let err = ClientKey::from_pem_or_jwk(RSA_1024, None).err();
    assert_eq!(err.map(|e| e.code()), Some("weak_key"));
    let err = ClientKey::from_pem_or_jwk(RSA_1024, Some(JwsAlgorithm::PS256)).err();
    assert_eq!(err.map(|e| e.code()), Some("weak_key"));
    for (alg, len) in [
        (JwsAlgorithm::HS256, 31),
        (JwsAlgorithm::HS384, 47),
        (JwsAlgorithm::HS512, 63),
    ] {
        let err = ClientKey::hmac(&vec![7; len], alg).err();
        assert_eq!(err.map(|e| e.code()), Some("weak_key"), "{alg}");
        assert!(ClientKey::hmac(&vec![7; len + 1], alg).is_ok(), "{alg}");
    }
    for public in [RSA_PUB, P256_PUB, P384_PUB, ED25519_PUB] {
        let err = ClientKey::from_pem_or_jwk(public, None).err();
        assert_eq!(err.map(|e| e.code()), Some("public_key_for_signing"));
    }
}

#[test]
fn a_matching_certificate_adds_its_thumbprints() -> Result<(), KeyError> {
    let key = load(RSA, JwsAlgorithm::RS256).certificate_pem(RSA_CERT)?;
    let expected =
        json!({"alg": "RS256", "typ": "JWT", "kid": "k1", "x5t#S256": RSA_CERT_X5T_S256});
    assert_eq!(Value::Object(header_of(&key)), expected);

    let key = key.with_x5t(true);
    let mut expected = expected;
    expected["x5t"] = Value::from(RSA_CERT_X5T);
    assert_eq!(Value::Object(header_of(&key)), expected);
    // The header is the one signed.
    let jwt = key
        .sign_jwt(&claims())
        .map_err(|_| KeyError::CertificateMismatch)?;
    assert_eq!(Value::Object(parts(&jwt).header), expected);

    // Order does not matter, and other algorithms use the certificate too.
    let key = ClientKey::from_pem_or_jwk(P256, None)?
        .with_x5t(true)
        .certificate_pem(P256_CERT)?;
    assert_eq!(header_of(&key)["x5t#S256"], P256_CERT_X5T_S256);
    assert!(header_of(&key).contains_key("x5t"));
    let ps = load(RSA, JwsAlgorithm::PS256).certificate_pem(RSA_CERT)?;
    assert_eq!(header_of(&ps)["x5t#S256"], RSA_CERT_X5T_S256);
    Ok(())
}

#[test]
fn a_certificate_for_another_key_is_refused() {
    let rsa = load(RSA, JwsAlgorithm::RS256);
    for cert in [OTHER_RSA_CERT, P256_CERT] {
        let err = rsa.clone().certificate_pem(cert).err();
        assert_eq!(err, Some(KeyError::CertificateMismatch));
        assert_eq!(KeyError::CertificateMismatch.code(), "certificate_mismatch");
    }
    let p256 = load(P256, JwsAlgorithm::ES256);
    assert_eq!(
        p256.certificate_pem(RSA_CERT).err(),
        Some(KeyError::CertificateMismatch)
    );
    let hmac = ClientKey::hmac(&[3; 32], JwsAlgorithm::HS256).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        hmac.certificate_pem(RSA_CERT).err(),
        Some(KeyError::CertificateMismatch)
    );
    let err = rsa.certificate_pem(RSA).err();
    assert_eq!(err.map(|e| e.code()), Some("malformed_certificate"));
}

#[test]
fn debug_and_errors_show_no_key_material() {
    let keys = [
        load(RSA, JwsAlgorithm::PS256),
        load(P256, JwsAlgorithm::ES256),
        load(P384, JwsAlgorithm::ES384),
        load(ED25519, JwsAlgorithm::EdDSA),
        ClientKey::hmac(&[0xAB; 48], JwsAlgorithm::HS384).unwrap_or_else(|e| panic!("{e}")),
    ];
    for key in &keys {
        let shown = format!("{key:?}");
        assert!(
            shown.contains("[redacted]") && shown.contains(key.algorithm().as_str()),
            "{shown}"
        );
        for fragment in fragments() {
            assert!(!shown.contains(fragment), "{shown}");
        }
        assert!(
            !shown.to_ascii_lowercase().contains("ab, ab") && !shown.contains("171"),
            "{shown}"
        );
    }
    assert_eq!(
        format!("{:?}", keys[1]),
        r#"ClientKey { algorithm: "ES256", kid: Some("k1"), key: "[redacted]" }"#
    );

    // A key with its body cut short: the error names the problem only.
    for text in [RSA, P256, P384, ED25519] {
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(1);
        let err = ClientKey::from_pem_or_jwk(&lines.join("\n"), None).err();
        let shown = err.map(|e| format!("{e} {e:?}")).unwrap_or_default();
        assert!(!shown.is_empty());
        for fragment in fragments() {
            assert!(!shown.contains(fragment), "{shown}");
        }
    }
    let jwt = keys[3]
        .sign_jwt(&claims())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(format!("{jwt:?}"), "Secret([redacted])");
}

#[test]
fn clones_share_the_key_and_sign_alike() -> Result<(), JwsError> {
    let key = load(ED25519, JwsAlgorithm::EdDSA);
    let clone = key.clone();
    assert!(Arc::ptr_eq(&key.key, &clone.key));
    // Ed25519 is deterministic.
    assert_eq!(
        key.sign_jwt(&claims())?.expose_secret(),
        clone.sign_jwt(&claims())?.expose_secret()
    );
    Ok(())
}
