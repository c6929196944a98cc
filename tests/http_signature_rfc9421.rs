//! RFC 9421 Appendix B test vectors, tampering, and end-to-end behaviour of
//! the signer, the verifier and the axum layer.

use std::error::Error;
use std::time::Duration;

use axum::routing::post;
use axum::{Extension, Router};
use axum_oauth2_client::http_signature::{
    Algorithm, ComponentId, DigestAlgorithm, InMemoryKeyResolver, MessageSigner,
    SignatureVerificationLayer, Signer, SigningKey, UnixClock, VerificationKey, VerifiedSignature,
    Verifier, VerifyErrorKind,
};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use tower::ServiceExt as _;

type TestResult = Result<(), Box<dyn Error>>;

/// `created` of every Appendix B signature.
const CREATED: u64 = 1_618_884_473;

const RSA_PSS_PRIVATE: &str = include_str!("fixtures/rfc9421/test-key-rsa-pss.pem");
const RSA_PSS_PUBLIC: &str = include_str!("fixtures/rfc9421/test-key-rsa-pss.pub.pem");
const RSA_PRIVATE: &str = include_str!("fixtures/rfc9421/test-key-rsa.pem");
const RSA_PUBLIC: &str = include_str!("fixtures/rfc9421/test-key-rsa.pub.pem");
const P256_PRIVATE: &str = include_str!("fixtures/rfc9421/test-key-ecc-p256.pem");
const P256_PUBLIC: &str = include_str!("fixtures/rfc9421/test-key-ecc-p256.pub.pem");
const ED25519_PRIVATE: &str = include_str!("fixtures/rfc9421/test-key-ed25519.pem");
const ED25519_PUBLIC: &str = include_str!("fixtures/rfc9421/test-key-ed25519.pub.pem");
const SHARED_SECRET: &str = include_str!("fixtures/rfc9421/test-shared-secret.b64");
const P384_PRIVATE: &str = include_str!("fixtures/interop-keys/ecc-p384.pem");

const REQUEST_DIGEST: &str = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";

/// The `test-request` of RFC 9421 Appendix B.2.
fn test_request() -> Result<Request<Bytes>, http::Error> {
    Request::post("/foo?param=Value&Pet=dog")
        .header("host", "example.com")
        .header("date", "Tue, 20 Apr 2021 02:07:55 GMT")
        .header("content-type", "application/json")
        .header("content-digest", REQUEST_DIGEST)
        .header("content-length", "18")
        .body(Bytes::from_static(br#"{"hello": "world"}"#))
}

/// The `test-response` of RFC 9421 Appendix B.2.
fn test_response() -> Result<Response<Bytes>, http::Error> {
    Response::builder()
        .status(200)
        .header("date", "Tue, 20 Apr 2021 02:07:56 GMT")
        .header("content-type", "application/json")
        .header(
            "content-digest",
            "sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:",
        )
        .header("content-length", "23")
        .body(Bytes::from_static(br#"{"message": "good dog"}"#))
}

fn rfc_resolver() -> Result<InMemoryKeyResolver, Box<dyn Error>> {
    Ok(InMemoryKeyResolver::new()
        .with_key(
            "test-key-rsa-pss",
            VerificationKey::from_pem_or_jwk(Algorithm::RsaPssSha512, RSA_PSS_PUBLIC)?,
        )
        .with_key(
            "test-key-rsa",
            VerificationKey::from_pem_or_jwk(Algorithm::RsaV15Sha256, RSA_PUBLIC)?,
        )
        .with_key(
            "test-key-ecc-p256",
            VerificationKey::from_pem_or_jwk(Algorithm::EcdsaP256Sha256, P256_PUBLIC)?,
        )
        .with_key(
            "test-key-ed25519",
            VerificationKey::from_pem_or_jwk(Algorithm::Ed25519, ED25519_PUBLIC)?,
        )
        .with_key(
            "test-shared-secret",
            VerificationKey::from_pem_or_jwk(Algorithm::HmacSha256, SHARED_SECRET)?,
        ))
}

/// A verifier with the Appendix B policy: the vectors cover no common set of
/// components, so none is required, and only B.2.1 has a nonce, so none is
/// required either (the documented opt-out); the clock reads `now`.
fn vector_verifier(now: u64) -> Result<Verifier, Box<dyn Error>> {
    Ok(Verifier::builder(rfc_resolver()?)
        .required_components(vec![])
        .required_response_components(vec![])
        .require_content_digest(false)
        .require_nonce(false)
        .clock(UnixClock::fixed(now))
        .build())
}

fn with_signature(
    mut request: Request<Bytes>,
    input: &str,
    signature: &str,
) -> Result<Request<Bytes>, Box<dyn Error>> {
    request
        .headers_mut()
        .insert("signature-input", HeaderValue::from_str(input)?);
    request
        .headers_mut()
        .insert("signature", HeaderValue::from_str(signature)?);
    Ok(request)
}

fn header<'a, B>(request: &'a Request<B>, name: &str) -> &'a str {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

struct Vector {
    label: &'static str,
    input: &'static str,
    signature: &'static str,
    base: &'static str,
}

const B21: Vector = Vector {
    label: "sig-b21",
    input: r#"sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd""#,
    signature: "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:",
    base: r#""@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd""#,
};

const B22: Vector = Vector {
    label: "sig-b22",
    input: r#"sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example""#,
    signature: "sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:",
    base: concat!(
        "\"@authority\": example.com\n",
        "\"content-digest\": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\n",
        "\"@query-param\";name=\"Pet\": dog\n",
        "\"@signature-params\": (\"@authority\" \"content-digest\" \"@query-param\";name=\"Pet\");created=1618884473;keyid=\"test-key-rsa-pss\";tag=\"header-example\"",
    ),
};

const B23: Vector = Vector {
    label: "sig-b23",
    input: r#"sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss""#,
    signature: "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:",
    base: concat!(
        "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n",
        "\"@method\": POST\n",
        "\"@path\": /foo\n",
        "\"@query\": ?param=Value&Pet=dog\n",
        "\"@authority\": example.com\n",
        "\"content-type\": application/json\n",
        "\"content-digest\": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\n",
        "\"content-length\": 18\n",
        "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@query\" \"@authority\" \"content-type\" \"content-digest\" \"content-length\");created=1618884473;keyid=\"test-key-rsa-pss\"",
    ),
};

const B25: Vector = Vector {
    label: "sig-b25",
    input: r#"sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret""#,
    signature: "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:",
    base: concat!(
        "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n",
        "\"@authority\": example.com\n",
        "\"content-type\": application/json\n",
        "\"@signature-params\": (\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\"",
    ),
};

const B26: Vector = Vector {
    label: "sig-b26",
    input: r#"sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#,
    signature: "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:",
    base: concat!(
        "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n",
        "\"@method\": POST\n",
        "\"@path\": /foo\n",
        "\"@authority\": example.com\n",
        "\"content-type\": application/json\n",
        "\"content-length\": 18\n",
        "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"",
    ),
};

const B24_INPUT: &str = r#"sig-b24=("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256""#;
const B24_SIGNATURE: &str = "sig-b24=:wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw==:";

fn components_of(vector: &Vector) -> Result<Vec<ComponentId>, Box<dyn Error>> {
    let list = vector
        .input
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(list, _)| list)
        .ok_or("vector input has no inner list")?;
    Ok(ComponentId::parse_list(list)?)
}

#[tokio::test]
async fn appendix_b2_request_signatures_verify_and_bases_match_the_rfc() -> TestResult {
    let verifier = vector_verifier(CREATED)?;
    for vector in [&B21, &B22, &B23, &B25, &B26] {
        let request = with_signature(test_request()?, vector.input, vector.signature)?;
        assert_eq!(
            verifier.signature_base(&request, vector.label)?,
            vector.base,
            "{}",
            vector.label
        );
        let verified = verifier.verify(&request).await;
        assert!(verified.is_ok(), "{}: {verified:?}", vector.label);
    }
    Ok(())
}

#[tokio::test]
async fn appendix_b2_4_response_signature_verifies() -> TestResult {
    let verifier = vector_verifier(CREATED)?;
    let mut response = test_response()?;
    response
        .headers_mut()
        .insert("signature-input", HeaderValue::from_static(B24_INPUT));
    response
        .headers_mut()
        .insert("signature", HeaderValue::from_static(B24_SIGNATURE));
    let verified = verifier
        .verify_response(&response, None::<&Request<()>>)
        .await?;
    assert_eq!(verified.algorithm(), Algorithm::EcdsaP256Sha256);
    // The published Content-Digest matches the published body.
    *response.status_mut() = StatusCode::NOT_FOUND;
    let tampered = verifier
        .verify_response(&response, None::<&Request<()>>)
        .await;
    assert_eq!(
        tampered.map_err(|e| e.kind()).err(),
        Some(VerifyErrorKind::InvalidSignature)
    );
    Ok(())
}

/// B.2.5 (HMAC) and B.2.6 (Ed25519) are deterministic: the signer must
/// reproduce the published fields byte for byte.
#[test]
fn appendix_b2_5_and_b2_6_are_reproduced_exactly() -> TestResult {
    for (vector, key) in [
        (
            &B25,
            SigningKey::from_pem_or_jwk(Algorithm::HmacSha256, SHARED_SECRET)?,
        ),
        (
            &B26,
            SigningKey::from_pem_or_jwk(Algorithm::Ed25519, ED25519_PRIVATE)?,
        ),
    ] {
        let keyid = if vector.label == "sig-b25" {
            "test-shared-secret"
        } else {
            "test-key-ed25519"
        };
        let signer = MessageSigner::new(key)
            .label(vector.label)
            .key_id(keyid)
            .components(components_of(vector)?)
            .alg_parameter(false)
            .nonce(false)
            .clock(UnixClock::fixed(CREATED));
        let mut request = test_request()?;
        signer.sign_http_request(&mut request)?;
        assert_eq!(header(&request, "signature-input"), vector.input);
        assert_eq!(header(&request, "signature"), vector.signature);
    }
    Ok(())
}

/// B.2.1–B.2.3 use RSA-PSS and B.2.4 ECDSA (randomised in the RFC): the
/// signer reproduces the published Signature-Input and its own signature
/// verifies.
#[tokio::test]
async fn appendix_b2_randomised_vectors_round_trip() -> TestResult {
    let verifier = vector_verifier(CREATED)?;
    let pss = SigningKey::from_pem_or_jwk(Algorithm::RsaPssSha512, RSA_PSS_PRIVATE)?;
    for vector in [&B22, &B23] {
        let mut signer = MessageSigner::new(pss.clone())
            .label(vector.label)
            .key_id("test-key-rsa-pss")
            .components(components_of(vector)?)
            .alg_parameter(false)
            .nonce(false)
            .content_digest(DigestAlgorithm::Sha512)
            .clock(UnixClock::fixed(CREATED));
        if vector.label == "sig-b22" {
            signer = signer.tag("header-example");
        }
        let mut request = test_request()?;
        signer.sign_http_request(&mut request)?;
        assert_eq!(header(&request, "signature-input"), vector.input);
        assert_eq!(header(&request, "content-digest"), REQUEST_DIGEST);
        assert_ne!(
            header(&request, "signature"),
            vector.signature,
            "PSS is randomised"
        );
        verifier.verify(&request).await?;
    }

    // B.2.1 with a fresh random nonce in place of the published one.
    let signer = MessageSigner::new(pss)
        .label("sig-b21")
        .key_id("test-key-rsa-pss")
        .components(vec![])
        .alg_parameter(false)
        .nonce(true)
        .clock(UnixClock::fixed(CREATED));
    let mut request = test_request()?;
    signer.sign_http_request(&mut request)?;
    assert!(
        header(&request, "signature-input")
            .starts_with(r#"sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce=""#)
    );
    verifier.verify(&request).await?;

    // B.2.4: sign the test response with the P-256 key.
    let signer = MessageSigner::from_config(
        "ecdsa-p256-sha256",
        P256_PRIVATE,
        Some("test-key-ecc-p256"),
        None,
    )?
    .label("sig-b24")
    .components(ComponentId::parse_list(
        "@status content-type content-digest content-length",
    )?)
    .alg_parameter(false)
    .nonce(false)
    .content_digest(DigestAlgorithm::Sha512)
    .clock(UnixClock::fixed(CREATED));
    let mut response = test_response()?;
    signer.sign_http_response(&mut response, None::<&Request<()>>)?;
    assert_eq!(header_of_response(&response, "signature-input"), B24_INPUT);
    verifier
        .verify_response(&response, None::<&Request<()>>)
        .await?;
    Ok(())
}

fn header_of_response<'a>(response: &'a Response<Bytes>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// RFC 9421 §4.3: a proxy signs over another signature (`;key`) with
/// `rsa-v1_5-sha256` and the `test-key-rsa` key (unequal prime sizes).
#[tokio::test]
async fn section_4_3_proxy_signature_over_signature_member_verifies() -> TestResult {
    let request = Request::post("/foo?param=Value&Pet=dog")
        .header("host", "origin.host.internal.example")
        .header("date", "Tue, 20 Apr 2021 02:07:56 GMT")
        .header("content-type", "application/json")
        .header("content-digest", REQUEST_DIGEST)
        .header("content-length", "18")
        .header("forwarded", "for=192.0.2.123")
        .header(
            "signature-input",
            r#"sig1=("@method" "@authority" "@path" "content-digest" "content-length" "content-type");created=1618884475;keyid="test-key-rsa-pss", proxy_sig=("signature";key="sig1" "forwarded");created=1618884480;expires=1618884540;keyid="test-key-rsa";alg="rsa-v1_5-sha256""#,
        )
        .header(
            "signature",
            "sig1=:LAH8BjcfcOcLojiuOBFWn0P5keD3xAOuJRGziCLuD8r5MW9S0RoXXLzLSRfGY/3SF8kVIkHjE13SEFdTo4Af/fJ/Pu9wheqoLVdwXyY/UkBIS1M8Brc8IODsn5DFIrG0IrburbLi0uCc+E2ZIIb6HbUJ+o+jP58JelMTe0QE3IpWINTEzpxjqDf5/Df+InHCAkQCTuKsamjWXUpyOT1Wkxi7YPVNOjW4MfNuTZ9HdbD2Tr65+BXeTG9ZS/9SWuXAc+BZ8WyPz0QRz//ec3uWXd7bYYODSjRAxHqX+S1ag3LZElYyUKaAIjZ8MGOt4gXEwCSLDv/zqxZeWLj/PDkn6w==:, proxy_sig=:G1WLTL4/9PGSKEQbSAMypZNk+I2dpLJ6qvl2JISahlP31OO/QEUd8/HdO2O7vYLi5k3JIiAK3UPK4U+kvJZyIUidsiXlzRI+Y2se3SGo0D8dLfhG95bKr6ukYXl60QHpsGRTfSiwdtvYKXGpKNrMlISJYd+oGrGRyI9gbCy0aFhc6I/okIMLeK4g9PgzpC3YTwhUQ98KIBNLWHgREfBgJxjPbxFlsgJ9ykPviLj8GKJ81HwsK3XM9P7WaS7fMGOt8h1kSqgkZQB9YqiIo+WhHvJa7iPy8QrYFKzx9BBEY6AwfStZAsXXz3LobZseyxsYcLJLs8rY0wVA9NPsxKrHGA==:",
        )
        .body(Bytes::from_static(br#"{"hello": "world"}"#))?;
    let verifier = Verifier::builder(rfc_resolver()?)
        .required_components(vec![])
        .require_content_digest(false)
        .require_nonce(false)
        .label("proxy_sig")
        .clock(UnixClock::fixed(1_618_884_480))
        .build();
    let verified = verifier.verify(&request).await?;
    assert_eq!(verified.algorithm(), Algorithm::RsaV15Sha256);

    // The unbalanced B.1.1 private key signs too.
    let signer =
        MessageSigner::from_config("rsa-v1_5-sha256", RSA_PRIVATE, Some("test-key-rsa"), None)?
            .clock(UnixClock::fixed(CREATED));
    let mut request = test_request()?;
    signer.sign_http_request(&mut request)?;
    let strict = Verifier::builder(rfc_resolver()?)
        .clock(UnixClock::fixed(CREATED))
        .build();
    strict.verify(&request).await?;
    Ok(())
}

/// A signer, its verification key and its key id.
type SignerCase = (MessageSigner, VerificationKey, &'static str);

fn all_signers() -> Result<Vec<SignerCase>, Box<dyn Error>> {
    let mut out = Vec::new();
    for (alg, private, id) in [
        ("rsa-pss-sha512", RSA_PSS_PRIVATE, "k-rsa-pss"),
        ("rsa-v1_5-sha256", RSA_PRIVATE, "k-rsa"),
        ("hmac-sha256", SHARED_SECRET, "k-hmac"),
        ("ecdsa-p256-sha256", P256_PRIVATE, "k-p256"),
        ("ecdsa-p384-sha384", P384_PRIVATE, "k-p384"),
        ("ed25519", ED25519_PRIVATE, "k-ed25519"),
    ] {
        let signer = MessageSigner::from_config(alg, private, Some(id), None)?;
        let key = signer.signing_key().verification_key();
        out.push((signer, key, id));
    }
    Ok(out)
}

fn api_request() -> Result<Request<Bytes>, http::Error> {
    Request::post("https://api.example.com/v1/orders?id=7")
        .header("content-type", "application/json")
        .header("authorization", "Bearer token-value")
        .body(Bytes::from_static(br#"{"amount": 100}"#))
}

#[tokio::test]
async fn every_algorithm_round_trips_and_any_tampering_fails() -> TestResult {
    for (signer, key, id) in all_signers()? {
        let signer = signer.expires_in(Duration::from_secs(60)).tag("orders");
        let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key(id, key)).build();
        let mut signed = api_request()?;
        signer.sign_http_request(&mut signed)?;
        let verified = verifier.verify(&signed).await?;
        assert_eq!(verified.key_id(), id);
        assert_eq!(verified.tag(), Some("orders"));
        let covered: Vec<String> = verified
            .covered_components()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            covered,
            [
                r#""@method""#,
                r#""@target-uri""#,
                r#""content-digest""#,
                r#""content-type""#,
                r#""authorization""#
            ]
        );

        type Tamper = fn(&mut Request<Bytes>);
        let tampers: [(&str, Tamper, VerifyErrorKind); 8] = [
            (
                "method",
                |r| *r.method_mut() = http::Method::PUT,
                VerifyErrorKind::InvalidSignature,
            ),
            (
                "uri",
                |r| *r.uri_mut() = http::Uri::from_static("https://api.example.com/v1/orders?id=8"),
                VerifyErrorKind::InvalidSignature,
            ),
            (
                "authority",
                |r| {
                    *r.uri_mut() = http::Uri::from_static("https://evil.example.com/v1/orders?id=7")
                },
                VerifyErrorKind::InvalidSignature,
            ),
            (
                "content-type",
                |r| {
                    r.headers_mut()
                        .insert("content-type", HeaderValue::from_static("text/plain"));
                },
                VerifyErrorKind::InvalidSignature,
            ),
            (
                "authorization",
                |r| {
                    r.headers_mut()
                        .insert("authorization", HeaderValue::from_static("Bearer other"));
                },
                VerifyErrorKind::InvalidSignature,
            ),
            (
                "body",
                |r| *r.body_mut() = Bytes::from_static(br#"{"amount": 900}"#),
                VerifyErrorKind::ContentDigestMismatch,
            ),
            (
                "created",
                |r| {
                    let tampered = r
                        .headers()
                        .get("signature-input")
                        .and_then(|v| v.to_str().ok())
                        .map(|v| {
                            let (before, after) = v.split_once(";created=").unwrap_or((v, ""));
                            let rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
                            format!("{before};created=1000{rest}")
                        });
                    if let Some(value) = tampered.and_then(|t| HeaderValue::from_str(&t).ok()) {
                        r.headers_mut().insert("signature-input", value);
                    }
                },
                VerifyErrorKind::SignatureTooOld,
            ),
            (
                "tag",
                |r| {
                    let tampered = r
                        .headers()
                        .get("signature-input")
                        .and_then(|v| v.to_str().ok())
                        .map(|v| v.replace("tag=\"orders\"", "tag=\"refunds\""));
                    if let Some(value) = tampered.and_then(|t| HeaderValue::from_str(&t).ok()) {
                        r.headers_mut().insert("signature-input", value);
                    }
                },
                VerifyErrorKind::InvalidSignature,
            ),
        ];
        for (what, tamper, expected) in tampers {
            let mut request = signed.clone();
            tamper(&mut request);
            let fresh = Verifier::builder(
                InMemoryKeyResolver::new().with_key(id, signer.signing_key().verification_key()),
            )
            .build();
            let result = fresh.verify(&request).await;
            assert_eq!(
                result.map_err(|e| e.kind()).err(),
                Some(expected),
                "{id}: tampered {what}"
            );
        }

        // The same signed request a second time is a replay of its nonce.
        let replay = verifier.verify(&signed).await;
        assert_eq!(
            replay.map_err(|e| e.kind()).err(),
            Some(VerifyErrorKind::NonceReplayed),
            "{id}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn time_window_checks_use_the_injected_clock() -> TestResult {
    let secret = SHARED_SECRET;
    let key = VerificationKey::from_pem_or_jwk(Algorithm::HmacSha256, secret)?;
    let signer = MessageSigner::from_config("hmac-sha256", secret, Some("k"), None)?
        .expires_in(Duration::from_secs(60))
        .clock(UnixClock::fixed(10_000));
    let mut request = api_request()?;
    signer.sign_http_request(&mut request)?;
    let at = |now: u64| -> Verifier {
        Verifier::builder(InMemoryKeyResolver::new().with_key("k", key.clone()))
            .max_age(Duration::from_secs(300))
            .clock_skew(Duration::from_secs(5))
            .clock(UnixClock::fixed(now))
            .build()
    };
    let kind = |r: Result<VerifiedSignature, axum_oauth2_client::http_signature::VerifyError>| {
        r.map_err(|e| e.kind()).err()
    };
    assert_eq!(kind(at(10_000).verify(&request).await), None);
    assert_eq!(
        kind(at(10_065).verify(&request).await),
        None,
        "within expires + skew"
    );
    assert_eq!(
        kind(at(10_066).verify(&request).await),
        Some(VerifyErrorKind::SignatureExpired)
    );
    assert_eq!(
        kind(at(9_990).verify(&request).await),
        Some(VerifyErrorKind::CreatedInFuture)
    );

    let long_lived = MessageSigner::from_config("hmac-sha256", secret, Some("k"), None)?
        .clock(UnixClock::fixed(10_000));
    let mut request = api_request()?;
    long_lived.sign_http_request(&mut request)?;
    assert_eq!(kind(at(10_305).verify(&request).await), None);
    assert_eq!(
        kind(at(10_306).verify(&request).await),
        Some(VerifyErrorKind::SignatureTooOld)
    );
    Ok(())
}

#[tokio::test]
async fn policy_failures_name_the_check() -> TestResult {
    let secret = SHARED_SECRET;
    let key = VerificationKey::from_pem_or_jwk(Algorithm::HmacSha256, secret)?;
    let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("k", key.clone())).build();
    let kind = |r: Result<VerifiedSignature, axum_oauth2_client::http_signature::VerifyError>| {
        r.map_err(|e| e.kind()).err()
    };

    let bare = MessageSigner::from_config("hmac-sha256", secret, Some("k"), Some("@method"))?;
    let mut request = api_request()?;
    bare.sign_http_request(&mut request)?;
    assert_eq!(
        kind(verifier.verify(&request).await),
        Some(VerifyErrorKind::MissingRequiredComponent)
    );

    let no_digest = MessageSigner::from_config(
        "hmac-sha256",
        secret,
        Some("k"),
        Some("@method @target-uri"),
    )?;
    let mut request = api_request()?;
    no_digest.sign_http_request(&mut request)?;
    assert_eq!(
        kind(verifier.verify(&request).await),
        Some(VerifyErrorKind::MissingRequiredComponent)
    );

    let full = MessageSigner::from_config("hmac-sha256", secret, Some("k"), None)?.nonce(false);
    let mut request = api_request()?;
    full.sign_http_request(&mut request)?;
    assert_eq!(
        kind(verifier.verify(&request).await),
        Some(VerifyErrorKind::MissingNonce)
    );

    let unknown = MessageSigner::from_config("hmac-sha256", secret, Some("who"), None)?;
    let mut request = api_request()?;
    unknown.sign_http_request(&mut request)?;
    assert_eq!(
        kind(verifier.verify(&request).await),
        Some(VerifyErrorKind::UnknownKey)
    );

    let mut request = api_request()?;
    full.clone().nonce(true).sign_http_request(&mut request)?;
    let forged =
        header(&request, "signature-input").replace("alg=\"hmac-sha256\"", "alg=\"ed25519\"");
    request
        .headers_mut()
        .insert("signature-input", HeaderValue::from_str(&forged)?);
    assert_eq!(
        kind(verifier.verify(&request).await),
        Some(VerifyErrorKind::AlgorithmMismatch)
    );

    let request = api_request()?;
    assert_eq!(
        kind(verifier.verify(&request).await),
        Some(VerifyErrorKind::MissingSignature)
    );
    Ok(())
}

#[tokio::test]
async fn signing_twice_with_other_labels_keeps_both_signatures() -> TestResult {
    let mut signers = all_signers()?;
    let (ed_signer, ed_key, _) = signers.pop().ok_or("no signer")?;
    let (p384_signer, p384_key, _) = signers.pop().ok_or("no signer")?;
    let mut request = api_request()?;
    ed_signer.clone().sign_http_request(&mut request)?;
    p384_signer
        .clone()
        .label("proxy")
        .sign_http_request(&mut request)?;
    // Signing again with the same label replaces, never duplicates.
    ed_signer.sign_http_request(&mut request)?;
    let input = header(&request, "signature-input");
    assert!(
        input.starts_with("proxy=(") && input.contains(", sig1=("),
        "{input}"
    );
    for (label, id, key) in [("sig1", "k-ed25519", ed_key), ("proxy", "k-p384", p384_key)] {
        let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key(id, key))
            .label(label)
            .build();
        verifier.verify(&request).await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_signer_trait_signs_reqwest_requests() -> TestResult {
    let signer = MessageSigner::from_config("ed25519", ED25519_PRIVATE, Some("k"), None)?;
    let key = signer.signing_key().verification_key();
    let shared: std::sync::Arc<dyn Signer> = std::sync::Arc::new(signer);
    let mut request = reqwest::Request::new(
        reqwest::Method::POST,
        "https://api.example.com:443/v1/orders?id=7".parse()?,
    );
    request
        .headers_mut()
        .insert("authorization", HeaderValue::from_static("Bearer t"));
    request
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    *request.body_mut() = Some(reqwest::Body::from(r#"{"amount": 100}"#));
    shared.sign(&mut request).await?;
    // A retry signs the rebuilt request again, replacing the signature.
    shared.sign(&mut request).await?;
    assert_eq!(request.headers().get_all("signature").iter().count(), 1);

    let mut incoming = Request::post(request.url().as_str()).body(Bytes::copy_from_slice(
        request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or_default(),
    ))?;
    *incoming.headers_mut() = request.headers().clone();
    let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("k", key)).build();
    verifier.verify(&incoming).await?;
    Ok(())
}

async fn problem(
    app: Router,
    request: Request<axum::body::Body>,
) -> Result<(StatusCode, serde_json::Value), Box<dyn Error>> {
    let response = app.oneshot(request).await?;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
    if status.is_success() {
        return Ok((
            status,
            serde_json::json!({ "body": String::from_utf8_lossy(&body) }),
        ));
    }
    assert_eq!(content_type, "application/problem+json");
    Ok((status, serde_json::from_slice(&body)?))
}

fn layered_app(key: VerificationKey, max_body: usize) -> Router {
    async fn handler(Extension(sig): Extension<VerifiedSignature>, body: Bytes) -> String {
        format!("{} {}", sig.key_id(), String::from_utf8_lossy(&body))
    }
    let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("k", key))
        .scheme("http")
        .max_body_bytes(max_body)
        .build();
    Router::new()
        .route("/orders", post(handler))
        .layer(SignatureVerificationLayer::new(verifier))
}

#[tokio::test]
async fn the_axum_layer_passes_verified_requests_with_their_body() -> TestResult {
    let signer = MessageSigner::from_config("ecdsa-p256-sha256", P256_PRIVATE, Some("k"), None)?;
    let app = layered_app(signer.signing_key().verification_key(), 1024);
    let mut signed = Request::post("http://localhost:3000/orders")
        .header("content-type", "application/json")
        .body(Bytes::from_static(br#"{"amount": 100}"#))?;
    signer.sign_http_request(&mut signed)?;
    let (parts, body) = signed.into_parts();
    let mut request = Request::from_parts(parts, axum::body::Body::from(body));
    // What a server sees: origin-form URI plus Host.
    *request.uri_mut() = http::Uri::from_static("/orders");
    request
        .headers_mut()
        .insert("host", HeaderValue::from_static("localhost:3000"));
    let (status, body) = problem(app, request).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["body"], r#"k {"amount": 100}"#);
    Ok(())
}

#[tokio::test]
async fn the_axum_layer_answers_problems() -> TestResult {
    let signer = MessageSigner::from_config("ed25519", ED25519_PRIVATE, Some("k"), None)?;
    let key = signer.signing_key().verification_key();

    let unsigned = Request::post("/orders")
        .header("host", "localhost")
        .body(axum::body::Body::from("{}"))?;
    let (status, body) = problem(layered_app(key.clone(), 1024), unsigned).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "missing_signature");
    assert_eq!(body["status"], 401);
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "{field}: {body}");
    }

    let garbage = Request::post("/orders")
        .header("host", "localhost")
        .header("signature-input", "sig1=(\"@method\"")
        .header("signature", "sig1=:AAAA:")
        .body(axum::body::Body::from("{}"))?;
    let (status, body) = problem(layered_app(key.clone(), 1024), garbage).await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_signature_input"))
    );

    let mut signed =
        Request::post("http://localhost/orders").body(Bytes::from(vec![b'x'; 2048]))?;
    signer.sign_http_request(&mut signed)?;
    let (parts, body) = signed.into_parts();
    let big = Request::from_parts(parts, axum::body::Body::from(body));
    let (status, body) = problem(layered_app(key, 1024), big).await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    Ok(())
}

mod arbitrary_input {
    use super::*;
    use proptest::prelude::*;

    fn run(input: &str, signature: &str) -> Option<StatusCode> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().ok()?;
        let key = VerificationKey::from_pem_or_jwk(Algorithm::Ed25519, ED25519_PUBLIC).ok()?;
        let mut request = Request::post("/orders").header("host", "localhost");
        if let Ok(value) = HeaderValue::from_str(input) {
            request = request.header("signature-input", value);
        }
        if let Ok(value) = HeaderValue::from_str(signature) {
            request = request.header("signature", value);
        }
        let request = request.body(axum::body::Body::from("{}")).ok()?;
        let app = layered_app(key, 1024);
        runtime.block_on(async { app.oneshot(request).await.ok().map(|r| r.status()) })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_signature_headers_get_400_or_401(
            input in "\\PC{0,160}",
            signature in "\\PC{0,160}",
        ) {
            let status = run(&input, &signature);
            prop_assert!(matches!(status, Some(StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED)), "{status:?}");
        }

        #[test]
        fn structured_looking_signature_headers_get_400_or_401(
            label in "[a-z][a-z0-9]{0,4}",
            components in proptest::collection::vec(r#""[@a-z\-]{1,12}"(;[a-z]{1,4}(="[a-zA-Z]{0,4}")?)?"#, 0..5),
            params in r#"(;(created|expires|keyid|alg|nonce|tag)=("[a-z0-9\-]{0,10}"|-?[0-9]{1,12}|\?[01]|:[A-Za-z0-9+/=]{0,8}:))*"#,
            signature in r#":[A-Za-z0-9+/=]{0,96}:"#,
        ) {
            let input = format!("{label}=({}){params}", components.join(" "));
            let status = run(&input, &format!("{label}={signature}"));
            prop_assert!(matches!(status, Some(StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED)), "{input}: {status:?}");
        }
    }
}

/// The Appendix B keys re-encoded as JWKs load and interoperate with their
/// PEM forms; B.2.6 is reproduced from the JWK private key.
#[tokio::test]
async fn jwk_keys_match_their_pem_forms() -> TestResult {
    let jwk = |name: &str| -> Result<String, std::io::Error> {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/jwk")
                .join(name),
        )
    };
    for (alg, name, pem_public) in [
        ("rsa-pss-sha512", "rsa-pss", RSA_PSS_PUBLIC),
        ("rsa-v1_5-sha256", "rsa", RSA_PUBLIC),
        ("ecdsa-p256-sha256", "ecc-p256", P256_PUBLIC),
        (
            "ecdsa-p384-sha384",
            "ecc-p384",
            include_str!("fixtures/interop-keys/ecc-p384.pub.pem"),
        ),
        ("ed25519", "ed25519", ED25519_PUBLIC),
        ("hmac-sha256", "shared-secret", SHARED_SECRET),
    ] {
        let algorithm: Algorithm = alg.parse()?;
        let private = if name == "shared-secret" {
            jwk("shared-secret.json")?
        } else {
            jwk(&format!("{name}.private.json"))?
        };
        let public = if name == "shared-secret" {
            jwk("shared-secret.json")?
        } else {
            jwk(&format!("{name}.public.json"))?
        };
        let from_jwk = MessageSigner::from_config(alg, &private, Some("k"), None)?;
        let from_pem = MessageSigner::from_config(
            alg,
            match name {
                "rsa-pss" => RSA_PSS_PRIVATE,
                "rsa" => RSA_PRIVATE,
                "ecc-p256" => P256_PRIVATE,
                "ecc-p384" => P384_PRIVATE,
                "ed25519" => ED25519_PRIVATE,
                _ => SHARED_SECRET,
            },
            Some("k"),
            None,
        )?;
        let keys = [
            VerificationKey::from_pem_or_jwk(algorithm, &public)?,
            VerificationKey::from_pem_or_jwk(algorithm, pem_public)?,
        ];
        for signer in [&from_jwk, &from_pem] {
            for key in &keys {
                let mut request = api_request()?;
                signer.sign_http_request(&mut request)?;
                let verifier =
                    Verifier::builder(InMemoryKeyResolver::new().with_key("k", key.clone()))
                        .build();
                verifier
                    .verify(&request)
                    .await
                    .map_err(|e| format!("{alg}: {e}"))?;
            }
        }
    }

    let signer = MessageSigner::new(SigningKey::from_pem_or_jwk(
        Algorithm::Ed25519,
        &jwk("ed25519.private.json")?,
    )?)
    .label("sig-b26")
    .key_id("test-key-ed25519")
    .components(components_of(&B26)?)
    .alg_parameter(false)
    .nonce(false)
    .clock(UnixClock::fixed(CREATED));
    let mut request = test_request()?;
    signer.sign_http_request(&mut request)?;
    assert_eq!(header(&request, "signature"), B26.signature);
    Ok(())
}
